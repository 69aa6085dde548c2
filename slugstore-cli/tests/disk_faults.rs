//! A full disk and a read-only mount, seen through `slug`: the commands that only read (ls, show,
//! restore, export, verify, refs) work on such a store, the ones that write fail with an error naming
//! the cause, and none aborts. Once space is back, the store works as before.
//!
//! The faults are real file systems: a size-limited tmpfs and a read-only bind mount. Mounting needs
//! root (and a kernel that lets this process mount); where it cannot mount, a test says loudly on
//! stderr that it was skipped. Every mount is undone by a guard, also when the test fails.

mod proc_support;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use proc_support::{expect_exit, slug_bounded, text};
use slugstore_tests::compare::assert_same_tree;
use slugstore_tests::tree::{content, Tree};

/// A mount, undone when dropped.
struct Mount(PathBuf);

impl Mount {
    /// Runs `mount ARGS... DIR`; `None` (the test is skipped, said on stderr) when it cannot.
    fn new(args: &[&str], dir: &Path, test: &str) -> Option<Mount> {
        fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount").args(args).arg(dir).output();
        match out {
            Ok(o) if o.status.success() => Some(Mount(dir.to_path_buf())),
            other => {
                eprintln!(
                    "SKIPPED {test}: cannot mount here (needs root and a kernel that allows it): {}",
                    match other {
                        Ok(o) => text(&o.stderr),
                        Err(e) => e.to_string(),
                    }
                );
                None
            }
        }
    }

    /// Remounts read-only (a bind mount).
    fn read_only(&self) {
        let out = Command::new("mount")
            .args(["-o", "remount,bind,ro"])
            .arg(&self.0)
            .output()
            .unwrap();
        assert!(out.status.success(), "remount ro: {}", text(&out.stderr));
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let done = Command::new("umount").arg(&self.0).status();
        if !done.is_ok_and(|s| s.success()) {
            // Busy (a child still running): detach it now, the kernel finishes when it can.
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

/// Writes files into `dir` until the file system is full.
fn fill(dir: &Path) {
    let block = vec![0u8; 4096];
    for n in 0.. {
        let mut f = match fs::File::create(dir.join(format!("filler-{n}"))) {
            Ok(f) => f,
            Err(_) => return,
        };
        loop {
            if f.write_all(&block).and_then(|_| f.sync_all()).is_err() {
                break;
            }
        }
        if f.metadata().unwrap().len() == 0 {
            return;
        }
    }
}

/// The reading commands on `store`, each of which must succeed; `a` must be a ref to a slug of `tree`.
fn reading_commands_work(store: &Path, tree: &Path, out: &Path) {
    for args in [
        vec!["ls"],
        vec!["show", "a"],
        vec!["refs"],
        vec!["verify"],
        vec!["export", "a", "-o", out.join("a.tar").to_str().unwrap()],
    ] {
        expect_exit(&slug_bounded(store, &args), 0, &args.join(" "));
    }
    let dest = out.join("restored");
    expect_exit(
        &slug_bounded(store, &["restore", "a", dest.to_str().unwrap()]),
        0,
        "restore",
    );
    assert_same_tree(tree, &dest);
}

#[test]
fn a_full_disk_lets_reading_commands_work_and_nothing_aborts() {
    let tmp = tempfile::tempdir().unwrap();
    let disk = tmp.path().join("disk");
    let test = "a_full_disk_lets_reading_commands_work_and_nothing_aborts";
    let Some(_mount) = Mount::new(&["-t", "tmpfs", "-o", "size=4m", "tmpfs"], &disk, test) else {
        return;
    };
    let store = disk.join("store");
    expect_exit(&slug_bounded(&store, &["init"]), 0, "init");
    let small = tmp.path().join("small");
    Tree::new()
        .file("index.php", "<?php")
        .file("lib/a.txt", content(5000, 2))
        .build(&small);
    expect_exit(
        &slug_bounded(&store, &["snapshot", small.to_str().unwrap(), "--ref", "a"]),
        0,
        "snapshot",
    );
    // Incompressible and larger than the disk: the snapshot fails writing its pack.
    let big = tmp.path().join("big");
    Tree::new()
        .file("blob.bin", content(6 << 20, 1))
        .build(&big);
    let failed = slug_bounded(&store, &["snapshot", big.to_str().unwrap()]);
    expect_exit(&failed, 1, "snapshot larger than the disk");
    assert!(
        text(&failed.stderr).contains("No space left"),
        "{}",
        text(&failed.stderr)
    );

    // A command frees what the failed snapshot left; then the disk is filled for good.
    expect_exit(
        &slug_bounded(&store, &["ls"]),
        0,
        "ls after the failed snapshot",
    );
    fill(&disk);
    let out = tmp.path().join("out");
    fs::create_dir_all(&out).unwrap();
    reading_commands_work(&store, &small, &out);
    // Writing fails with an error, never an abort.
    for args in [vec!["snapshot", big.to_str().unwrap()], vec!["gc"]] {
        let o = slug_bounded(&store, &args);
        expect_exit(&o, 1, &args.join(" "));
        assert!(
            text(&o.stderr).contains("No space left"),
            "{}",
            text(&o.stderr)
        );
    }
    expect_exit(&slug_bounded(&store, &["ls"]), 0, "ls after failed writes");

    // Space back: the store works as before.
    for e in fs::read_dir(&disk).unwrap() {
        let p = e.unwrap().path();
        if p.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("filler-")
        {
            fs::remove_file(p).unwrap();
        }
    }
    let o = slug_bounded(
        &store,
        &["snapshot", small.to_str().unwrap(), "-m", "again"],
    );
    expect_exit(&o, 0, "snapshot with space back");
    let o = slug_bounded(&store, &["verify"]);
    expect_exit(&o, 0, "verify with space back");
    assert!(
        text(&o.stdout).contains("1 slugs: ok"),
        "{}",
        text(&o.stdout)
    );
}

#[test]
fn a_read_only_mount_lets_reading_commands_work() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("rw").join("store");
    expect_exit(&slug_bounded(&store, &["init"]), 0, "init");
    let tree = tmp.path().join("tree");
    Tree::new()
        .file("index.php", "<?php")
        .exec("bin/run", "#!/bin/sh\n")
        .file("lib/a.txt", content(20_000, 2))
        .build(&tree);
    let snap = slug_bounded(&store, &["snapshot", tree.to_str().unwrap(), "--ref", "a"]);
    expect_exit(&snap, 0, "snapshot");

    let ro = tmp.path().join("ro");
    let test = "a_read_only_mount_lets_reading_commands_work";
    let rw_dir = tmp.path().join("rw");
    let Some(mount) = Mount::new(&["--bind", rw_dir.to_str().unwrap()], &ro, test) else {
        return;
    };
    mount.read_only();
    let ro_store = ro.join("store");
    let out = tmp.path().join("out");
    fs::create_dir_all(&out).unwrap();
    reading_commands_work(&ro_store, &tree, &out);
    let o = slug_bounded(&ro_store, &["snapshot", tree.to_str().unwrap(), "-m", "x"]);
    expect_exit(&o, 1, "snapshot into a read-only store");
    assert!(
        text(&o.stderr).contains("Read-only file system"),
        "{}",
        text(&o.stderr)
    );
}
