//! A flipped byte anywhere in a stored object is caught: `verify` names the object and every slug and
//! path it breaks, and a restore that needs it fails instead of writing wrong bytes.
//!
//! One store is damaged at many positions in turn (record header fields, data bytes, the manifest); each
//! flip is undone before the next, and the store must verify clean again, which also proves the test
//! damaged only what it meant to.

use std::path::Path;

use slugstore::{NoProgress, ObjectId, SlugId, Store, VerifyOptions};
use slugstore_tests::compare::read_tree;
use slugstore_tests::store::{self, flip_byte, Record};
use slugstore_tests::tree::{content, Tree};

/// Incompressible, so stored raw: every data byte is a content byte.
fn raw_data() -> Vec<u8> {
    content(64 * 1024, 1)
}

/// Compressible, so stored as a zstd frame.
fn text_data() -> Vec<u8> {
    content(64 * 1024, 2)
}

struct Fixture {
    _tmp: tempfile::TempDir,
    store_dir: std::path::PathBuf,
    out_root: std::path::PathBuf,
    /// Has `a/raw.bin`.
    one: SlugId,
    /// Has `a/raw.bin` and `c/copy.bin` with the same content.
    two: SlugId,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let base = Tree::new()
        .file("a/raw.bin", raw_data())
        .file("a/text.txt", text_data())
        .exec("bin/run", "#!/bin/sh\n");
    let (src1, src2) = (tmp.path().join("src1"), tmp.path().join("src2"));
    base.clone().build(&src1);
    base.file("c/copy.bin", raw_data()).build(&src2);
    let store_dir = tmp.path().join("store");
    let store = store::init(&store_dir);
    let one = store::snapshot(&store, &src1).slug;
    let two = store::snapshot(&store, &src2).slug;
    assert!(slugstore::verify(&store, &VerifyOptions::default(), &NoProgress)
        .unwrap()
        .ok());
    Fixture {
        out_root: tmp.path().join("out"),
        store_dir,
        one,
        two,
        _tmp: tmp,
    }
}

/// What a damaged object must break.
struct Expect<'a> {
    id: ObjectId,
    used_by: Vec<(SlugId, &'a str)>,
}

/// Flips the byte at `offset` of `rec`'s pack, checks verify and restore, then undoes the flip.
fn check_damage(f: &Fixture, rec: &Record, offset: u64, what: &str, expect: &Expect<'_>) {
    flip_byte(&rec.pack, offset);
    let store = store::open(&f.store_dir);

    let report = slugstore::verify(&store, &VerifyOptions::default(), &NoProgress).unwrap();
    assert!(!report.ok(), "{what}: verify found nothing");
    let ids: Vec<_> = report.bad.iter().map(|b| b.id).collect();
    assert_eq!(ids, vec![expect.id], "{what}: wrong objects reported");
    let bad = &report.bad[0];
    assert!(!bad.problem.is_empty());
    let mut used_by: Vec<_> = bad.used_by.iter().map(|(s, p)| (*s, p.as_str())).collect();
    let mut want = expect.used_by.clone();
    used_by.sort();
    want.sort();
    assert_eq!(used_by, want, "{what}: wrong slugs/paths reported");

    for (slug, path) in &expect.used_by {
        check_restore_fails(&store, slug, path, &expect.id, &f.out_root, what);
    }

    drop(store);
    flip_byte(&rec.pack, offset);
    let store = store::open(&f.store_dir);
    let report = slugstore::verify(&store, &VerifyOptions::default(), &NoProgress).unwrap();
    assert!(report.ok(), "{what}: still damaged after undoing the flip: {:?}", report.bad);
}

/// A restore of `slug` fails naming `id`, and nothing is at `path` (`(manifest)`: nothing at all).
fn check_restore_fails(store: &Store, slug: &SlugId, path: &str, id: &ObjectId, root: &Path, what: &str) {
    let dest = tempfile::tempdir_in(root.parent().unwrap()).unwrap();
    let err = store::restore(store, slug, dest.path())
        .expect_err(&format!("{what}: restore of {slug} succeeded"))
        .to_string();
    assert!(err.contains(&id.to_hex()) || err.contains(&id.short(12)), "{what}: {err}");
    let written = read_tree(dest.path());
    if path == "(manifest)" {
        assert!(written.is_empty(), "{what}: restore wrote {written:?}");
    } else {
        assert!(err.contains(path), "{what}: error does not name {path}: {err}");
        assert!(!written.contains_key(path.as_bytes()), "{what}: {path} was written");
    }
}

#[test]
fn a_flipped_byte_in_a_raw_object_is_named_and_never_restored() {
    let f = fixture();
    let id = ObjectId::hash(&raw_data());
    let rec = Record::of(&store::open(&f.store_dir), &id);
    let expect = Expect {
        id,
        used_by: vec![(f.one, "a/raw.bin"), (f.two, "a/raw.bin"), (f.two, "c/copy.bin")],
    };
    let len = rec.loc.stored_len;
    assert_eq!(len, raw_data().len() as u64, "expected the object to be stored raw");
    for (what, offset) in [
        ("first data byte", rec.data_byte(0)),
        ("middle data byte", rec.data_byte(len / 2)),
        ("last data byte", rec.data_byte(len - 1)),
        ("header: object id", rec.header_byte(5)),
        ("header: codec", rec.header_byte(32)),
        ("header: raw length", rec.header_byte(33)),
        ("header: stored length", rec.header_byte(41)),
    ] {
        check_damage(&f, &rec, offset, what, &expect);
    }
}

#[test]
fn a_flipped_byte_in_a_compressed_object_is_named_and_never_restored() {
    let f = fixture();
    let id = ObjectId::hash(&text_data());
    let rec = Record::of(&store::open(&f.store_dir), &id);
    let len = rec.loc.stored_len;
    assert!(len < text_data().len() as u64, "expected the object to be compressed");
    let expect = Expect {
        id,
        used_by: vec![(f.one, "a/text.txt"), (f.two, "a/text.txt")],
    };
    for (what, offset) in [
        ("compressed data, middle", rec.data_byte(len / 2)),
        ("compressed data, last byte", rec.data_byte(len - 1)),
        ("header: stored length", rec.header_byte(41)),
    ] {
        check_damage(&f, &rec, offset, what, &expect);
    }
}

#[test]
fn a_flipped_byte_in_a_manifest_is_named_and_nothing_is_restored() {
    let f = fixture();
    let id = f.one.object();
    let rec = Record::of(&store::open(&f.store_dir), &id);
    let len = rec.loc.stored_len;
    let expect = Expect {
        id,
        used_by: vec![(f.one, "(manifest)")],
    };
    for (what, offset) in [
        ("manifest data, first byte", rec.data_byte(0)),
        ("manifest data, middle", rec.data_byte(len / 2)),
        ("manifest header: object id", rec.header_byte(0)),
    ] {
        check_damage(&f, &rec, offset, what, &expect);
    }
}
