//! Push and pull against a real S3 server (the shared bodies of `slugstore_tests::sync`).
//!
//! This suite needs a server and fails when there is none, rather than passing without testing
//! anything. Start the project's local Ceph RGW and export its settings first:
//!
//! ```sh
//! scripts/rgw.sh install && scripts/rgw.sh start && eval "$(scripts/rgw.sh env)"
//! cargo test -p slugstore-tests --test sync_s3
//! ```

slugstore_tests::sync_tests!(slugstore_tests::s3::s3_remote);
