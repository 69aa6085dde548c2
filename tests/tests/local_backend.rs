//! The backend conformance tests on a `file://` remote in a temporary directory.

use slugstore_tests::backend_conformance::TestRemote;

slugstore_tests::backend_conformance_tests!(|_test: &str| TestRemote::local());
