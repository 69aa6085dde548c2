//! Content addressing and the stat cache: the same tree is the same slug and costs nothing to store
//! again; one changed file costs one object; an unchanged tree is not even read again.

use std::time::{Duration, SystemTime};

use slugstore::{ObjectId, SnapshotOptions};
use slugstore_tests::compare::assert_same_tree;
use slugstore_tests::store;
use slugstore_tests::tree::{age_files, content, set_mtime, write_file, Tree};

/// Old enough for the stat cache to trust (it distrusts files modified just before a scan).
const OLD: Duration = Duration::from_secs(3600);

fn sample() -> Tree {
    Tree::new()
        .file("index.php", content(3000, 2))
        .file("app/code/A.php", content(10_000, 4))
        .file("app/code/B.php", content(10_000, 6))
        .file("app/code/copy-of-A.php", content(10_000, 4))
        .exec("bin/magento", "#!/bin/sh\n")
        .file("lib/random.bin", content(50_000, 7))
        .file("empty", "")
        .symlink("current", "app")
        .dir("pub/empty")
}

/// Distinct file contents of [`sample`].
const SAMPLE_OBJECTS: usize = 6;
/// Files of [`sample`].
const SAMPLE_FILES: u64 = 7;

#[test]
fn same_tree_twice_gives_the_same_id_and_stores_nothing_new() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    sample().build(&src);
    let store = store::init(&tmp.path().join("store"));

    let first = store::snapshot(&store, &src);
    assert!(first.new_slug);
    assert_eq!(first.new_objects, SAMPLE_OBJECTS as u64);
    // The file contents plus the manifest.
    assert_eq!(store::object_count(&store), SAMPLE_OBJECTS + 1);
    let packs = store::pack_count(&store);

    let second = store::snapshot(&store, &src);
    assert_eq!(second.slug, first.slug);
    assert!(!second.new_slug);
    assert_eq!((second.new_objects, second.new_bytes), (0, 0));
    assert_eq!(store::object_count(&store), SAMPLE_OBJECTS + 1);
    assert_eq!(
        store::pack_count(&store),
        packs,
        "a pack was written for nothing"
    );
    assert_eq!(store.slugs().unwrap().len(), 1);

    // Another copy of the tree elsewhere (other inodes, times, path) is the same slug.
    let copy = tmp.path().join("copy");
    sample().build(&copy);
    let third = store::snapshot(&store, &copy);
    assert_eq!(third.slug, first.slug);
    assert_eq!(third.new_objects, 0);
    assert_eq!(store::object_count(&store), SAMPLE_OBJECTS + 1);
}

#[test]
fn changing_one_file_stores_exactly_one_new_object() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    sample().build(&src);
    let store = store::init(&tmp.path().join("store"));
    let first = store::snapshot(&store, &src);
    let before = store::object_count(&store);

    let new = b"<?php // changed\n".to_vec();
    write_file(&src.join("app/code/B.php"), &new, false);
    let second = store::snapshot(&store, &src);
    assert_ne!(second.slug, first.slug);
    assert_eq!(second.new_objects, 1);
    assert_eq!(second.new_bytes, new.len() as u64);
    // The new content and the new manifest.
    assert_eq!(store::object_count(&store), before + 2);
    assert!(store.index().has_object(&ObjectId::hash(&new)).unwrap());
    assert!(store.index().has_object(&second.slug.object()).unwrap());

    // Both slugs stay restorable, each with its own content.
    let (out1, out2) = (tmp.path().join("out1"), tmp.path().join("out2"));
    store::restore(&store, &second.slug, &out2).unwrap();
    assert_same_tree(&src, &out2);
    store::restore(&store, &first.slug, &out1).unwrap();
    let old = tmp.path().join("old");
    sample().build(&old);
    assert_same_tree(&old, &out1);
}

#[test]
fn stat_cache_reads_only_what_changed() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    sample().build(&src);
    age_files(&src, OLD);
    let store = store::init(&tmp.path().join("store"));

    let first = store::snapshot(&store, &src);
    assert_eq!(first.files_read, SAMPLE_FILES);
    let again = store::snapshot(&store, &src);
    assert_eq!(again.files_read, 0, "nothing changed, yet files were read");
    assert_eq!(again.slug, first.slug);

    // A changed file is read, and only it.
    let new = content(12_345, 9);
    write_file(&src.join("app/code/A.php"), &new, false);
    let changed = store::snapshot(&store, &src);
    assert_eq!(changed.files_read, 1);
    assert_eq!(changed.new_objects, 1);
    assert_ne!(changed.slug, first.slug);
    let out = tmp.path().join("out");
    store::restore(&store, &changed.slug, &out).unwrap();
    assert_same_tree(&src, &out);

    // `no_cache` reads everything again, and finds the same slug.
    let opts = SnapshotOptions {
        no_cache: true,
        ..SnapshotOptions::default()
    };
    let full = store::snapshot_with(&store, &src, &opts).unwrap();
    assert_eq!(full.files_read, SAMPLE_FILES);
    assert_eq!(full.slug, changed.slug);
}

/// A rewrite that keeps size and modification time (as `touch -r` or an rsync with `--times` can) still
/// changes the status-change time, which the cache compares too.
#[test]
fn stat_cache_notices_a_same_size_rewrite_with_the_old_mtime() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    sample().build(&src);
    let when = SystemTime::now() - OLD;
    age_files(&src, OLD);
    let store = store::init(&tmp.path().join("store"));
    let first = store::snapshot(&store, &src);

    let path = src.join("lib/random.bin");
    let new = content(50_000, 11);
    write_file(&path, &new, false);
    set_mtime(&path, when);
    let second = store::snapshot(&store, &src);
    assert_eq!(second.files_read, 1);
    assert_ne!(second.slug, first.slug);
    assert!(store.index().has_object(&ObjectId::hash(&new)).unwrap());
    let out = tmp.path().join("out");
    store::restore(&store, &second.slug, &out).unwrap();
    assert_same_tree(&src, &out);
}

#[test]
fn stat_cache_forgets_deleted_files_and_sees_new_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    sample().build(&src);
    age_files(&src, OLD);
    let store = store::init(&tmp.path().join("store"));
    store::snapshot(&store, &src);

    std::fs::remove_file(src.join("index.php")).unwrap();
    write_file(&src.join("app/code/C.php"), b"<?php // new", false);
    let second = store::snapshot(&store, &src);
    assert_eq!(second.files_read, 1, "only the new file should be read");
    let out = tmp.path().join("out");
    store::restore(&store, &second.slug, &out).unwrap();
    assert_same_tree(&src, &out);
}
