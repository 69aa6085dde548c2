//! `slug watch` end to end: a watcher process, snapshots that use its journal, `--status` and `--stop`.

use slugstore_tests::deadline::Deadline;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use slugstore_tests::tree::Tree;

const SLUG: &str = env!("CARGO_BIN_EXE_slug");

fn slug(args: &[&str], store: &Path) -> Output {
    Command::new(SLUG)
        .arg("--store")
        .arg(store)
        .args(args)
        .output_deadline()
}

fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

/// A `slug watch` process, killed if the test fails before stopping it.
struct Watcher(Option<Child>);

impl Drop for Watcher {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[test]
fn snapshots_take_the_changes_from_a_running_watcher() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("tree");
    let store = tmp.path().join("store");
    Tree::new()
        .file("index.php", "<?php")
        .file("app/code/A.php", "class A {}")
        .file("var/log/x.log", "a mount")
        .build(&tree);
    let tree_arg = tree.to_str().unwrap();

    let status = slug(&["watch", "--status", tree_arg], &store);
    assert_eq!(status.status.code(), Some(1), "no watcher yet");

    let mut child = Command::new(SLUG)
        .args(["--json", "watch", tree_arg])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut watcher = Watcher(Some(child));
    let ready: serde_json::Value =
        serde_json::from_str(&lines.next().expect("ready line").unwrap()).unwrap();
    assert_eq!(ready["event"], "ready");
    assert_eq!(ready["dirs"], 3, "tree, app, app/code: {ready}");

    let second = Command::new(SLUG)
        .args(["watch", tree_arg])
        .output_deadline();
    assert!(!second.status.success());
    assert!(String::from_utf8_lossy(&second.stderr).contains("already runs"));

    json(&slug(&["--json", "init"], &store));
    let first = json(&slug(&["--json", "snapshot", tree_arg], &store));
    assert_eq!(first["watched"], false);
    std::fs::write(tree.join("app/code/B.php"), "class B {}").unwrap();
    let next = json(&slug(&["--json", "snapshot", tree_arg], &store));
    assert_eq!(next["watched"], true, "{next}");
    assert_eq!(next["files_read"], 1);
    assert_eq!(next["files"], 3);

    let status = json(&slug(&["--json", "watch", "--status", tree_arg], &store));
    assert_eq!(
        (status["running"].clone(), status["dirs"].clone()),
        (true.into(), 3.into())
    );
    let stop = slug(&["watch", "--stop", tree_arg], &store);
    assert!(stop.status.success());
    let exit = slugstore_tests::deadline::wait_deadline(&mut watcher.0.take().unwrap());
    assert!(exit.success());
    let stopped: serde_json::Value =
        serde_json::from_str(&lines.next().expect("stopped line").unwrap()).unwrap();
    assert_eq!(stopped["event"], "stopped");
    assert_eq!(
        stopped["answered"], 4,
        "two snapshots, --status, --stop: {stopped}"
    );
    assert_eq!(
        slug(&["watch", "--stop", tree_arg], &store).status.code(),
        Some(1)
    );
}
