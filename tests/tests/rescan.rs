//! A re-snapshot through the stat cache gives the slug a full read gives, whatever changed since the
//! last snapshot: over many random change sets (files added, deleted, renamed, edited in place with the
//! same size and the same mtime, executable bits flipped, files replaced by symlinks or directories,
//! directories added, removed and renamed), the slug of `slug snapshot` equals the slug of `slug
//! snapshot --no-cache` of the same tree. Any shortcut in the walk or the stat cache (skipped directory
//! reads, skipped subtrees) must keep this test green. The rescans trust the recorded listings of the
//! directories that did not change (most of them: checked), and read the others.

use std::fs;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use slugstore::SnapshotOptions;
use slugstore_tests::rng::Rng;
use slugstore_tests::store;
use slugstore_tests::tree::{age_files, content, make_dir, set_mtime, write_file, Tree};

fn project() -> Tree {
    let mut t = Tree::new()
        .file("index.php", "<?php echo 1;")
        .exec("bin/console", "#!/bin/sh\necho hi\n")
        .symlink("lib/current", "v1")
        .dir("empty/dir");
    for i in 0..40u64 {
        t = t.file(
            format!("src/m{}/sub{}/f{i}.php", i % 5, i % 3),
            content(50 + i as usize * 7, i),
        );
    }
    t
}

/// Every path under `root` (directories and files, not following links).
fn paths(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if fs::symlink_metadata(&p).unwrap().is_dir() {
                todo.push(p.clone());
            }
            out.push(p);
        }
    }
    out.sort();
    out
}

/// One random change of the tree at `root`.
fn change(root: &Path, rng: &mut Rng) {
    let all = paths(root);
    let p = all[rng.below(all.len())].clone();
    let meta = fs::symlink_metadata(&p).unwrap();
    let n = rng.next_u64() % 100_000;
    match (rng.below(9), meta.is_dir(), meta.is_file()) {
        // Same size, same mtime, other bytes: only the ctime tells.
        (0, _, true) => {
            let mtime = meta.modified().unwrap();
            let bytes: Vec<u8> = fs::read(&p).unwrap().iter().map(|b| b ^ 0x20).collect();
            fs::write(&p, bytes).unwrap();
            set_mtime(&p, mtime);
        }
        (1, _, true) => fs::write(&p, content(10 + n as usize % 300, n)).unwrap(),
        (2, _, true) => {
            let mode = meta.permissions().mode() ^ 0o111;
            fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
        }
        (3, true, _) => fs::remove_dir_all(&p).unwrap(),
        (3, false, _) => fs::remove_file(&p).unwrap(),
        (4, _, _) => {
            let to = p.with_file_name(format!("renamed-{n}"));
            fs::rename(&p, to).unwrap();
        }
        (5, false, _) => {
            fs::remove_file(&p).unwrap();
            symlink(format!("target-{n}"), &p).unwrap();
        }
        (6, false, _) => {
            fs::remove_file(&p).unwrap();
            make_dir(&p);
            write_file(&p.join(format!("inner-{n}.php")), b"now a directory", false);
        }
        (7, true, _) => make_dir(&p.join(format!("new-dir-{n}/deeper"))),
        (7, false, _) => {
            let dir = p.parent().unwrap();
            write_file(&dir.join(format!("added-{n}.php")), &content(99, n), false);
        }
        // A file replaced by another one of the same size and mtime (a new inode).
        (8, _, true) => {
            let (bytes, mtime) = (fs::read(&p).unwrap(), meta.modified().unwrap());
            let tmp = p.with_extension("swap");
            fs::write(&tmp, bytes.iter().map(|b| b ^ 1).collect::<Vec<u8>>()).unwrap();
            set_mtime(&tmp, mtime);
            fs::rename(&tmp, &p).unwrap();
            assert_ne!(fs::metadata(&p).unwrap().ino(), meta.ino());
        }
        _ => write_file(&root.join(format!("top-{n}.txt")), b"top", false),
    }
}

#[test]
fn a_rescan_gives_the_slug_of_a_full_read_after_any_change_set() {
    let tmp = tempfile::tempdir().unwrap();
    let store = store::init(&tmp.path().join("store"));
    let full = SnapshotOptions {
        no_cache: true,
        ..SnapshotOptions::default()
    };
    // Directories read by the rescans against directories in their slugs: the listings of unchanged
    // directories must have been used, or the test would not test them.
    let (mut dirs_read, mut dirs) = (0, 0);
    for seed in 0..24u64 {
        let root = tmp.path().join(format!("tree-{seed}"));
        project().build(&root);
        // Old enough that the stat cache trusts every file it records.
        age_files(&root, Duration::from_secs(120));
        store::snapshot(&store, &root);
        let mut rng = Rng(seed);
        for round in 0..3 {
            for _ in 0..1 + rng.below(5) {
                change(&root, &mut rng);
            }
            if round == 1 {
                age_files(&root, Duration::from_secs(60));
            }
            let cached = store::snapshot(&store, &root);
            (dirs_read, dirs) = (dirs_read + cached.dirs_read, dirs + cached.tree.dirs);
            let read = store::snapshot_with(&store, &root, &full).unwrap();
            assert_eq!(
                cached.slug, read.slug,
                "seed {seed}, round {round}: the rescan missed a change"
            );
        }
        fs::remove_dir_all(&root).unwrap();
    }
    assert!(
        dirs_read * 2 < dirs,
        "{dirs_read} of {dirs} directories read: the listings were not used"
    );
}
