//! `slugstore::diff` on real snapshots: two trees built on disk with one of each kind of difference,
//! snapshotted into one store, and the diff of the two slugs compared with the list written by hand.

use slugstore::diff::{Status, Totals, What};
use slugstore::slug::EntryKind;
use slugstore::{Error, PruneOptions, SlugId, Store};
use slugstore_tests::diff_case::{self, EXPECTED, GROW};
use slugstore_tests::store;
use slugstore_tests::tree::Tree;

/// A store in `dir/store` with `old` and `new` snapshotted (from `dir/old` and `dir/new`).
fn two_slugs(dir: &std::path::Path, old: &Tree, new: &Tree) -> (Store, SlugId, SlugId) {
    let st = store::init(&dir.join("store"));
    old.build(&dir.join("old"));
    new.build(&dir.join("new"));
    let a = store::snapshot(&st, &dir.join("old")).slug;
    let b = store::snapshot(&st, &dir.join("new")).slug;
    (st, a, b)
}

#[test]
fn diff_of_two_snapshots_is_exactly_the_expected_list() {
    let dir = tempfile::tempdir().unwrap();
    let (st, a, b) = two_slugs(dir.path(), &diff_case::old_tree(), &diff_case::new_tree());
    let report = slugstore::diff(&st, &a, &b).unwrap();
    assert_eq!((report.from, report.to), (a, b));
    let got: Vec<(&[u8], Status, &[What])> = report
        .entries
        .iter()
        .map(|d| (d.path.0.as_slice(), d.status, d.what.as_slice()))
        .collect();
    assert_eq!(got, EXPECTED);

    let side = |path: &[u8]| {
        let d = report.entries.iter().find(|d| d.path.0 == path).unwrap();
        (d.old.clone(), d.new.clone())
    };
    let (old, new) = side(b"app/code/Grow.php");
    assert_eq!(old.map(|s| s.file_size()), Some(GROW.0 as u64));
    assert_eq!(new.map(|s| s.file_size()), Some(GROW.1 as u64));
    let (old, new) = side(b"current");
    assert_eq!(old.map(|s| s.name()), Some("file"));
    assert_eq!(
        new,
        Some(EntryKind::Symlink {
            target: b"app".to_vec()
        })
    );
    let (old, new) = side(b"bin/magento");
    assert_eq!((old.unwrap().mode(), new.unwrap().mode()), (0o644, 0o755));

    // Unchanged: index.php, lib, lib/keep.php, names, names/keep.txt, pub, pub/empty, app, app/code,
    // bin. Bytes by hand from the two trees.
    let t = report.totals;
    assert_eq!(
        t,
        Totals {
            added: 2,
            removed: 6,
            changed: 6,
            unchanged: 10,
            kind: 2,
            content: 2,
            mode: 1,
            target: 1,
            added_bytes: 6 + 7 + 10,
            removed_bytes: 10 + 10 + 10 + 7 + 6,
            changed_old_bytes: 4 + GROW.0 as u64,
            changed_new_bytes: 4 + GROW.1 as u64,
        }
    );
    let size = |id: &SlugId| store::manifest(&st, id).stats().bytes as i128;
    assert_eq!(t.net_bytes(), size(&b) - size(&a));

    // The other way round: added and removed swap.
    let back = slugstore::diff(&st, &b, &a).unwrap();
    assert_eq!(
        (back.totals.added, back.totals.removed, back.totals.changed),
        (6, 2, 6)
    );
    assert_eq!(back.totals.net_bytes(), -t.net_bytes());
}

#[test]
fn a_slug_against_itself_has_no_differences() {
    let dir = tempfile::tempdir().unwrap();
    let tree = diff_case::old_tree();
    let (st, a, b) = two_slugs(dir.path(), &tree, &tree);
    assert_eq!(a, b);
    let report = slugstore::diff(&st, &a, &b).unwrap();
    assert!(report.is_empty());
    assert_eq!(
        report.totals.unchanged,
        store::manifest(&st, &a).entries().len() as u64
    );
}

#[test]
fn unknown_and_pruned_slugs_are_the_stores_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (st, a, b) = two_slugs(dir.path(), &diff_case::old_tree(), &diff_case::new_tree());
    assert!(matches!(st.resolve("nope"), Err(Error::UnknownSlug(n)) if n == "nope"));

    let opts = PruneOptions {
        keep_last: Some(0),
        protect: vec![b.to_hex()],
        ..PruneOptions::default()
    };
    slugstore::prune(&st, &opts).unwrap();
    // Its manifest is still stored (until gc), but the slug is gone: by name and by id.
    assert!(matches!(
        st.resolve(&a.to_hex()),
        Err(Error::UnknownSlug(_))
    ));
    let err = slugstore::diff(&st, &a, &b).unwrap_err();
    assert!(
        matches!(&err, Error::UnknownSlug(id) if *id == a.to_hex()),
        "{err}"
    );
    assert!(err.to_string().contains(&a.to_hex()), "{err}");
}
