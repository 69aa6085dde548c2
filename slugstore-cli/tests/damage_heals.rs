//! Damage that `slug verify` found does not stay: the next snapshot holding the same content stores
//! the good bytes anew instead of deduplicating against the damaged copy, whether it reads the file
//! because the stat cache knows nothing of it, or because verify marked its cached hash damaged.

mod proc_support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use proc_support::{expect_exit, slug_bounded};
use slugstore::ObjectId;
use slugstore_tests::compare::assert_same_tree;
use slugstore_tests::store::{self as store_helpers, flip_byte, Record};
use slugstore_tests::tree::{age_files, content, Tree};

/// Incompressible, so stored raw: a flipped data byte is a flipped content byte.
fn precious() -> Vec<u8> {
    content(64 * 1024, 1)
}

struct Damaged {
    _tmp: tempfile::TempDir,
    store: PathBuf,
    /// The tree of slug `one`, whose `a/precious.bin` is damaged in the store.
    tree: PathBuf,
    id: ObjectId,
    root: PathBuf,
}

/// A store with slug `one` of a tree whose `a/precious.bin` object has a flipped byte, found by
/// `slug verify`. The tree's files are old enough for the stat cache to trust them. With `pushed`,
/// slug `one` was pushed to a `file://` remote `origin` before the damage.
fn damaged(pushed: bool) -> Damaged {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    expect_exit(&slug_bounded(&store, &["init"]), 0, "init");
    let tree = tmp.path().join("one");
    Tree::new()
        .file("a/precious.bin", precious())
        .file("b/other.txt", content(5000, 2))
        .build(&tree);
    age_files(&tree, Duration::from_secs(3600));
    let snap = slug_bounded(
        &store,
        &["snapshot", tree.to_str().unwrap(), "--ref", "one"],
    );
    expect_exit(&snap, 0, "snapshot one");
    if pushed {
        let url = format!("file://{}", tmp.path().join("remote").display());
        expect_exit(
            &slug_bounded(&store, &["remote", "add", "origin", &url]),
            0,
            "remote add",
        );
        expect_exit(&slug_bounded(&store, &["push", "one", "origin"]), 0, "push");
    }

    let id = ObjectId::hash(&precious());
    let record = Record::of(&store_helpers::open(&store), &id);
    flip_byte(&record.pack, record.data_byte(100));
    let verify = slug_bounded(&store, &["verify"]);
    let said = expect_exit(&verify, 3, "verify finds the damage");
    assert!(said.contains(&format!("BAD {id}")), "{said}");
    Damaged {
        root: tmp.path().to_path_buf(),
        _tmp: tmp,
        store,
        tree,
        id,
    }
}

/// Restores `name` bit-exact to `tree`, and a full verify finds no damaged object (the old pack, its
/// bytes still damaged, may be reported until `verify --repair` copies its good objects out).
fn assert_healed(d: &Damaged, name: &str, tree: &Path) {
    let out = d.root.join(format!("restored-{name}"));
    let restore = slug_bounded(&d.store, &["restore", name, out.to_str().unwrap()]);
    expect_exit(&restore, 0, "restore of the new slug");
    assert_same_tree(tree, &out);
    let json = slug_bounded(&d.store, &["--json", "verify"]);
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["bad"], serde_json::json!([]), "{report}");
    assert_eq!(report["bad_index"], serde_json::json!([]), "{report}");
    // The index points at the new copy: the object verifies.
    let store = store_helpers::open(&d.store);
    store.verify_object(&d.id).expect("the object verifies");
}

#[test]
fn a_snapshot_that_reads_the_file_replaces_the_damaged_object() {
    let d = damaged(false);
    // Another tree with the same content: the stat cache knows nothing of it, every file is read.
    let tree = d.root.join("two");
    Tree::new()
        .file("copy/precious.bin", precious())
        .file("new.txt", "new")
        .build(&tree);
    let snap = slug_bounded(
        &d.store,
        &["snapshot", tree.to_str().unwrap(), "--ref", "two"],
    );
    expect_exit(&snap, 0, "snapshot two");
    assert_healed(&d, "two", &tree);
    // Slug `one` needed the same object: healed too.
    assert_healed(&d, "one", &d.tree.clone());
}

#[test]
fn a_snapshot_reads_a_file_whose_cached_hash_was_marked_damaged() {
    let d = damaged(false);
    // The same tree, unchanged: its stat cache would vouch for every file without reading it.
    let snap = slug_bounded(
        &d.store,
        &["snapshot", d.tree.to_str().unwrap(), "--ref", "again"],
    );
    expect_exit(&snap, 0, "snapshot of the same tree");
    assert_healed(&d, "again", &d.tree.clone());
}

#[test]
fn a_pull_fetches_an_object_marked_damaged_again() {
    let d = damaged(true);
    // The store has slug `one` and every object it needs, one of them damaged and marked.
    let pull = slug_bounded(&d.store, &["--json", "pull", "origin", "one"]);
    let said = expect_exit(&pull, 0, "pull");
    let report: serde_json::Value = serde_json::from_str(&said).unwrap();
    assert_eq!(report["objects_fetched"], 1, "{report}");
    assert_healed(&d, "one", &d.tree.clone());
}
