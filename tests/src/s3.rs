//! Connecting tests to a real S3 server.
//!
//! The S3 suites need a server and fail when there is none, rather than passing without testing
//! anything: start the project's local Ceph RGW (`scripts/rgw.sh install && scripts/rgw.sh start &&
//! eval "$(scripts/rgw.sh env)"`), or point `SLUGSTORE_S3_ENDPOINT` (or `AWS_ENDPOINT_URL`),
//! `SLUGSTORE_S3_BUCKET` (an existing bucket) and the AWS credential variables at any S3-compatible
//! store. Each test works under a prefix of its own and deletes what it wrote.

use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use slugstore::remote::backend::{S3Backend, S3Config};

use crate::backend_conformance::TestRemote;

/// How to start the local server, for failure messages.
pub const HOWTO: &str =
    "start the local server with `scripts/rgw.sh install && scripts/rgw.sh start && \
                     eval \"$(scripts/rgw.sh env)\"`";

/// A fresh remote under a prefix of its own in the test bucket; its objects are deleted on drop.
pub fn s3_remote(test: &str) -> TestRemote {
    let bucket = std::env::var("SLUGSTORE_S3_BUCKET").unwrap_or_else(|_| "slugstore-test".into());
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let prefix = format!("tests/{test}-{}-{nanos}", std::process::id());
    TestRemote::shared(Box::new(
        S3Backend::new(s3_config(&bucket, &prefix)).unwrap(),
    ))
}

/// Settings for the test server from the environment; fails the test if there is no server.
pub fn s3_config(bucket: &str, prefix: &str) -> S3Config {
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
