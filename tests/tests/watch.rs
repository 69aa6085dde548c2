//! Snapshots driven by a watcher's journal (`slug watch`): after the first snapshot, the tree is not
//! walked, only the paths the watcher saw change are looked at; the slug must be exactly the one a full
//! walk of the tree gives (compared with a snapshot into a fresh store), whatever changed.

use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use slugstore::watch::{self, WatchOptions, WatchStatus};
use slugstore::{SlugId, SnapshotOptions, SnapshotReport, Store};
use slugstore_tests::compare::assert_same_tree;
use slugstore_tests::store;
use slugstore_tests::tree::{content, set_mode, write_file, Tree};

/// The options of `slug watch DIR`: the tree's mounts left out, as its snapshots leave them out.
fn watch_options(dir: &Path) -> WatchOptions {
    WatchOptions {
        excludes: slugstore_deploy::layout::snapshot_excludes(dir, &[]).unwrap(),
    }
}

/// A watcher running on a thread of the test, stopped when dropped.
struct Watcher {
    dir: PathBuf,
    handle: Option<JoinHandle<slugstore::Result<WatchStatus>>>,
}

impl Watcher {
    fn start(dir: &Path) -> Watcher {
        let (tx, rx) = mpsc::channel();
        let d = dir.to_path_buf();
        let handle = std::thread::spawn(move || {
            watch::serve(&d, &watch_options(&d), &mut |s| {
                let _ = tx.send(s.clone());
            })
        });
        let ready = rx.recv_timeout(Duration::from_secs(60));
        assert!(ready.is_ok(), "watcher not ready: {:?}", handle.join());
        Watcher {
            dir: dir.to_path_buf(),
            handle: Some(handle),
        }
    }

    fn stop(mut self) -> WatchStatus {
        assert!(watch::stop(&self.dir).unwrap(), "watcher was not running");
        let handle = self.handle.take().unwrap();
        handle.join().unwrap().expect("watcher ran without error")
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            let _ = watch::stop(&self.dir);
            let _ = h.join();
        }
    }
}

/// The slug a full walk of `tree` gives: a snapshot into a store of its own.
fn walked_id(tree: &Path) -> SlugId {
    let dir = tempfile::tempdir().unwrap();
    let s = store::init(&dir.path().join("ref"));
    store::snapshot(&s, tree).slug
}

/// Snapshots `tree` into `s` and checks the slug against a full walk.
fn snapshot_matching_walk(s: &Store, tree: &Path) -> SnapshotReport {
    let r = store::snapshot(s, tree);
    assert_eq!(r.slug, walked_id(tree), "slug differs from a full walk");
    r
}

fn mkfifo(path: &Path) {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
}

fn base_tree(root: &Path) {
    Tree::new()
        .file("index.php", "<?php echo 1;")
        .file("same-size.txt", "aaaaaaaa")
        .file("old.txt", "to delete")
        .file("tool.sh", "#!/bin/sh")
        .file("becomes-link", "a file first")
        .file("dir-to-file/a.txt", "a")
        .file("dir-to-file/sub/b.txt", "b")
        .file("dir-to-file-x", "sorts between the dir and its children")
        .file("tmp/x/y/z.txt", "deep")
        .file("app/code/Mod/Model.php", content(70_000, 1))
        .symlink("app/link", "code/Mod/Model.php")
        .dir("empty")
        .file("var/cache/c.bin", "a mount, never in a slug")
        .build(root);
}

#[test]
fn every_kind_of_change_is_seen_without_a_walk() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("tree");
    base_tree(&tree);
    let s = store::init(&tmp.path().join("store"));
    let watcher = Watcher::start(&tree);

    let first = snapshot_matching_walk(&s, &tree);
    assert!(
        !first.watched,
        "the first snapshot has no token to start from"
    );

    // Same size, new bytes: only the journal can tell (the stat cache would too, by its times).
    fs::write(tree.join("same-size.txt"), "bbbbbbbb").unwrap();
    fs::remove_file(tree.join("old.txt")).unwrap();
    set_mode(&tree.join("tool.sh"), 0o755);
    fs::remove_file(tree.join("becomes-link")).unwrap();
    symlink("index.php", tree.join("becomes-link")).unwrap();
    fs::remove_dir_all(tree.join("dir-to-file")).unwrap();
    fs::write(tree.join("dir-to-file"), "now a file").unwrap();
    fs::remove_dir_all(tree.join("tmp")).unwrap();
    Tree::new()
        .file("new/deep/er/file.txt", "new")
        .exec("new/deep/run", "#!/bin/sh")
        .dir("new/empty")
        .symlink("new/up", "../index.php")
        .build(&tree);
    fs::rename(tree.join("index.php"), tree.join("index2.php")).unwrap();
    fs::write(tree.join("app/code/Mod/Model.php"), content(70_000, 2)).unwrap();
    // A tree made elsewhere and moved in: no event names what it holds.
    Tree::new()
        .file("lib/a.php", "moved in")
        .dir("lib/empty")
        .build(&tmp.path().join("incoming"));
    fs::rename(tmp.path().join("incoming"), tree.join("moved-in")).unwrap();
    fs::write(tree.join("var/cache/d.bin"), "mount again").unwrap();
    mkfifo(&tree.join("app/fifo"));

    let second = snapshot_matching_walk(&s, &tree);
    assert!(
        second.watched,
        "second snapshot walked: {:?}",
        second.warnings
    );
    // same-size.txt, tool.sh (its mode), dir-to-file, index2.php, Model.php, new/deep/er/file.txt,
    // new/deep/run, moved-in/lib/a.php: the changed files alone.
    assert_eq!(second.files_read, 8);
    assert!(
        second.warnings.iter().any(|w| w.contains("app/fifo")),
        "{:?}",
        second.warnings
    );
    let out = tmp.path().join("out");
    store::restore(&s, &second.slug, &out).unwrap();
    fs::remove_file(tree.join("app/fifo")).unwrap();
    fs::remove_dir_all(tree.join("var")).unwrap();
    assert_same_tree(&tree, &out);

    // Nothing changed since: same slug, nothing read.
    let third = snapshot_matching_walk(&s, &tree);
    assert!(third.watched);
    assert_eq!(third.files_read, 0);
    let status = watcher.stop();
    assert_eq!(status.restarts, 0);
}

#[test]
fn a_moved_directory_makes_the_next_snapshot_walk() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("tree");
    base_tree(&tree);
    let s = store::init(&tmp.path().join("store"));
    let watcher = Watcher::start(&tree);
    snapshot_matching_walk(&s, &tree);

    fs::rename(tree.join("tmp/x"), tree.join("moved")).unwrap();
    fs::write(tree.join("moved/y/z.txt"), "written after the move").unwrap();
    let r = snapshot_matching_walk(&s, &tree);
    assert!(
        !r.watched,
        "a moved directory must make the journal start over"
    );

    fs::write(tree.join("moved/y/z.txt"), "and again").unwrap();
    let r = snapshot_matching_walk(&s, &tree);
    assert!(r.watched, "{:?}", r.warnings);
    assert_eq!(r.files_read, 1);
    assert_eq!(watcher.stop().restarts, 1);
}

#[test]
fn random_changes_over_many_snapshots_match_a_walk() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("tree");
    base_tree(&tree);
    let s = store::init(&tmp.path().join("store"));
    let _watcher = Watcher::start(&tree);
    snapshot_matching_walk(&s, &tree);
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = |n: usize| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng % n as u64) as usize
    };
    for round in 0..6 {
        for _ in 0..25 {
            let (files, dirs) = listing(&tree);
            let dir = &dirs[next(dirs.len())];
            match next(6) {
                0 | 1 => {
                    let name = format!("f{}.txt", next(40));
                    write_file(
                        &dir.join(name),
                        &content(next(3000), next(99) as u64),
                        false,
                    );
                }
                2 if !files.is_empty() => fs::remove_file(&files[next(files.len())]).unwrap(),
                3 => {
                    let _ = fs::create_dir(dir.join(format!("d{}", next(10))));
                }
                4 if dir != &tree && !dir.starts_with(tree.join("app")) => {
                    fs::remove_dir_all(dir).unwrap()
                }
                5 if !files.is_empty() => {
                    let f = &files[next(files.len())];
                    set_mode(f, if next(2) == 0 { 0o755 } else { 0o644 });
                }
                _ => {}
            }
        }
        let r = snapshot_matching_walk(&s, &tree);
        assert!(r.watched, "round {round} walked: {:?}", r.warnings);
    }
}

/// The regular files and directories of `root` (the mount left out), the root included.
fn listing(root: &Path) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let (mut files, mut dirs) = (Vec::new(), vec![root.to_path_buf()]);
    let mut i = 0;
    while i < dirs.len() {
        let mut entries: Vec<_> = fs::read_dir(&dirs[i])
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            let meta = fs::symlink_metadata(&p).unwrap();
            if p.ends_with("var") {
                continue;
            }
            if meta.is_dir() {
                dirs.push(p);
            } else if meta.is_file() {
                files.push(p);
            }
        }
        i += 1;
    }
    (files, dirs)
}

#[test]
fn the_journal_is_used_only_when_it_vouches_for_the_same_selection() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("tree");
    base_tree(&tree);
    let s = store::init(&tmp.path().join("store"));

    // No watcher: walked.
    assert!(!snapshot_matching_walk(&s, &tree).watched);

    let _watcher = Watcher::start(&tree);
    let with_exclude = SnapshotOptions {
        excludes: vec!["tmp".into()],
        ..Default::default()
    };
    store::snapshot_with(&s, &tree, &with_exclude).unwrap();
    fs::write(tree.join("index.php"), "<?php echo 2;").unwrap();
    // The token was recorded with another selection: walked.
    let r = snapshot_matching_walk(&s, &tree);
    assert!(!r.watched);
    fs::write(tree.join("index.php"), "<?php echo 3;").unwrap();
    let r = snapshot_matching_walk(&s, &tree);
    assert!(r.watched);
    // `--no-cache` never trusts the journal.
    let no_cache = SnapshotOptions {
        no_cache: true,
        ..Default::default()
    };
    let r = store::snapshot_with(&s, &tree, &no_cache).unwrap();
    assert!(!r.watched);
    assert_eq!(r.slug, walked_id(&tree));
}

#[test]
fn a_second_watcher_of_a_tree_is_refused_and_stop_needs_a_watcher() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("tree");
    base_tree(&tree);
    assert!(!watch::stop(&tree).unwrap());
    assert!(watch::status(&tree).unwrap().is_none());
    let watcher = Watcher::start(&tree);
    let err = watch::serve(&tree, &watch_options(&tree), &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("already runs"), "{err}");
    let status = watch::status(&tree).unwrap().expect("running");
    assert!(status.dirs >= 8, "{status:?}");
    assert_eq!(status.unwatched.len(), 4, "the default mounts: {status:?}");
    watcher.stop();
    assert!(watch::status(&tree).unwrap().is_none());
}
