//! The backend conformance tests against a real S3 server.
//!
//! This suite needs a server and fails when there is none, rather than passing without testing
//! anything. Start the project's local Ceph RGW and export its settings first:
//!
//! ```sh
//! scripts/rgw.sh install && scripts/rgw.sh start && eval "$(scripts/rgw.sh env)"
//! cargo test -p slugstore-tests --test s3_backend
//! ```
//!
//! Any S3-compatible store works: set `SLUGSTORE_S3_ENDPOINT` (or `AWS_ENDPOINT_URL`),
//! `SLUGSTORE_S3_BUCKET` (an existing bucket) and the AWS credential variables. Each test works
//! under a prefix of its own and deletes what it wrote.

use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use slugstore::remote::backend::{Backend, S3Backend, S3Config};
use slugstore_tests::backend_conformance::TestRemote;

const HOWTO: &str =
    "start the local server with `scripts/rgw.sh install && scripts/rgw.sh start && \
                     eval \"$(scripts/rgw.sh env)\"`";

fn s3_remote(test: &str) -> TestRemote {
    let bucket = std::env::var("SLUGSTORE_S3_BUCKET").unwrap_or_else(|_| "slugstore-test".into());
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let prefix = format!("conformance/{test}-{}-{nanos}", std::process::id());
    TestRemote::shared(Box::new(
        S3Backend::new(s3_config(&bucket, &prefix)).unwrap(),
    ))
}

/// Settings for the test server from the environment; fails the test if there is no server.
fn s3_config(bucket: &str, prefix: &str) -> S3Config {
    let endpoint = std::env::var("SLUGSTORE_S3_ENDPOINT")
        .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
        .unwrap_or_else(|_| {
            panic!("the S3 tests need a server: SLUGSTORE_S3_ENDPOINT is not set; {HOWTO}")
        });
    assert_reachable(&endpoint);
    let mut config = S3Config::from_env(bucket, prefix).unwrap_or_else(|e| panic!("{e}; {HOWTO}"));
    config.allow_http = endpoint.starts_with("http://");
    config.endpoint = Some(endpoint);
    config.virtual_hosted_style = false;
    config
}

/// Fails the test unless something accepts TCP connections at the endpoint's host and port.
fn assert_reachable(endpoint: &str) {
    let authority = endpoint
        .split("://")
        .nth(1)
        .unwrap_or(endpoint)
        .split('/')
        .next()
        .unwrap_or_default();
    let default_port = if endpoint.starts_with("https://") {
        443
    } else {
        80
    };
    let with_port = if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:{default_port}")
    };
    let reachable = with_port
        .to_socket_addrs()
        .ok()
        .into_iter()
        .flatten()
        .any(|addr| TcpStream::connect_timeout(&addr, Duration::from_secs(3)).is_ok());
    assert!(
        reachable,
        "the S3 tests need a server: nothing answers at {endpoint}; {HOWTO}"
    );
}

slugstore_tests::backend_conformance_tests!(s3_remote);

/// `backend::open` on an `s3://` URL takes endpoint, region and keys from the AWS variables.
#[test]
fn opens_from_url_and_environment() {
    let probe = s3_remote("opens_from_url_and_environment");
    let url = probe.backend.url().clone();
    assert!(
        std::env::var("AWS_ENDPOINT_URL").is_ok(),
        "AWS_ENDPOINT_URL is not set; {HOWTO}"
    );
    let opened = slugstore::remote::backend::open(&url).unwrap();
    assert_eq!(opened.url(), &url);
    opened
        .put("refs/opened", bytes::Bytes::from_static(b"via url"))
        .unwrap();
    assert_eq!(
        probe.backend.get("refs/opened").unwrap().as_deref(),
        Some(&b"via url"[..])
    );
}

/// A bucket that does not exist is an error naming it, not an empty remote.
#[test]
fn missing_bucket_is_an_error() {
    let backend = S3Backend::new(s3_config("no-such-bucket-for-slugstore", "p")).unwrap();
    for result in [
        backend.size("refs/main").map(drop),
        backend.get("refs/main").map(drop),
    ] {
        let err = result.unwrap_err().to_string();
        assert!(err.contains("s3://no-such-bucket-for-slugstore"), "{err}");
    }
}
