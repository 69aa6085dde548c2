//! Push and pull against `file://` remotes (the shared bodies of `slugstore_tests::sync`).

use slugstore_tests::backend_conformance::TestRemote;

fn local_remote(_test: &str) -> TestRemote {
    TestRemote::local()
}

slugstore_tests::sync_tests!(local_remote);
