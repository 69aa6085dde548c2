//! A re-snapshot through the stat cache gives the slug a full read gives, whatever changed since the
//! last snapshot: over many random change sets (files added, deleted, renamed, edited in place with the
//! same size and the same mtime, executable bits flipped, files replaced by symlinks or directories,
//! directories added, removed and renamed), the slug of `slug snapshot` equals the slug of `slug
//! snapshot --no-cache` of the same tree. Any shortcut in the walk or the stat cache (skipped directory
//! reads, skipped subtrees) must keep this test green. The rescans trust the recorded listings of the
//! directories that did not change (most of them: checked), and read the others.

use std::fs;
use std::time::Duration;

use slugstore::SnapshotOptions;
use slugstore_tests::churn::{change, project};
use slugstore_tests::rng::Rng;
use slugstore_tests::store;
use slugstore_tests::tree::age_files;

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
