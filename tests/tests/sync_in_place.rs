//! Bringing a directory in place to exactly a stored tree (`slugstore::cache::restore::sync_dir`,
//! what a deploy does to its persistent build directory, and what a cache hit does to its outputs):
//! whatever the directory held before, it ends up with the tree's paths, kinds, bytes and modes and
//! nothing else; files in place and equal keep their inode; and the stat-cache entries of a subtree
//! moved away for the sync are still there when it comes back.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use slugstore::cache::restore::sync_dir;
use slugstore::store::Store;
use slugstore_tests::compare::{assert_same_listing, read_tree};
use slugstore_tests::rng::Rng;
use slugstore_tests::store;
use slugstore_tests::tree::{age_files, content, make_dir, set_mode, set_mtime, write_file, Tree};

/// A small project: nested directories, an executable, a symlink, an empty directory.
fn source() -> Tree {
    let mut t = Tree::new()
        .file("index.php", "<?php echo 1;")
        .exec("bin/console", "#!/bin/sh\necho hi\n")
        .symlink("lib/current", "v1")
        .dir("empty/dir")
        .file("lib/v1/a.php", content(300, 2))
        .file("lib/v1/b.php", content(5000, 3))
        .file("lib/v1-extra/c.php", "c")
        .file("lib.d/z.php", "z");
    for i in 0..20 {
        t = t.file(
            format!("app/code/m{}/f{i}.php", i % 4),
            content(100 + i, i as u64),
        );
    }
    t
}

/// Every path under `root`, relative, directories and files alike.
fn paths(root: &Path) -> Vec<Vec<u8>> {
    read_tree(root).into_keys().collect()
}

/// Changes what is in `dir` in one of the ways a build directory drifts from its source.
fn mutate(dir: &Path, rng: &mut Rng) {
    let all = paths(dir);
    let pick = |rng: &mut Rng| {
        let p = &all[rng.below(all.len())];
        dir.join(std::str::from_utf8(p).expect("utf-8 test paths"))
    };
    let p = pick(rng);
    let meta = fs::symlink_metadata(&p).expect("listed");
    match (rng.below(8), meta.is_dir()) {
        (0, _) if meta.is_dir() => fs::remove_dir_all(&p).unwrap(),
        (0, _) => fs::remove_file(&p).unwrap(),
        (1, true) => write_file(&p.join("stray.tmp"), b"left by a hook", false),
        (1, false) => fs::write(&p, b"edited by a hook").unwrap(),
        (2, true) => set_mode(&p, 0o700),
        (2, false) if meta.is_file() => set_mode(&p, meta.mode() ^ 0o111),
        (3, true) => {
            fs::remove_dir_all(&p).unwrap();
            write_file(&p, b"a file where a directory was", false);
        }
        (3, false) => {
            fs::remove_file(&p).unwrap();
            make_dir(&p.join("now/a/dir"));
        }
        (4, false) if meta.is_file() => {
            // Same size, same mtime: only the ctime and the bytes say it changed.
            let old = fs::read(&p).unwrap();
            let mtime = meta.modified().unwrap();
            let flipped: Vec<u8> = old.iter().map(|b| b ^ 1).collect();
            fs::write(&p, flipped).unwrap();
            set_mtime(&p, mtime);
        }
        (5, _) => {
            let _ = fs::remove_dir_all(&p).or_else(|_| fs::remove_file(&p));
            std::os::unix::fs::symlink("elsewhere", &p).unwrap();
        }
        (6, _) => make_dir(&dir.join(format!("generated/{}", rng.next_u64() % 1000))),
        _ => write_file(
            &dir.join(format!("new-{}.php", rng.next_u64() % 1000)),
            b"new",
            false,
        ),
    }
}

fn synced(
    store: &Store,
    src_slug: &slugstore::SlugId,
    dir: &Path,
) -> slugstore::cache::restore::Restored {
    let manifest = store::manifest(store, src_slug);
    sync_dir(store, &manifest, dir, &[]).unwrap_or_else(|e| panic!("sync {}: {e}", dir.display()))
}

#[test]
fn any_drift_is_brought_back_to_exactly_the_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    source().build(&src);
    let store = store::init(&tmp.path().join("store"));
    let slug = store::snapshot(&store, &src).slug;
    let want = read_tree(&src);

    for seed in 0..40u64 {
        let dir = tmp.path().join(format!("dir-{seed}"));
        synced(&store, &slug, &dir);
        assert_same_listing(&want, &read_tree(&dir));
        if seed % 2 == 0 {
            // Half the cases with a stat cache that trusts the files in place.
            age_files(&dir, Duration::from_secs(60));
            synced(&store, &slug, &dir);
        }
        let mut rng = Rng(seed);
        for _ in 0..1 + rng.below(6) {
            mutate(&dir, &mut rng);
        }
        synced(&store, &slug, &dir);
        let got = read_tree(&dir);
        if got != want {
            assert_same_listing(&want, &got);
            panic!("seed {seed}: trees differ");
        }
        fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn files_in_place_and_equal_keep_their_inode_and_only_odd_directories_change_mode() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    source().build(&src);
    let store = store::init(&tmp.path().join("store"));
    let slug = store::snapshot(&store, &src).slug;
    let dir = tmp.path().join("dir");
    synced(&store, &slug, &dir);
    age_files(&dir, Duration::from_secs(60));
    synced(&store, &slug, &dir);
    let ino = |p: &str| fs::metadata(dir.join(p)).unwrap().ino();
    let ctime = |p: &str| {
        let m = fs::metadata(dir.join(p)).unwrap();
        (m.ctime(), m.ctime_nsec())
    };
    let kept = (ino("lib/v1/b.php"), ctime("lib/v1/b.php"));
    let dir_ctime = (ctime("lib/v1"), ctime("app/code/m1"));
    set_mode(&dir.join("app/code/m2"), 0o700);
    fs::write(dir.join("index.php"), "<?php echo 2;").unwrap();
    std::thread::sleep(Duration::from_millis(20));

    let r = synced(&store, &slug, &dir);
    assert_eq!((r.written, r.removed), (1, 1), "{r:?}");
    assert_same_listing(&read_tree(&src), &read_tree(&dir));
    let now = (ino("lib/v1/b.php"), ctime("lib/v1/b.php"));
    assert_eq!(now, kept, "an equal file was rewritten");
    assert_eq!(
        (ctime("lib/v1"), ctime("app/code/m1")),
        dir_ctime,
        "directories of the right mode were chmod-ed"
    );
    let mode = fs::metadata(dir.join("app/code/m2")).unwrap().mode() & 0o7777;
    assert_eq!(mode, 0o755);
}

#[test]
fn the_stat_cache_of_a_subtree_moved_away_for_the_sync_survives_it() {
    for keep in [true, false] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("build");
        source().build(&dir);
        let store = store::init(&tmp.path().join("store"));
        let base = store::snapshot(&store, &dir);
        let slug = base.slug;
        let mut away = Tree::new();
        for i in 0..30 {
            away = away.file(format!("f{i}.js"), content(200, i));
        }
        away.build(&dir.join("vendor"));
        age_files(&dir, Duration::from_secs(60));
        let first = store::snapshot(&store, &dir);
        assert_eq!(first.tree.files, base.tree.files + 30);

        // As a deploy parks a step's output: moved out, the rest synced, moved back.
        let parked = tmp.path().join("parked");
        fs::rename(dir.join("vendor"), &parked).unwrap();
        let manifest = store::manifest(&store, &slug);
        let keep_cached = if keep {
            vec!["vendor".to_owned()]
        } else {
            vec![]
        };
        sync_dir(&store, &manifest, &dir, &keep_cached).unwrap();
        fs::rename(&parked, dir.join("vendor")).unwrap();

        let again = store::snapshot(&store, &dir);
        assert_eq!(again.slug, first.slug);
        let expected = if keep { 0 } else { 30 };
        assert_eq!(again.files_read, expected, "keep_cached = {keep}");
    }
}
