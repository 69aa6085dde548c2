//! Slugs are ordered by creation, however many are made in one second: `Store::slugs` (what `slug ls`
//! lists) follows the order they were made in, and `prune --keep-last N` keeps the last N of it.

use proptest::prelude::*;
use slugstore::{NoProgress, PruneOptions, SlugId, SnapshotOptions};
use slugstore_tests::store;
use slugstore_tests::tree::{content, Tree};

/// Snapshots one tiny tree per seed, in order (all within a few milliseconds); returns the ids.
fn make_slugs(dir: &std::path::Path, st: &slugstore::Store, seeds: &[u64]) -> Vec<SlugId> {
    seeds
        .iter()
        .enumerate()
        .map(|(i, seed)| {
            let tree = dir.join(format!("tree-{i}"));
            Tree::new()
                .file("index.php", content(64, *seed))
                .build(&tree);
            let r = slugstore::snapshot(st, &tree, &SnapshotOptions::default(), &NoProgress)
                .expect("snapshot");
            r.slug
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Any number of slugs made in a row, whatever their ids: listed in the order made, and a prune
    /// keeping the last `keep` drops exactly the ones made before them, oldest first.
    #[test]
    fn list_and_prune_follow_creation(
        seeds in proptest::collection::hash_set(any::<u64>(), 2..9),
        keep in 0usize..9,
    ) {
        let seeds: Vec<u64> = seeds.into_iter().collect();
        let dir = tempfile::tempdir().unwrap();
        let st = store::init(&dir.path().join("store"));
        let made = make_slugs(dir.path(), &st, &seeds);
        let listed: Vec<SlugId> = st.slugs().unwrap().iter().map(|r| r.id).collect();
        prop_assert_eq!(&listed, &made);

        let r = slugstore::prune(
            &st,
            &PruneOptions { keep_last: Some(keep), ..Default::default() },
        )
        .unwrap();
        let cut = made.len().saturating_sub(keep);
        let pruned: Vec<SlugId> = r.pruned.iter().map(|r| r.id).collect();
        prop_assert_eq!(&pruned, &made[..cut].to_vec());
        let left: Vec<SlugId> = st.slugs().unwrap().iter().map(|r| r.id).collect();
        prop_assert_eq!(&left, &made[cut..].to_vec());
    }
}
