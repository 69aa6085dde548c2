//! Retention and garbage collection: exactly the unreferenced objects go, everything referenced stays
//! bit-exact, and a gc interleaved with snapshots loses nothing.

mod gc_support;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::mpsc;

use gc_support::*;
use slugstore::store::pack::{PACK_HEADER, RECORD_HEADER_LEN};
use slugstore::store::{Codec, Compression, OpenOptions, Store};
use slugstore::{GcOptions, NoProgress, ObjectId, PruneOptions, SlugId, VerifyOptions};

fn indexed(store: &Store) -> HashSet<ObjectId> {
    store.index().objects().map(|kv| kv.unwrap().0).collect()
}

fn verify_ok(store: &Store) {
    let r = slugstore::verify(store, &VerifyOptions::default(), &NoProgress).unwrap();
    assert!(r.ok(), "verify: {:?} {:?}", r.bad, r.bad_packs);
    assert!(r.complete);
}

fn full_gc() -> GcOptions {
    GcOptions {
        repack_below: 100.0,
        ..GcOptions::default()
    }
}

#[test]
fn prune_and_gc_after_ten_churned_snapshots_free_exactly_the_unreferenced_objects() {
    let dir = tempfile::tempdir().unwrap();
    let (tree, root) = (dir.path().join("tree"), dir.path().join("store"));
    let mut rng = Rng(7);
    make_tree(&tree, 40, &mut rng);
    let store = Store::init(&root, &Default::default()).unwrap();
    let mut history: Vec<(SlugId, Contents)> = Vec::new();
    for round in 0..10 {
        if round > 0 {
            churn(&tree, &mut rng, round);
        }
        history.push((snap(&store, &tree, Some("app")), read_tree(&tree)));
    }
    let all_before = indexed(&store);

    let dry = PruneOptions {
        keep_last: Some(3),
        ref_name: Some("app".into()),
        dry_run: true,
        ..Default::default()
    };
    let would = slugstore::prune(&store, &dry).unwrap();
    assert_eq!(would.pruned.len(), 7);
    assert_eq!(store.slugs().unwrap().len(), 10, "dry run changed nothing");

    let r = slugstore::prune(
        &store,
        &PruneOptions {
            dry_run: false,
            ..dry
        },
    )
    .unwrap();
    let pruned: HashSet<SlugId> = r.pruned.iter().map(|s| s.id).collect();
    let expected_pruned: HashSet<SlugId> = history[..7].iter().map(|(id, _)| *id).collect();
    assert_eq!(pruned, expected_pruned);

    let live = slugstore::gc::live_objects(&store).unwrap();
    let expected_dead: HashSet<ObjectId> = all_before.difference(&live).copied().collect();
    assert!(!expected_dead.is_empty());

    let dry = slugstore::gc(
        &store,
        &GcOptions {
            dry_run: true,
            ..full_gc()
        },
    )
    .unwrap();
    assert_eq!(dry.objects_freed, expected_dead.len() as u64);
    assert_eq!(indexed(&store), all_before, "dry run changed nothing");

    let before_bytes = pack_bytes(&store);
    let g = slugstore::gc(&store, &full_gc()).unwrap();
    assert_eq!(g.objects_freed, expected_dead.len() as u64);
    assert_eq!(g.live_objects, live.len() as u64);
    assert_eq!(
        indexed(&store),
        live,
        "index holds exactly the live objects"
    );
    assert_eq!(g.bytes_before, before_bytes);
    assert_eq!(g.bytes_after, pack_bytes(&store));
    assert_eq!(g.bytes_after, dry.bytes_after, "dry run predicted the size");
    assert!(g.bytes_freed() > 0);

    // Every pack byte is now a header or a live record: nothing unreferenced is left on disk.
    let mut packs: BTreeMap<ObjectId, u64> = BTreeMap::new();
    for kv in store.index().objects() {
        let (_, loc) = kv.unwrap();
        *packs.entry(loc.pack).or_insert(PACK_HEADER.len() as u64) +=
            RECORD_HEADER_LEN + loc.stored_len;
    }
    assert_eq!(packs.values().sum::<u64>(), pack_bytes(&store));
    assert_eq!(
        std::fs::read_dir(store.packs_dir()).unwrap().count(),
        packs.len(),
        "no orphan pack files"
    );

    verify_ok(&store);
    for (id, contents) in &history {
        match restored(&store, id) {
            Ok(got) => {
                assert!(!pruned.contains(id));
                assert_eq!(&got, contents, "slug {id} restores bit-exact");
            }
            Err(e) => assert!(pruned.contains(id), "kept slug {id} failed: {e}"),
        }
    }

    // A second gc finds nothing left to do.
    let again = slugstore::gc(&store, &full_gc()).unwrap();
    assert_eq!(
        (
            again.objects_freed,
            again.packs_deleted,
            again.packs_repacked,
            again.orphan_packs
        ),
        (0, 0, 0, 0)
    );
}

#[test]
fn gc_drops_stat_cache_entries_that_name_freed_objects() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, root) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("store"),
    );
    let mut rng = Rng(11);
    make_tree(&a, 12, &mut rng);
    make_tree(&b, 3, &mut rng);
    let store = Store::init(&root, &Default::default()).unwrap();
    let first = snap(&store, &a, None);
    snap(&store, &b, Some("prod"));
    let p = PruneOptions {
        keep_last: Some(0),
        ..Default::default()
    };
    assert_eq!(slugstore::prune(&store, &p).unwrap().pruned.len(), 1);
    let g = slugstore::gc(&store, &GcOptions::default()).unwrap();
    assert_eq!(g.stat_entries_dropped, 12);

    // The same unchanged tree again: its files must be read and stored anew, not trusted to the cache.
    let opts = slugstore::SnapshotOptions::default();
    let again = slugstore::snapshot(&store, &a, &opts, &NoProgress).unwrap();
    assert_eq!(again.slug, first);
    assert_eq!(again.files_read, 12);
    assert_eq!(restored(&store, &again.slug).unwrap(), read_tree(&a));
    verify_ok(&store);
}

#[test]
fn prune_never_drops_refs_targets_or_protected_slugs() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let store = Store::init(&root, &Default::default()).unwrap();
    let mut rng = Rng(3);
    let mut ids = Vec::new();
    for i in 0..5 {
        let t = dir.path().join(format!("t{i}"));
        make_tree(&t, 3, &mut rng);
        ids.push(snap(&store, &t, None));
    }
    let mut b = store.index().batch();
    b.set_ref("prod", ids[0], None).unwrap();
    slugstore::checkout::targets::register(&mut b, Path::new("/srv/app"), ids[1]);
    b.commit().unwrap();
    let r = slugstore::prune(
        &store,
        &PruneOptions {
            keep_last: Some(0),
            protect: vec![ids[2].short(12)],
            ..Default::default()
        },
    )
    .unwrap();
    let pruned: HashSet<SlugId> = r.pruned.iter().map(|s| s.id).collect();
    assert_eq!(pruned, HashSet::from([ids[3], ids[4]]));
    assert_eq!(r.protected.len(), 3);
    slugstore::gc(&store, &full_gc()).unwrap();
    for id in &ids[..3] {
        assert!(restored(&store, id).is_ok());
    }
    verify_ok(&store);

    // Without a policy, prune refuses rather than guessing.
    assert!(slugstore::prune(&store, &PruneOptions::default()).is_err());
}

/// A writer thread snapshots a churning tree onto a ref while a collector thread prunes and collects;
/// each opens the store for its whole step, as separate processes would.
#[test]
fn gc_interleaved_with_snapshots_loses_nothing_50_times() {
    let dir = tempfile::tempdir().unwrap();
    let (tree, root) = (dir.path().join("tree"), dir.path().join("store"));
    let mut rng = Rng(99);
    make_tree(&tree, 30, &mut rng);
    drop(Store::init(&root, &Default::default()).unwrap());
    const ROUNDS: usize = 50;
    let (tx, rx) = mpsc::channel::<(SlugId, Contents)>();
    std::thread::scope(|s| {
        let (tree, root) = (&tree, &root);
        s.spawn(move || {
            for round in 0..ROUNDS {
                churn(tree, &mut rng, round);
                let contents = read_tree(tree);
                let store = open(root);
                let id = snap(&store, tree, Some("app"));
                drop(store);
                tx.send((id, contents)).unwrap();
            }
        });
        s.spawn(move || {
            for _ in 0..ROUNDS {
                let store = open(root);
                let p = PruneOptions {
                    keep_last: Some(1),
                    ..Default::default()
                };
                slugstore::prune(&store, &p).unwrap();
                slugstore::gc(&store, &full_gc()).unwrap();
            }
        });
    });
    let reported: Vec<(SlugId, Contents)> = rx.into_iter().collect();
    assert_eq!(reported.len(), ROUNDS);
    let store = open(&root);
    verify_ok(&store);
    let last = reported.last().unwrap();
    assert_eq!(store.index().get_ref("app").unwrap(), Some(last.0));
    let mut present = 0;
    for (id, contents) in &reported {
        if store.index().slug(id).unwrap().is_some() {
            present += 1;
            assert_eq!(&restored(&store, id).unwrap(), contents, "slug {id}");
        }
    }
    assert!(present >= 1);
    assert_eq!(
        indexed(&store),
        slugstore::gc::live_objects(&store).unwrap()
    );
}

/// Objects written with compression off are compressed by `gc --recompress` at the store's level:
/// the store shrinks, every slug restores bit-exact, objects that do not compress stay raw, and a
/// second `--recompress` finds nothing worth rewriting.
#[test]
fn recompress_compresses_what_was_stored_raw_once() {
    let dir = tempfile::tempdir().unwrap();
    let (tree, root) = (dir.path().join("tree"), dir.path().join("store"));
    make_tree(&tree, 120, &mut Rng(11));
    let contents = read_tree(&tree);
    let off = OpenOptions {
        compression: Compression::Off,
        ..OpenOptions::default()
    };
    let store = Store::init(&root, &off).unwrap();
    let id = snap(&store, &tree, Some("app"));
    let raw_objects = |store: &Store| {
        store
            .index()
            .objects()
            .filter(|kv| kv.as_ref().unwrap().1.codec == Codec::Raw)
            .count()
    };
    let raw_before = raw_objects(&store);
    assert!(raw_before >= 120, "every file stored raw: {raw_before}");
    let e = slugstore::gc(
        &store,
        &GcOptions {
            recompress: true,
            ..GcOptions::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("--recompress") && e.contains("--compression off"),
        "{e}"
    );
    drop(store);

    let store = open(&root);
    let recompress = |dry_run| {
        slugstore::gc(
            &store,
            &GcOptions {
                recompress: true,
                dry_run,
                ..GcOptions::default()
            },
        )
        .unwrap()
    };
    let before = pack_bytes(&store);
    let dry = recompress(true);
    assert_eq!(pack_bytes(&store), before, "a dry run changes nothing");
    assert!(dry.objects_recompressed >= 120, "{dry:?}");
    let r = recompress(false);
    assert_eq!(r.objects_recompressed, dry.objects_recompressed, "{r:?}");
    assert_eq!(r.packs_repacked, dry.packs_repacked, "{r:?}");
    assert_eq!(r.objects_freed, 0);
    let after = pack_bytes(&store);
    assert!(after < before * 3 / 4, "{before} -> {after}");
    // The estimate (from a sample of each pack's raw objects) is of the right size.
    let (estimated, saved) = (dry.bytes_freed() as f64, (before - after) as f64);
    assert!(
        (estimated - saved).abs() < saved / 2.0,
        "{estimated} vs {saved}"
    );
    verify_ok(&store);
    assert_eq!(restored(&store, &id).unwrap(), contents);
    // The text-like half is compressed now; the random half stays raw, and is not rewritten again.
    let raw_after = raw_objects(&store);
    assert!(
        raw_after > 0 && raw_after < raw_before * 3 / 4,
        "{raw_before} -> {raw_after}"
    );
    let again = recompress(false);
    assert_eq!(
        (again.packs_repacked, again.objects_recompressed),
        (0, 0),
        "{again:?}"
    );
    assert_eq!(pack_bytes(&store), after);
}

#[test]
fn a_record_too_large_for_memory_is_moved_by_streaming_into_a_pack_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let (tree, root) = (dir.path().join("tree"), dir.path().join("store"));
    let store = Store::init(&root, &OpenOptions::default()).unwrap();
    let mut rng = Rng(23);
    // Above the in-memory limit (8 MiB), random so that it stays large once compressed.
    let big: Vec<u8> = (0..9 << 20).map(|_| rng.next() as u8).collect();
    let small: Vec<Vec<u8>> = (0..4).map(|i| rng.bytes(1000 + i)).collect();
    // One pack holding the large record beside small ones (as a build cache of an earlier version
    // stored a large output); the snapshot below then leaves one small object of it dead.
    let writer = store.writer();
    writer.add_with_id(ObjectId::hash(&big), &big).unwrap();
    for s in &small {
        writer.add(s).unwrap();
    }
    let staged = writer.finish().unwrap();
    assert_eq!(staged.packs.len(), 1, "one shared pack");
    let mut batch = store.index().batch();
    staged.stage(&mut batch).unwrap();
    batch.commit().unwrap();
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::write(tree.join("big.bin"), &big).unwrap();
    for (i, s) in small.iter().enumerate().skip(1) {
        std::fs::write(tree.join(format!("small-{i}")), s).unwrap();
    }
    let contents = read_tree(&tree);
    let id = snap(&store, &tree, Some("app"));
    drop(big);

    let r = slugstore::gc(&store, &full_gc()).unwrap();
    assert_eq!((r.packs_repacked, r.objects_freed), (1, 1), "{r:?}");
    verify_ok(&store);
    assert_eq!(restored(&store, &id).unwrap(), contents);
    // The small live objects moved together; the large one was streamed into a pack alone.
    let packs_of = |store: &Store| {
        let mut by_pack: BTreeMap<ObjectId, Vec<u64>> = BTreeMap::new();
        for kv in store.index().objects() {
            let (_, loc) = kv.unwrap();
            by_pack.entry(loc.pack).or_default().push(loc.raw_len);
        }
        by_pack
    };
    let big_pack = packs_of(&store)
        .into_values()
        .find(|lens| lens.contains(&(9 << 20)))
        .expect("the large object is indexed");
    assert_eq!(big_pack, vec![9 << 20], "alone in its pack");
}
