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
    assert!(
        slugstore::verify(&store, &VerifyOptions::default(), &NoProgress)
            .unwrap()
            .ok()
    );
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

    let mut slugs: Vec<SlugId> = expect.used_by.iter().map(|(s, _)| *s).collect();
    slugs.dedup();
    for slug in &slugs {
        let paths: Vec<&str> = expect
            .used_by
            .iter()
            .filter(|(s, _)| s == slug)
            .map(|(_, p)| *p)
            .collect();
        check_restore_fails(&store, slug, &paths, &expect.id, &f.out_root, what);
    }

    drop(store);
    flip_byte(&rec.pack, offset);
    let store = store::open(&f.store_dir);
    let report = slugstore::verify(&store, &VerifyOptions::default(), &NoProgress).unwrap();
    assert!(
        report.ok(),
        "{what}: still damaged after undoing the flip: {:?}",
        report.bad
    );
}

/// A restore of `slug` fails naming `id` and one of `paths` (the restore stops at the first it meets),
/// and none of `paths` is written; for a damaged manifest (`(manifest)`) nothing is written at all.
fn check_restore_fails(
    store: &Store,
    slug: &SlugId,
    paths: &[&str],
    id: &ObjectId,
    out_root: &Path,
    what: &str,
) {
    std::fs::create_dir_all(out_root).unwrap();
    let dest = tempfile::tempdir_in(out_root).unwrap();
    let err = store::restore(store, slug, dest.path())
        .expect_err(&format!("{what}: restore of {slug} succeeded"))
        .to_string();
    assert!(
        err.contains(&id.to_hex()) || err.contains(&id.short(12)),
        "{what}: error does not name the object: {err}"
    );
    let written = read_tree(dest.path());
    if paths == ["(manifest)"] {
        assert!(written.is_empty(), "{what}: restore wrote {written:?}");
        return;
    }
    assert!(
        paths.iter().any(|p| err.contains(p)),
        "{what}: error names none of {paths:?}: {err}"
    );
    for p in paths {
        assert!(
            !written.contains_key(p.as_bytes()),
            "{what}: {p} was written"
        );
    }
}

#[test]
fn a_flipped_byte_in_a_raw_object_is_named_and_never_restored() {
    let f = fixture();
    let id = ObjectId::hash(&raw_data());
    let rec = Record::of(&store::open(&f.store_dir), &id);
    let expect = Expect {
        id,
        used_by: vec![
            (f.one, "a/raw.bin"),
            (f.two, "a/raw.bin"),
            (f.two, "c/copy.bin"),
        ],
    };
    let len = rec.loc.stored_len;
    assert_eq!(
        len,
        raw_data().len() as u64,
        "expected the object to be stored raw"
    );
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
    assert!(
        len < text_data().len() as u64,
        "expected the object to be compressed"
    );
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
