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

use slugstore::remote::backend::{Backend, S3Backend};
use slugstore_tests::s3::{s3_config, s3_remote, HOWTO};

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
