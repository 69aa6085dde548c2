//! Push and pull behaviours, run against every kind of remote.
//!
//! Each test target instantiates [`sync_tests!`](crate::sync_tests) with a function making a fresh,
//! empty [`TestRemote`]; the bodies below are shared, so `file://` (always) and S3 (against a real
//! server) are held to the same checks: what a push sends is what the remote lacks, a pulled slug
//! restores bit-exact, a damaged remote object is refused by name without touching the local store,
//! and an interrupted push resumes.

use std::fmt;
use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use slugstore::remote::backend::{Backend, PutOutcome};
use slugstore::remote::layout::{self, PackIdx};
use slugstore::remote::url::RemoteUrl;
use slugstore::remote::{pull, push, PullReport, PushOptions, PushReport, TRANSFERS};
use slugstore::slug::EntryKind;
use slugstore::verify::RepairSource;
use slugstore::{NoProgress, SlugId, SnapshotOptions, Store, VerifyOptions};

use crate::backend_conformance::TestRemote;
use crate::compare::assert_same_tree;
use crate::deadline::watchdog;
use crate::store;
use crate::tree::{content, Tree};

/// Defines one `#[test]` per push/pull body, each on a remote made by `$make(test_name)`.
#[macro_export]
macro_rules! sync_tests {
    ($make:expr) => {
        $crate::sync_tests!(@tests $make;
            churn_push_sends_only_the_change,
            pull_into_empty_store_is_bit_exact,
            corrupt_remote_object_fails_pull_and_keeps_store_valid,
            interrupted_push_resumes,
            interrupted_push_with_idx_but_no_pack_resumes,
            slowly_refused_push_ends_with_the_first_error,
            slowly_failing_pull_ends_with_the_first_error,
            concurrent_pushes_of_one_slug,
            verify_repair_refetches_damaged_objects,
            manifest_travels_as_a_patch,
        );
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let remote: $crate::backend_conformance::TestRemote = ($make)(stringify!($name));
                $crate::sync::$name(&remote);
            }
        )*
    };
}

/// `count` files of `size` random bytes (incompressible, so byte counts are not blurred by zstd) in a
/// few directories, plus an executable, a symlink, an empty directory and a non-UTF-8 name.
pub fn sample_tree(count: usize, size: usize) -> Tree {
    let mut t = Tree::new()
        .exec("bin/console", b"#!/bin/sh\necho hi\n".to_vec())
        .symlink("current", "bin")
        .dir("assets/empty")
        .file(b"pub/caf\xe9.txt", b"latin-1 name".to_vec());
    for i in 0..count {
        t = t.file(
            format!("src/d{}/f{i}.php", i % 7),
            content(size, 2 * i as u64 + 1),
        );
    }
    t
}

/// The slug's local ref name in these tests.
const REF: &str = "release_main";

/// A local store with a tree snapshotted onto [`REF`], in `dir/store`, the tree in `dir/tree`.
fn snapshot_tree(dir: &Path, tree: &Tree) -> (Store, SlugId) {
    let st = store::init(&dir.join("store"));
    tree.build(&dir.join("tree"));
    let opts = SnapshotOptions {
        ref_name: Some(REF.into()),
        ..SnapshotOptions::default()
    };
    let r = store::snapshot_with(&st, &dir.join("tree"), &opts).expect("snapshot");
    (st, r.slug)
}

fn push_with(
    st: &Store,
    slug: &SlugId,
    backend: &dyn Backend,
    pack_size: u64,
) -> slugstore::Result<PushReport> {
    let opts = PushOptions {
        ref_name: Some(REF.into()),
        pack_size,
    };
    push(
        st,
        slug,
        backend,
        &st.root().join("remote-cache"),
        &opts,
        &NoProgress,
    )
}

fn push_ok(st: &Store, slug: &SlugId, backend: &dyn Backend) -> PushReport {
    push_with(st, slug, backend, slugstore::store::PACK_TARGET).expect("push")
}

fn pull_into(st: &Store, backend: &dyn Backend, name: &str) -> slugstore::Result<PullReport> {
    pull(
        st,
        backend,
        &st.root().join("remote-cache"),
        name,
        Some(REF),
        &NoProgress,
    )
}

/// Total size of the objects on a remote.
fn remote_bytes(backend: &dyn Backend) -> u64 {
    backend.list("").unwrap().iter().map(|(_, n)| n).sum()
}

fn assert_verifies(st: &Store) {
    let r = slugstore::verify(st, &VerifyOptions::default(), &NoProgress).unwrap();
    assert!(r.ok(), "verify: {:?}", r.bad);
}

/// Pulls `slug` into a new store under `dir`, restores it and compares it with `tree_dir`.
fn pull_and_compare(backend: &dyn Backend, dir: &Path, slug: &SlugId, tree_dir: &Path) {
    let st = store::init(&dir.join("pulled-store"));
    let r = pull_into(&st, backend, REF).expect("pull");
    assert_eq!(r.slug, *slug);
    assert_eq!(r.objects_present, 0);
    assert_eq!(st.index().get_ref(REF).unwrap(), Some(*slug));
    store::restore(&st, slug, &dir.join("restored")).expect("restore");
    assert_same_tree(tree_dir, &dir.join("restored"));
    assert_verifies(&st);
}

/// Slug B differs from slug A in 1% of its files: pushing B after A sends about 1% of A's bytes,
/// by the push's own count and by the growth of the remote; pulling B into a store holding A
/// downloads only the change.
pub fn churn_push_sends_only_the_change(remote: &TestRemote) {
    let b = &*remote.backend;
    let dir = remote.scratch.path();
    let tree = sample_tree(300, 32 << 10);
    let (st, a) = snapshot_tree(dir, &tree);
    let first = push_ok(&st, &a, b);
    assert_eq!(first.objects_present, 0);
    assert_eq!(first.objects_uploaded, first.objects);
    let after_first = remote_bytes(b);
    assert!(first.bytes_uploaded >= 300 * (32 << 10), "{first:?}");
    assert_eq!(first.bytes_uploaded, after_first, "{first:?}");

    // Change 3 of the 300 files (1%).
    let mut changed = tree.clone();
    for i in [5usize, 150, 299] {
        changed = changed.file(
            format!("src/d{}/f{i}.php", i % 7),
            content(32 << 10, 1_000_001 + 2 * i as u64),
        );
    }
    let tree_b = dir.join("tree-b");
    changed.build(&tree_b);
    let opts = SnapshotOptions {
        ref_name: Some(REF.into()),
        ..SnapshotOptions::default()
    };
    let bslug = store::snapshot_with(&st, &tree_b, &opts).unwrap().slug;
    let second = push_ok(&st, &bslug, b);
    // The 3 files and the new manifest.
    assert_eq!(second.objects_uploaded, 4, "{second:?}");
    assert_eq!(second.objects_present, second.objects - 4);
    // The ref is replaced by one of the same size: the remote grows by the rest.
    let growth = remote_bytes(b) - after_first;
    assert_eq!(growth + 65, second.bytes_uploaded, "{second:?}");
    let pct = 100.0 * second.pack_bytes_uploaded as f64 / first.pack_bytes_uploaded as f64;
    assert!(
        (0.9..2.0).contains(&pct),
        "second push sent {pct:.2}% of the first"
    );
    assert!(
        (growth as f64) < 0.02 * after_first as f64,
        "remote grew {growth} of {after_first}"
    );

    // A store holding A fetches only B's change.
    let st2 = store::init(&dir.join("store-2"));
    pull_into(&st2, b, &a.to_hex()).expect("pull A");
    let r = pull_into(&st2, b, REF).expect("pull B");
    assert_eq!((r.slug, r.objects_fetched), (bslug, 4), "{r:?}");
    assert!(
        r.bytes_fetched < 4 * (33 << 10) + (64 << 10),
        "fetched {} bytes for 3 files and a manifest",
        r.bytes_fetched
    );
    store::restore(&st2, &bslug, &dir.join("restored-b")).unwrap();
    assert_same_tree(&tree_b, &dir.join("restored-b"));
    assert_verifies(&st2);
}

/// A pushed slug pulled into an empty store restores bit-exact (modes, symlinks, empty directories,
/// non-UTF-8 names), by ref, by full id and by id prefix, and sets the local ref.
pub fn pull_into_empty_store_is_bit_exact(remote: &TestRemote) {
    let b = &*remote.backend;
    let dir = remote.scratch.path();
    let (st, slug) = snapshot_tree(dir, &sample_tree(40, 5000));
    push_ok(&st, &slug, b);
    assert_eq!(
        b.get(&layout::ref_key(REF)).unwrap().as_deref(),
        Some(format!("{}\n", slug.to_hex()).as_bytes())
    );
    pull_and_compare(b, &dir.join("by-ref"), &slug, &dir.join("tree"));
    for name in [slug.to_hex(), slug.to_hex()[..10].to_string()] {
        let other = store::init(&dir.join(format!("store-{}", name.len())));
        let r = pull(
            &other,
            b,
            &other.root().join("cache"),
            &name,
            None,
            &NoProgress,
        )
        .expect("pull by id");
        assert_eq!(r.slug, slug);
        assert_eq!(other.index().get_ref(REF).unwrap(), None);
        assert_eq!(other.slug(&slug).unwrap(), st.slug(&slug).unwrap());
    }
    let err = pull_into(&store::init(&dir.join("s3")), b, "no-such-ref").unwrap_err();
    assert!(err.to_string().contains("no-such-ref"), "{err}");
}

/// The content of the manifest's first file larger than `min` bytes.
fn first_file_over(manifest: &slugstore::slug::Manifest, min: u64) -> slugstore::ObjectId {
    manifest
        .entries()
        .iter()
        .find_map(|e| match &e.kind {
            EntryKind::File { id, size, .. } if *size > min => Some(*id),
            _ => None,
        })
        .expect("a file that large")
}

/// One byte of a file's object is changed inside its pack on the remote: the pull fails naming the
/// object and the pack, no slug or ref is committed, and the local store still verifies.
pub fn corrupt_remote_object_fails_pull_and_keeps_store_valid(remote: &TestRemote) {
    let b = &*remote.backend;
    let dir = remote.scratch.path();
    let (st, slug) = snapshot_tree(dir, &sample_tree(30, 4000));
    push_ok(&st, &slug, b);
    let manifest = store::manifest(&st, &slug);
    let victim = first_file_over(&manifest, 1000);
    let (pack, entry) = remote_packs(b)
        .into_iter()
        .find_map(|p| {
            let e = p.entries.iter().find(|e| e.id == victim).copied()?;
            Some((p.pack, e))
        })
        .expect("victim on the remote");
    let key = layout::pack_key(&pack);
    let mut bytes = b.get(&key).unwrap().unwrap().to_vec();
    let at = (entry.record_range().start + entry.record_range().end) / 2;
    bytes[at as usize] ^= 0x55;
    b.put(&key, Bytes::from(bytes)).unwrap();

    let local = store::init(&dir.join("pulled"));
    let err = pull_into(&local, b, REF).unwrap_err().to_string();
    assert!(err.contains(&victim.to_hex()), "{err}");
    assert!(err.contains(&key), "{err}");
    assert!(local.slugs().unwrap().is_empty());
    assert_eq!(local.index().get_ref(REF).unwrap(), None);
    assert_eq!(store::object_count(&local), 0);
    assert_verifies(&local);
}

/// Two objects of a pushed slug (a file and the manifest) are damaged in the local store, and a third,
/// never pushed, too: repair fetches the two from the remote, moves every good object out of the
/// damaged packs and deletes them, and keeps the pack of the one no remote has, which verify still
/// names. The pushed slug then verifies and restores bit-exact.
pub fn verify_repair_refetches_damaged_objects(remote: &TestRemote) {
    let b = &*remote.backend;
    let dir = remote.scratch.path();
    let (st, slug) = snapshot_tree(dir, &sample_tree(30, 4000));
    push_ok(&st, &slug, b);
    let victim = first_file_over(&store::manifest(&st, &slug), 1000);
    // A slug the remote never saw, with one content of its own, in a pack of its own.
    let extra_tree = dir.join("extra");
    Tree::new()
        .file("only-here.bin", content(6000, 991))
        .build(&extra_tree);
    let extra = store::snapshot(&st, &extra_tree).slug;
    let lonely = match &store::manifest(&st, &extra).entries()[0].kind {
        EntryKind::File { id, .. } => *id,
        other => panic!("unexpected entry {other:?}"),
    };
    for id in [victim, slug.object(), lonely] {
        let rec = store::Record::of(&st, &id);
        store::flip_byte(&rec.pack, rec.data_byte(rec.loc.stored_len / 2));
    }
    st.forget_packs();

    let report = slugstore::verify(&st, &VerifyOptions::default(), &NoProgress).unwrap();
    let mut bad: Vec<_> = report.bad.iter().map(|x| x.id).collect();
    bad.sort();
    let mut expected = vec![victim, slug.object(), lonely];
    expected.sort();
    assert_eq!(bad, expected, "{:?}", report.bad);

    let sources = [RepairSource {
        name: "origin".into(),
        backend: b,
        cache_dir: st.root().join("remote-cache"),
    }];
    let r = slugstore::verify::repair(&st, &report, &sources, &NoProgress).expect("repair");
    let mut repaired: Vec<_> = r.repaired.iter().map(|x| x.id).collect();
    repaired.sort();
    let mut pushed = vec![victim, slug.object()];
    pushed.sort();
    assert_eq!(repaired, pushed);
    assert!(r.repaired.iter().all(|x| x.remote == "origin"));
    assert_eq!(r.unrepaired, vec![lonely]);
    assert_eq!(r.packs_kept, vec![store::Record::of(&st, &lonely).loc.pack]);
    assert!(!r.packs_removed.is_empty());
    assert!(
        r.objects_moved > 0,
        "the damaged packs held good objects too"
    );
    assert!(!r.complete());
    for p in &r.packs_removed {
        let path = slugstore::store::pack::pack_path(&st.packs_dir(), p);
        assert!(!path.exists(), "{} was not removed", path.display());
    }

    let after = slugstore::verify(&st, &VerifyOptions::default(), &NoProgress).unwrap();
    let still: Vec<_> = after.bad.iter().map(|x| x.id).collect();
    assert_eq!(still, vec![lonely], "{:?}", after.bad);
    store::restore(&st, &slug, &dir.join("restored")).expect("restore");
    assert_same_tree(&dir.join("tree"), &dir.join("restored"));

    // Nothing left to fetch: a second repair changes nothing and still reports the lonely object.
    let again = slugstore::verify::repair(&st, &after, &sources, &NoProgress).expect("repair");
    assert!(again.repaired.is_empty());
    assert_eq!(again.unrepaired, vec![lonely]);
}

/// Where object `id` is on the remote: its pack's key and its idx entry.
fn remote_entry(b: &dyn Backend, id: &slugstore::ObjectId) -> (String, layout::IdxEntry) {
    remote_packs(b)
        .into_iter()
        .find_map(|p| {
            let e = p.entries.iter().find(|e| e.id == *id).copied()?;
            Some((layout::pack_key(&p.pack), e))
        })
        .unwrap_or_else(|| panic!("object {id} is not on the remote"))
}

/// Snapshots `tree` (built in `dir`) onto [`REF`] in `st`.
fn snapshot_next(st: &Store, tree: &Tree, dir: &Path) -> SlugId {
    tree.build(dir);
    let opts = SnapshotOptions {
        ref_name: Some(REF.into()),
        ..SnapshotOptions::default()
    };
    store::snapshot_with(st, dir, &opts).unwrap().slug
}

/// After slug A, slug B's manifest goes up as a patch against A's (a fraction of its size); B pulls
/// bit-exact into an empty store (A's manifest fetched to decode it, not kept) and into a store
/// holding A; C's manifest is patched against A's again, not against B's patch (one level deep);
/// damaged on the remote, the patch fails the pull naming B's manifest; a damaged local copy of B's
/// manifest is repaired from the patch.
pub fn manifest_travels_as_a_patch(remote: &TestRemote) {
    let b = &*remote.backend;
    let dir = remote.scratch.path();
    let tree = sample_tree(600, 100);
    let (st, a) = snapshot_tree(dir, &tree);
    assert_eq!(push_ok(&st, &a, b).manifest_base, None);
    let changed = tree.clone().file("src/d0/f7.php", content(100, 100_001));
    let bslug = snapshot_next(&st, &changed, &dir.join("tree-b"));
    let second = push_ok(&st, &bslug, b);
    assert_eq!(second.manifest_base, Some(a), "{second:?}");
    assert_eq!(second.objects_uploaded, 2, "{second:?}");
    let (key, entry) = remote_entry(b, &bslug.object());
    assert_eq!(entry.codec, slugstore::store::Codec::Patch);
    let local = store::Record::of(&st, &bslug.object()).loc;
    assert!(
        entry.stored_len * 10 < local.stored_len,
        "patch {} bytes, manifest {} stored",
        entry.stored_len,
        local.stored_len
    );

    let empty = store::init(&dir.join("empty"));
    let r = pull_into(&empty, b, REF).expect("pull B");
    assert_eq!(r.slug, bslug);
    assert!(!empty.index().has_object(&a.object()).unwrap());
    store::restore(&empty, &bslug, &dir.join("restored-b")).unwrap();
    assert_same_tree(&dir.join("tree-b"), &dir.join("restored-b"));
    assert_verifies(&empty);
    let with_a = store::init(&dir.join("with-a"));
    pull_into(&with_a, b, &a.to_hex()).expect("pull A");
    let r = pull_into(&with_a, b, REF).expect("pull B after A");
    assert_eq!(r.objects_fetched, 2, "{r:?}");
    assert_verifies(&with_a);

    let c = snapshot_next(
        &st,
        &changed.file("src/d1/f8.php", content(100, 100_003)),
        &dir.join("tree-c"),
    );
    assert_eq!(push_ok(&st, &c, b).manifest_base, Some(a));

    // Damage B's manifest locally: repair decodes the remote patch against A's good local manifest.
    let rec = store::Record::of(&st, &bslug.object());
    store::flip_byte(&rec.pack, rec.data_byte(rec.loc.stored_len / 2));
    st.forget_packs();
    let report = slugstore::verify(&st, &VerifyOptions::default(), &NoProgress).unwrap();
    let sources = [RepairSource {
        name: "origin".into(),
        backend: b,
        cache_dir: st.root().join("remote-cache"),
    }];
    let repaired = slugstore::verify::repair(&st, &report, &sources, &NoProgress).unwrap();
    assert_eq!(repaired.repaired.len(), 1, "{repaired:?}");
    assert_verifies(&st);

    // Damage the patch on the remote: pulls fail naming B's manifest and the pack.
    let mut bytes = b.get(&key).unwrap().unwrap().to_vec();
    let range = entry.record_range();
    bytes[(range.end - 8) as usize] ^= 0x55;
    b.put(&key, Bytes::from(bytes)).unwrap();
    let fresh = store::init(&dir.join("fresh"));
    let err = pull_into(&fresh, b, &bslug.to_hex())
        .unwrap_err()
        .to_string();
    assert!(err.contains(&bslug.object().to_hex()), "{err}");
    assert!(err.contains(&key), "{err}");
    assert!(fresh.slugs().unwrap().is_empty());
    assert_verifies(&fresh);
}

/// A push whose connection fails after a few idx uploads leaves no ref and no slug record on the
/// remote, and packs that arrived without their idx (a pack and its idx are sent side by side);
/// rerun, it completes without sending again what arrived (such a pack is rebuilt byte for byte and
/// found on the remote), and the slug pulls and verifies.
pub fn interrupted_push_resumes(remote: &TestRemote) {
    let left = interrupt_push(remote, 3, usize::MAX);
    assert!(
        !left.without_idx.is_empty(),
        "the failure left no pack without idx"
    );
    resume_push(remote, &left);
}

/// The reverse: pack uploads fail after two, so idx files arrive without their pack. Readers must
/// not count such an idx (its objects are not there); the rerun uploads the missing packs.
pub fn interrupted_push_with_idx_but_no_pack_resumes(remote: &TestRemote) {
    let left = interrupt_push(remote, 3, 2);
    assert!(
        !left.without_pack.is_empty(),
        "the failure left no idx without pack"
    );
    resume_push(remote, &left);
}

/// A remote that refuses every upload, slowly (each refusal comes after a delay, like an S3 endpoint
/// answering 403 after a few seconds), and a slug of many more packs than the uploaders and their
/// queue hold: the push ends, with the refusal, once the uploads in flight have been refused; no
/// other pack is sent after the first refusal; nothing names the slug on the remote. (Packs built
/// while the uploads were failing used to wait for ever on a full queue that no uploader read any
/// more.)
pub fn slowly_refused_push_ends_with_the_first_error(remote: &TestRemote) {
    let dir = remote.scratch.path();
    // Each file its own pack (files larger than the pack size): ~100 packs.
    let (st, slug) = snapshot_tree(dir, &sample_tree(100, 8 << 10));
    let refusing = Failing::new(&*remote.backend, 0, 0, Duration::from_millis(300));
    let err = {
        let _deadline = watchdog(PUSH_DEADLINE, "a push to a remote refusing every upload");
        push_with(&st, &slug, &refusing, 4 << 10).unwrap_err()
    };
    assert!(err.to_string().contains("injected"), "{err}");
    let tried = refusing.pack_puts.load(Ordering::SeqCst);
    assert!(
        (1..=TRANSFERS).contains(&tried),
        "{tried} pack uploads tried; at most {TRANSFERS} are in flight when the first is refused"
    );
    let b = &*remote.backend;
    assert_eq!(b.get(&layout::ref_key(REF)).unwrap(), None);
    assert_eq!(b.get(&layout::slug_key(&slug)).unwrap(), None);
    assert_eq!(b.list(layout::PACKS_DIR).unwrap(), vec![]);
    assert_verifies(&st);
}

/// The same for a pull (checked by reading; no queue there): a remote whose ranged reads all fail
/// slowly, after the manifest, fails the pull with that error after at most one read per transfer
/// thread, and the local store gains nothing.
pub fn slowly_failing_pull_ends_with_the_first_error(remote: &TestRemote) {
    let dir = remote.scratch.path();
    let (st, slug) = snapshot_tree(dir, &sample_tree(100, 8 << 10));
    push_with(&st, &slug, &*remote.backend, 4 << 10).expect("push");
    let failing = Failing::new(
        &*remote.backend,
        usize::MAX,
        usize::MAX,
        Duration::from_millis(300),
    );
    failing.ranges_left.store(1, Ordering::SeqCst);
    let fresh = store::init(&dir.join("fresh"));
    let err = {
        let _deadline = watchdog(PUSH_DEADLINE, "a pull from a remote failing every read");
        pull_into(&fresh, &failing, REF).unwrap_err()
    };
    assert!(err.to_string().contains("injected"), "{err}");
    let tried = failing.range_gets.load(Ordering::SeqCst);
    assert!(
        (2..=1 + TRANSFERS).contains(&tried),
        "{tried} ranged reads; the manifest's, then at most one per transfer thread"
    );
    assert!(fresh.slugs().unwrap().is_empty());
    assert_eq!(fresh.index().get_ref(REF).unwrap(), None);
    assert_verifies(&fresh);
}

/// Longest a push of these tests may take before the test process is aborted as hung.
const PUSH_DEADLINE: Duration = Duration::from_secs(120);

/// What a failed push left on a remote.
struct Interrupted {
    st: Store,
    slug: SlugId,
    without_idx: Vec<String>,
    without_pack: Vec<String>,
}

const INTERRUPTED_PACK_SIZE: u64 = 256 << 10;

fn interrupt_push(remote: &TestRemote, idx_left: usize, packs_left: usize) -> Interrupted {
    let dir = remote.scratch.path();
    let tree = sample_tree(120, 20 << 10);
    let (st, slug) = snapshot_tree(dir, &tree);
    let failing = Failing::new(&*remote.backend, idx_left, packs_left, Duration::ZERO);
    let err = {
        let _deadline = watchdog(PUSH_DEADLINE, "a push failing after a few uploads");
        push_with(&st, &slug, &failing, INTERRUPTED_PACK_SIZE).unwrap_err()
    };
    assert!(err.to_string().contains("injected"), "{err}");
    let b = &*remote.backend;
    assert_eq!(b.get(&layout::ref_key(REF)).unwrap(), None);
    assert_eq!(b.get(&layout::slug_key(&slug)).unwrap(), None);
    let keys: Vec<String> = b
        .list(layout::PACKS_DIR)
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let lacking = |have: &str, want: &str| -> Vec<String> {
        keys.iter()
            .filter_map(|k| k.strip_suffix(have).map(|k| format!("{k}{want}")))
            .filter(|k| !keys.contains(k))
            .collect()
    };
    // What a reader sees as arrived: the objects of packs listed with their idx, and no other.
    let complete = remote_packs(b);
    let arrived: u64 = complete.iter().map(|p| p.entries.len() as u64).sum();
    assert!(arrived > 0, "no complete pack arrived before the failure");
    Interrupted {
        st,
        slug,
        without_idx: lacking(".pack", ".idx"),
        without_pack: lacking(".idx", ".pack"),
    }
}

fn resume_push(remote: &TestRemote, left: &Interrupted) {
    let b = &*remote.backend;
    let arrived: u64 = remote_packs(b).iter().map(|p| p.entries.len() as u64).sum();
    let r = push_with(&left.st, &left.slug, b, INTERRUPTED_PACK_SIZE).expect("rerun");
    assert_eq!(r.packs_skipped, left.without_idx.len() as u64, "{r:?}");
    assert!(r.objects_present >= arrived, "{r:?}");
    assert!(r.packs_uploaded >= left.without_pack.len() as u64, "{r:?}");
    assert_eq!(r.objects_uploaded + r.objects_present, r.objects);
    for key in left.without_idx.iter().chain(&left.without_pack) {
        assert!(b.exists(key).unwrap(), "{key} still missing");
    }
    assert_eq!(
        b.get(&layout::ref_key(REF)).unwrap().as_deref(),
        Some(format!("{}\n", left.slug.to_hex()).as_bytes())
    );
    pull_and_compare(
        b,
        &remote.scratch.path().join("pull"),
        &left.slug,
        &remote.scratch.path().join("tree"),
    );
}

/// Two stores push the same slug to one remote at the same time: both succeed, and the remote
/// holds a slug that pulls and verifies.
pub fn concurrent_pushes_of_one_slug(remote: &TestRemote) {
    let b = &*remote.backend;
    let dir = remote.scratch.path();
    let tree = sample_tree(60, 8000);
    let (st1, slug) = snapshot_tree(&dir.join("one"), &tree);
    let (st2, slug2) = snapshot_tree(&dir.join("two"), &tree);
    assert_eq!(slug, slug2);
    std::thread::scope(|s| {
        let h1 = s.spawn(|| push_with(&st1, &slug, b, 64 << 10));
        let h2 = s.spawn(|| push_with(&st2, &slug, b, 64 << 10));
        h1.join().unwrap().expect("push one");
        h2.join().unwrap().expect("push two");
    });
    pull_and_compare(b, &dir.join("pull"), &slug, &dir.join("one/tree"));
}

/// Every complete pack of a remote (listed with its idx), from its idx.
pub fn remote_packs(b: &dyn Backend) -> Vec<PackIdx> {
    let keys = b.list(layout::PACKS_DIR).unwrap();
    keys.iter()
        .filter_map(|(key, _)| layout::pack_of_idx_key(key))
        .filter(|pack| keys.iter().any(|(k, _)| *k == layout::pack_key(pack)))
        .map(|pack| {
            let bytes = b.get(&layout::idx_key(&pack)).unwrap().unwrap();
            PackIdx::decode(&bytes, &pack, "idx").unwrap()
        })
        .collect()
}

/// A backend whose idx uploads start failing after `idx_left` of them, and pack uploads after
/// `packs_left`: a connection lost midway, after some packs arrived, some without their idx or idx
/// files without their pack. Ranged reads fail after `ranges_left` (a remote gone during a pull).
struct Failing<'a> {
    inner: &'a dyn Backend,
    idx_left: AtomicUsize,
    packs_left: AtomicUsize,
    /// How long a refused upload takes to fail.
    delay: Duration,
    /// Pack uploads tried.
    pack_puts: AtomicUsize,
    /// Ranged reads let through before the others fail (all, unless a test lowers it).
    ranges_left: AtomicUsize,
    /// Ranged reads tried.
    range_gets: AtomicUsize,
}

impl<'a> Failing<'a> {
    /// Lets `idx_left` idx uploads and `packs_left` pack uploads through to `inner`, then refuses
    /// the others, each after `delay`.
    fn new(inner: &'a dyn Backend, idx_left: usize, packs_left: usize, delay: Duration) -> Self {
        Failing {
            inner,
            idx_left: AtomicUsize::new(idx_left),
            packs_left: AtomicUsize::new(packs_left),
            delay,
            pack_puts: AtomicUsize::new(0),
            ranges_left: AtomicUsize::new(usize::MAX),
            range_gets: AtomicUsize::new(0),
        }
    }

    /// Takes one from `left`; an error, after the delay, once none is left.
    fn take_one(&self, left: &AtomicUsize, key: &str) -> slugstore::Result<()> {
        let taken = left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        if taken.is_err() {
            std::thread::sleep(self.delay);
            return Err(slugstore::Error::external(format!(
                "{key}: injected network failure"
            )));
        }
        Ok(())
    }
}

impl fmt::Debug for Failing<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Failing({:?})", self.inner)
    }
}

impl Backend for Failing<'_> {
    fn url(&self) -> &RemoteUrl {
        self.inner.url()
    }
    fn put_if_absent(&self, key: &str, data: Bytes) -> slugstore::Result<PutOutcome> {
        if key.ends_with(".idx") {
            self.take_one(&self.idx_left, key)?;
        }
        self.inner.put_if_absent(key, data)
    }
    fn put(&self, key: &str, data: Bytes) -> slugstore::Result<()> {
        self.inner.put(key, data)
    }
    fn put_file_if_absent(&self, key: &str, path: &Path) -> slugstore::Result<PutOutcome> {
        if key.ends_with(".pack") {
            self.pack_puts.fetch_add(1, Ordering::SeqCst);
            self.take_one(&self.packs_left, key)?;
        }
        self.inner.put_file_if_absent(key, path)
    }
    fn get(&self, key: &str) -> slugstore::Result<Option<Bytes>> {
        self.inner.get(key)
    }
    fn get_to_file(&self, key: &str, path: &Path) -> slugstore::Result<Option<u64>> {
        self.inner.get_to_file(key, path)
    }
    fn get_range(&self, key: &str, range: Range<u64>) -> slugstore::Result<Option<Bytes>> {
        self.range_gets.fetch_add(1, Ordering::SeqCst);
        self.take_one(&self.ranges_left, key)?;
        self.inner.get_range(key, range)
    }
    fn size(&self, key: &str) -> slugstore::Result<Option<u64>> {
        self.inner.size(key)
    }
    fn list(&self, prefix: &str) -> slugstore::Result<Vec<(String, u64)>> {
        self.inner.list(prefix)
    }
    fn delete(&self, key: &str) -> slugstore::Result<()> {
        self.inner.delete(key)
    }
}
