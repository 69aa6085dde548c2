//! The backend conformance tests on a `file://` remote in a temporary directory.

use slugstore_tests::backend_conformance::TestRemote;

slugstore_tests::backend_conformance_tests!(|_test: &str| TestRemote::local());

/// `backend::open` on a `file://` URL stores under that directory.
#[test]
fn opens_from_url() {
    let scratch = tempfile::tempdir().unwrap();
    let url =
        slugstore::remote::url::RemoteUrl::parse(&format!("file://{}/r", scratch.path().display()))
            .unwrap();
    let backend = slugstore::remote::backend::open(&url).unwrap();
    backend
        .put("refs/main", bytes::Bytes::from_static(b"x"))
        .unwrap();
    assert_eq!(
        std::fs::read(scratch.path().join("r/refs/main")).unwrap(),
        b"x"
    );
}
