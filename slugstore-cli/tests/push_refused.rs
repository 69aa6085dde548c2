//! `slug push` to a remote that refuses uploads slowly ends, promptly, with the refusal: a loopback
//! S3 endpoint answers every PUT with 403 after 3 s, and the slug has many more packs than the
//! uploaders and their queue hold (each file over 8 MiB gets a pack of its own). Such a push used to
//! hang for ever: packs already built waited on a full queue no uploader read any more.

mod proc_support;

use std::time::Duration;

use proc_support::*;
use slugstore::remote::TRANSFERS;
use slugstore_tests::refusing_s3::RefusingS3;

#[test]
fn push_to_a_remote_refusing_uploads_slowly_fails_with_the_refusal() {
    let server = RefusingS3::start(Duration::from_secs(3));
    let dir = tempfile::tempdir().unwrap();
    let (store, tree) = (dir.path().join("store"), dir.path().join("tree"));
    std::fs::create_dir_all(&tree).unwrap();
    // 12 files of 9 MiB, compressible (the packs sent are small), distinct.
    for i in 0..12u8 {
        let mut data = vec![b'x'; 9 << 20];
        data[0] = i;
        std::fs::write(tree.join(format!("big-{i}.bin")), data).unwrap();
    }
    assert!(run(slug(&store).arg("init")).status.success());
    let snap = run(slug(&store).args(["snapshot", "--ref", "app"]).arg(&tree));
    assert!(printed_id(&snap).is_some(), "{snap:?}");
    let add = run(slug(&store).args(["remote", "add", "origin", "s3://bucket/shop"]));
    assert!(add.status.success(), "{add:?}");

    let mut push = slug(&store);
    push.args(["push", "app", "origin"])
        .env("AWS_ENDPOINT_URL", &server.endpoint)
        .env("AWS_ACCESS_KEY_ID", "refused")
        .env("AWS_SECRET_ACCESS_KEY", "refused")
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_ENDPOINT_URL_S3")
        .env_remove("AWS_SESSION_TOKEN");
    let out = run_within(&mut push, Duration::from_secs(120));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("403") || err.contains("Forbidden"), "{err}");
    // One pack and its idx per uploader at most: nothing is sent after the first refusal.
    let puts = server.puts.load(std::sync::atomic::Ordering::SeqCst);
    assert!((1..=2 * TRANSFERS).contains(&puts), "{puts} PUTs");
}
