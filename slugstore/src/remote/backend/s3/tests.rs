//! The backend's own rules, checked without a server: secrets never printed, keys checked first.
use super::*;

fn config() -> S3Config {
    S3Config {
        bucket: "slugs".into(),
        prefix: "team/a".into(),
        endpoint: Some("http://127.0.0.1:1".into()),
        region: "us-east-1".into(),
        access_key_id: "AKIDEXAMPLE".into(),
        secret_access_key: "wJalrXUtnFEMI-secret-value".into(),
        session_token: Some("session-token-value".into()),
        virtual_hosted_style: false,
        allow_http: true,
    }
}

#[test]
fn secrets_stay_out_of_debug_and_errors() {
    let config = config();
    let shown = format!("{config:?}");
    assert!(
        shown.contains("AKIDEXAMPLE") && shown.contains("team/a"),
        "{shown}"
    );
    assert!(
        !shown.contains("wJalrXUtnFEMI") && !shown.contains("session-token-value"),
        "{shown}"
    );
    let backend = S3Backend::new(config).unwrap();
    let shown = format!("{backend:?}");
    assert!(shown.contains("s3://slugs/team/a"), "{shown}");
    assert!(
        !shown.contains("wJalrXUtnFEMI") && !shown.contains("session-token-value"),
        "{shown}"
    );
    // The endpoint is port 1 where nothing listens: the error names the object and carries
    // no secret.
    let err = backend
        .put("refs/main", Bytes::from_static(b"x"))
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("s3://slugs/team/a/refs/main: "), "{err}");
    assert!(
        !err.contains("wJalrXUtnFEMI") && !err.contains("session-token-value"),
        "{err}"
    );
}

#[test]
fn keys_are_checked_before_any_request() {
    let backend = S3Backend::new(config()).unwrap();
    let err = backend.get("../escape").unwrap_err().to_string();
    assert!(
        err.contains("s3://slugs/team/a") && err.contains("../escape"),
        "{err}"
    );
}
