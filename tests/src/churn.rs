//! Random change sets of a tree on disk, for the property tests that hold a shortcut (a rescan through
//! the stat cache, a reused release) to what the long way gives.

use std::fs;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::rng::Rng;
use crate::tree::{content, make_dir, set_mtime, write_file, Tree};

/// A small project to change: files in nested directories, an executable, a symlink, an empty
/// directory.
pub fn project() -> Tree {
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
pub fn paths(root: &Path) -> Vec<PathBuf> {
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
pub fn change(root: &Path, rng: &mut Rng) {
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
