//! Snapshot then restore gives back the same tree, bit for bit.
//!
//! Random trees (proptest) mix what build trees hold and what breaks naive archivers: nested and empty
//! directories, empty files, executable files, symlinks (relative, absolute, dangling, with non-UTF-8
//! targets), names that are not UTF-8, repeated contents, and now and then a file of 1-3 MiB. Sizes and
//! case counts are kept modest so the suite stays quick; one deterministic test covers files above the
//! in-memory limit, which take the streaming paths of both snapshot and restore.

use std::collections::BTreeMap;

use proptest::prelude::*;
use slugstore::store::IN_MEMORY_LIMIT;
use slugstore_tests::compare::{assert_same_tree, read_tree};
use slugstore_tests::store::{self, Record};
use slugstore_tests::tree::{content, Node, Tree};

/// A generated directory tree, before it is flattened into a [`Tree`].
#[derive(Debug, Clone)]
enum Gen {
    Dir(BTreeMap<Vec<u8>, Gen>),
    File { len: usize, seed: u64, exec: bool },
    Link(Vec<u8>),
}

fn name() -> impl Strategy<Value = Vec<u8>> {
    let raw = prop::collection::vec(
        any::<u8>().prop_filter("no NUL or /", |b| *b != 0 && *b != b'/'),
        1..10,
    )
    .prop_filter("not . or ..", |n| n != b"." && n != b"..");
    prop_oneof![
        3 => "[a-z][a-z0-9_.-]{0,11}".prop_map(String::into_bytes),
        1 => raw,
        1 => prop_oneof![
            Just(b"caf\xc3\xa9.php".to_vec()),
            Just(b"\xff\xfe".to_vec()),
            Just(b"latin1-\xe9t\xe9".to_vec()),
            Just(b"with space".to_vec()),
            Just(b".hidden".to_vec()),
        ],
    ]
}

fn link_target() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        "[a-z]{1,8}".prop_map(String::into_bytes),
        "(\\.\\./){1,3}[a-z]{1,8}".prop_map(String::into_bytes),
        Just(b"/etc/passwd".to_vec()),
        Just(b"/nonexistent/dangling/target".to_vec()),
        Just(b".".to_vec()),
        Just(b"sub/\xff\xfe-target".to_vec()),
    ]
}

fn file() -> impl Strategy<Value = Gen> {
    let len = prop_oneof![
        2 => Just(0usize),
        6 => 1usize..2048,
        2 => 2048usize..128 * 1024,
    ];
    prop_oneof![
        5 => (len, 0u64..6, any::<bool>()).prop_map(|(len, seed, exec)| Gen::File { len, seed, exec }),
        // The same content at several paths: stored once, restored everywhere.
        1 => Just(Gen::File { len: 700, seed: 3, exec: false }),
    ]
}

fn node() -> impl Strategy<Value = Gen> {
    let leaf = prop_oneof![
        6 => file(),
        2 => link_target().prop_map(Gen::Link),
        1 => Just(Gen::Dir(BTreeMap::new())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop::collection::btree_map(name(), inner, 0..6).prop_map(Gen::Dir)
    })
}

fn tree() -> impl Strategy<Value = Tree> {
    let root = prop::collection::btree_map(name(), node(), 0..8);
    let big = proptest::option::weighted(0.3, (1usize << 20..3 << 20, any::<u64>()));
    (root, big).prop_map(|(root, big)| {
        let mut t = Tree::new();
        for (name, g) in root {
            // The default mounts are left out of slugs; keep generated names clear of them.
            let name = if [&b"var"[..], b"app", b"pub"].contains(&name.as_slice()) {
                [name.as_slice(), b"_"].concat()
            } else {
                name
            };
            flatten(&mut t, name, g);
        }
        if let Some((len, seed)) = big {
            t = t.file(b"big-\xffblob".as_slice(), content(len, seed));
        }
        t
    })
}

fn flatten(t: &mut Tree, path: Vec<u8>, g: Gen) {
    match g {
        Gen::Dir(children) => {
            t.entries.insert(path.clone(), Node::Dir);
            for (name, child) in children {
                flatten(t, [path.as_slice(), b"/", &name].concat(), child);
            }
        }
        Gen::File { len, seed, exec } => {
            t.entries.insert(
                path,
                Node::File {
                    data: content(len, seed),
                    exec,
                },
            );
        }
        Gen::Link(target) => {
            t.entries.insert(path, Node::Symlink(target));
        }
    }
}

/// Snapshots `spec` built on disk, restores it elsewhere, and checks the copy and the slug.
fn round_trip(spec: &Tree) {
    let tmp = tempfile::tempdir().unwrap();
    let (src, out, again) = (
        tmp.path().join("src"),
        tmp.path().join("out"),
        tmp.path().join("again"),
    );
    spec.build(&src);
    let store = store::init(&tmp.path().join("store"));
    let report = store::snapshot(&store, &src);

    let count = |f: fn(&Node) -> bool| spec.entries.values().filter(|n| f(n)).count() as u64;
    assert_eq!(report.tree.files, count(|n| matches!(n, Node::File { .. })));
    assert_eq!(
        report.tree.symlinks,
        count(|n| matches!(n, Node::Symlink(_)))
    );
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);

    store::restore(&store, &report.slug, &out).unwrap();
    assert_same_tree(&src, &out);
    let built = read_tree(&src);
    let absent: Vec<_> = spec
        .entries
        .keys()
        .filter(|p| !built.contains_key(*p))
        .collect();
    assert!(
        absent.is_empty(),
        "the spec was not built as written: {absent:?}"
    );

    // The restored tree is the same tree: snapshotting it gives the same id and stores nothing.
    let objects = store::object_count(&store);
    let re = store::snapshot(&store, &out);
    assert_eq!(re.slug, report.slug);
    assert_eq!(re.new_objects, 0);
    assert_eq!(store::object_count(&store), objects);

    // A restore from a reopened store (packs read from disk, not from the writer) is identical too.
    drop(store);
    let store = store::open(&tmp.path().join("store"));
    store::restore(&store, &report.slug, &again).unwrap();
    assert_same_tree(&src, &again);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 20, ..ProptestConfig::default() })]

    #[test]
    fn random_trees_restore_bit_exact(spec in tree()) {
        round_trip(&spec);
    }
}

#[test]
fn fixed_tree_with_every_kind_of_entry_restores_bit_exact() {
    let spec = Tree::new()
        .dir("empty")
        .dir("a/b/c/empty-too")
        .file("empty-file", "")
        .file("a/b/c/deep.php", content(5000, 2))
        .exec("bin/magento", "#!/usr/bin/env php\n")
        .file(b"names/\xff\xfe\xfd".as_slice(), "not UTF-8")
        .file(b"names/caf\xc3\xa9".as_slice(), "UTF-8")
        .symlink("links/relative", "../a/b/c/deep.php")
        .symlink("links/absolute", "/etc/hostname")
        .symlink("links/dangling", "no/such/file")
        .symlink("links/to-dir", "../a")
        .symlink(b"links/bytes".as_slice(), b"\xff\xfe/target".as_slice());
    round_trip(&spec);
}

/// Files above the in-memory limit are hashed from a mapping, streamed into a pack of their own and
/// streamed back out through a temporary file: both directions, compressible or not.
#[test]
fn files_above_the_in_memory_limit_restore_bit_exact() {
    let big = IN_MEMORY_LIMIT as usize + 1024 * 1024 + 7;
    let spec = Tree::new()
        .file("big/text.log", content(big, 4))
        .exec("big/random.bin", content(big, 5))
        .file("small.txt", "small");
    round_trip(&spec);
}

/// A damaged large object makes its restore fail without leaving the file or its temporary behind.
#[test]
fn damaged_large_file_is_not_restored() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let data = content(IN_MEMORY_LIMIT as usize + 4096, 5);
    Tree::new().file("big.bin", data.clone()).build(&src);
    let store_dir = tmp.path().join("store");
    let store = store::init(&store_dir);
    let slug = store::snapshot(&store, &src).slug;
    let id = slugstore::ObjectId::hash(&data);
    let rec = Record::of(&store, &id);
    drop(store);
    store::flip_byte(&rec.pack, rec.data_byte(rec.loc.stored_len / 2));

    let store = store::open(&store_dir);
    let out = tmp.path().join("out");
    let err = store::restore(&store, &slug, &out).unwrap_err().to_string();
    assert!(
        err.contains(&id.to_hex()) && err.contains("big.bin"),
        "{err}"
    );
    assert!(
        read_tree(&out).is_empty(),
        "restore left {:?}",
        read_tree(&out)
    );
}

/// Each compression setting stores what it says (raw records when off, zstd frames otherwise, also
/// for a file above the in-memory limit, which is streamed), restores bit-exact, and a store holds
/// objects of different settings side by side: a later snapshot at another level deduplicates against
/// them and reads them back.
#[test]
fn every_compression_setting_round_trips_and_settings_mix_in_one_store() {
    use slugstore::store::{Codec, Compression, OpenOptions};
    use slugstore::Store;
    let big = IN_MEMORY_LIMIT as usize + 1024 * 1024 + 7;
    let text = |seed: u64, len: usize| -> Vec<u8> {
        let line = format!("<?php // line of generated source {seed}\n");
        line.as_bytes().iter().copied().cycle().take(len).collect()
    };
    for (i, compression) in [
        Compression::Off,
        Compression::Zstd(-5),
        Compression::Zstd(9),
    ]
    .into_iter()
    .enumerate()
    {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        Tree::new()
            .file("app/code.php", text(i as u64, 20_000))
            .file("big/log.txt", text(i as u64 + 10, big))
            .exec("bin/tool", content(3000, i as u64))
            .build(&src);
        let dir = tmp.path().join("store");
        let opts = OpenOptions {
            compression,
            ..OpenOptions::default()
        };
        let store = Store::init(&dir, &opts).unwrap();
        let slug = store::snapshot(&store, &src).slug;
        for rel in ["app/code.php", "big/log.txt"] {
            let data = std::fs::read(src.join(rel)).unwrap();
            let rec = Record::of(&store, &slugstore::ObjectId::hash(&data));
            assert_eq!(rec.loc.raw_len, data.len() as u64, "{rel}");
            match compression {
                Compression::Off => {
                    assert_eq!(rec.loc.codec, Codec::Raw, "{compression} {rel}");
                    assert_eq!(rec.loc.stored_len, data.len() as u64, "{compression} {rel}");
                }
                Compression::Zstd(_) => {
                    assert_eq!(rec.loc.codec, Codec::Zstd, "{compression} {rel}");
                    assert!(
                        rec.loc.stored_len * 10 < data.len() as u64,
                        "{compression} {rel}"
                    );
                }
            }
        }
        let out = tmp.path().join("out");
        store::restore(&store, &slug, &out).unwrap();
        assert_same_tree(&src, &out);
        drop(store);

        // Reopened at the default level: the old objects are found and read, a new one is compressed.
        let store = store::open(&dir);
        std::fs::write(src.join("app/new.php"), text(99, 5000)).unwrap();
        let re = store::snapshot(&store, &src);
        assert_eq!(re.new_objects, 1, "only the new file; {compression}");
        let new = Record::of(&store, &slugstore::ObjectId::hash(&text(99, 5000)));
        assert_eq!(new.loc.codec, Codec::Zstd);
        let again = tmp.path().join("again");
        store::restore(&store, &re.slug, &again).unwrap();
        assert_same_tree(&src, &again);
    }
}
