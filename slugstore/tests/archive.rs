//! Slug archives: export is extracted bit-exact by GNU tar and is deterministic; import gives back the
//! same slug; hostile archives are refused, naming the member, writing nothing and committing nothing.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use slugstore::archive::{
    export_to_path, import, import_path, ExportOptions, ImportLimits, ImportOptions,
};
use slugstore::slug::EntryKind;
use slugstore::store::OpenOptions;
use slugstore::{snapshot, NoProgress, SlugId, SnapshotOptions, Store};

fn init_store(dir: &Path) -> Store {
    Store::init(dir, &OpenOptions::default()).unwrap()
}

fn os(b: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(b))
}

/// Pseudo-random bytes (xorshift), so large files do not compress to nothing.
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        v.extend_from_slice(&seed.to_le_bytes());
    }
    v.truncate(len);
    v
}

fn write(path: &Path, bytes: &[u8], mode: u32) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// A tree with everything an archive must carry: modes, symlinks (long targets, in-tree `..`), empty
/// directories, non-UTF-8 and very long names, empty and large (streamed) files.
fn sample_tree(root: &Path) {
    write(&root.join("index.php"), b"<?php echo 1;\n", 0o644);
    write(&root.join("bin/console"), b"#!/usr/bin/env php\n", 0o755);
    write(&root.join("app/code/Module.php"), &noise(5000, 1), 0o644);
    write(&root.join("app/empty.txt"), b"", 0o644);
    write(&root.join("big/blob.bin"), &noise(9 << 20, 2), 0o644);
    write(
        &root.join(os(b"caf\xe9/na\xefve.txt")),
        b"latin-1 names",
        0o644,
    );
    write(&root.join("caf\u{e9}-utf8.txt"), b"utf-8 name", 0o755);
    write(&root.join("sp ace/tab\tname"), b"whitespace", 0o644);
    let deep: PathBuf = (0..6).map(|i| format!("{i}-{}", "d".repeat(60))).collect();
    write(&root.join(&deep).join("f".repeat(200)), b"deep", 0o644);
    fs::create_dir_all(root.join("empty/nested-empty")).unwrap();
    symlink("../index.php", root.join("bin/index-link")).unwrap();
    symlink("app/code", root.join("code-link")).unwrap();
    symlink(&deep, root.join("long-target-link")).unwrap();
    symlink(os(b"caf\xe9"), root.join(os(b"link-\xff"))).unwrap();
    symlink("no/such/file", root.join("dangling")).unwrap();
}

#[derive(Debug, PartialEq, Eq)]
enum Node {
    Dir(u32),
    File(u32, Vec<u8>),
    Link(PathBuf),
}

/// Everything below `root`: kind, permission bits, bytes, link targets.
fn describe(root: &Path) -> BTreeMap<PathBuf, Node> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Node>) {
        for e in fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let m = fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(root).unwrap().to_path_buf();
            let mode = m.permissions().mode() & 0o7777;
            if m.file_type().is_symlink() {
                out.insert(rel, Node::Link(fs::read_link(&p).unwrap()));
            } else if m.is_dir() {
                out.insert(rel, Node::Dir(mode));
                walk(root, &p, out);
            } else {
                out.insert(rel, Node::File(mode, fs::read(&p).unwrap()));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn snap(store: &Store, tree: &Path) -> SlugId {
    snapshot(store, tree, &SnapshotOptions::default(), &NoProgress)
        .unwrap()
        .slug
}

fn export(store: &Store, id: &SlugId, path: &Path) {
    export_to_path(store, id, path, &ExportOptions::default(), &NoProgress).unwrap();
}

/// Runs the system tar (C locale, so names are not converted) and checks it is silent.
fn gnu_tar(args: &[&OsStr]) {
    let out = Command::new("tar")
        .env("LC_ALL", "C")
        .args(args)
        .output()
        .expect("GNU tar is installed");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "tar {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn gnu_tar_extracts_an_export_bit_exact_and_import_gives_the_same_slug() {
    let t = tempfile::tempdir().unwrap();
    let tree = t.path().join("tree");
    sample_tree(&tree);
    let store = init_store(&t.path().join("store"));
    let id = snap(&store, &tree);
    let want = describe(&tree);

    for (name, flag) in [
        ("s.tar.zst", "--zstd"),
        ("s.tar.gz", "--gzip"),
        ("s.tar", ""),
    ] {
        let archive = t.path().join(name);
        export(&store, &id, &archive);
        let out = t.path().join(format!("x-{name}"));
        fs::create_dir(&out).unwrap();
        let mut args: Vec<&OsStr> = vec![OsStr::new("-xpf"), archive.as_os_str()];
        if !flag.is_empty() {
            args.push(OsStr::new(flag));
        }
        args.extend([OsStr::new("-C"), out.as_os_str()]);
        gnu_tar(&args);
        assert_eq!(describe(&out), want, "{name} extracted differently");

        // Determinism: a second export of the slug is the same bytes.
        let again = t.path().join(format!("again-{name}"));
        export(&store, &id, &again);
        assert_eq!(fs::read(&archive).unwrap(), fs::read(&again).unwrap());

        // Import into a fresh store gives the same slug, which restores to the same tree.
        let other = t.path().join(format!("store-{name}"));
        let other_store = init_store(&other);
        let r = import_path(
            &other_store,
            &archive,
            &ImportOptions::default(),
            &NoProgress,
        )
        .unwrap();
        assert_eq!(r.slug, id, "{name}");
        assert!(r.new_slug);
        let restored = t.path().join(format!("restored-{name}"));
        slugstore::restore(
            &other_store,
            &id,
            &restored,
            &Default::default(),
            &NoProgress,
        )
        .unwrap();
        assert_eq!(describe(&restored), want);
        // Large members went through a temporary file, which is gone.
        assert_eq!(fs::read_dir(other.join("tmp")).unwrap().count(), 0);
    }
    let gz = Command::new("gzip")
        .arg("-t")
        .arg(t.path().join("s.tar.gz"))
        .status()
        .unwrap();
    assert!(gz.success());
}

#[test]
fn archives_made_by_gnu_tar_import_as_the_snapshot_of_the_tree() {
    let t = tempfile::tempdir().unwrap();
    let tree = t.path().join("tree");
    sample_tree(&tree);
    let store = init_store(&t.path().join("store"));
    let id = snap(&store, &tree);
    // GNU tar's own formats: `./` prefixes, the root member, ././@LongLink names, real owners and times.
    for format in ["gnu", "posix"] {
        let archive = t.path().join(format!("{format}.tar"));
        gnu_tar(&[
            OsStr::new("-cf"),
            archive.as_os_str(),
            OsStr::new(&format!("--format={format}")),
            OsStr::new("-C"),
            tree.as_os_str(),
            OsStr::new("."),
        ]);
        let r = import_path(&store, &archive, &ImportOptions::default(), &NoProgress).unwrap();
        assert_eq!(r.slug, id, "format {format}");
        assert!(!r.new_slug);
    }
}

/// Builds tar archives member by member, hostile ones included (no checks on names).
#[derive(Default)]
struct TarBuilder(Vec<u8>);

impl TarBuilder {
    fn raw(&mut self, name: &[u8], kind: tar::EntryType, size: u64, link: &[u8], data: &[u8]) {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(0o644);
        h.set_size(size);
        h.as_old_mut().name[..name.len()].copy_from_slice(name);
        h.as_old_mut().linkname[..link.len()].copy_from_slice(link);
        h.set_cksum();
        self.0.extend_from_slice(h.as_bytes());
        self.0.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        self.0.resize(self.0.len() + pad, 0);
    }
    fn file(mut self, name: &str, data: &[u8]) -> Self {
        self.raw(
            name.as_bytes(),
            tar::EntryType::Regular,
            data.len() as u64,
            b"",
            data,
        );
        self
    }
    fn dir(mut self, name: &str) -> Self {
        self.raw(name.as_bytes(), tar::EntryType::Directory, 0, b"", b"");
        self
    }
    fn link(mut self, kind: tar::EntryType, name: &str, target: &str) -> Self {
        self.raw(name.as_bytes(), kind, 0, target.as_bytes(), b"");
        self
    }
    fn symlink(self, name: &str, target: &str) -> Self {
        self.link(tar::EntryType::Symlink, name, target)
    }
    fn pax(mut self, records: &[(&str, &str)]) -> Self {
        let mut data = Vec::new();
        for (k, v) in records {
            let rest = k.len() + v.len() + 3;
            let mut n = rest + 1;
            while n != rest + n.to_string().len() {
                n = rest + n.to_string().len();
            }
            data.extend_from_slice(format!("{n} {k}={v}\n").as_bytes());
        }
        self.raw(
            b"././@PaxHeader",
            tar::EntryType::XHeader,
            data.len() as u64,
            b"",
            &data.clone(),
        );
        self
    }
    fn end(mut self) -> Vec<u8> {
        self.0.extend_from_slice(&[0; 1024]);
        self.0
    }
}

/// Every path under `dir`, except the store.
fn listing(dir: &Path) -> Vec<PathBuf> {
    describe(dir)
        .into_keys()
        .filter(|p| !p.starts_with("store"))
        .collect()
}

/// Imports `bytes` (as a file) into a fresh store and returns the error, after checking the import
/// wrote nothing outside the store and committed no slug and no ref.
fn refused_with(bytes: &[u8], opts: &ImportOptions) -> String {
    let t = tempfile::tempdir().unwrap();
    let store_dir = t.path().join("store");
    let store = init_store(&store_dir);
    fs::create_dir(t.path().join("outside")).unwrap();
    let archive = t.path().join("evil.tar");
    fs::write(&archive, bytes).unwrap();
    let before = listing(t.path());
    let err = import_path(&store, &archive, opts, &NoProgress)
        .expect_err("hostile archive accepted")
        .to_string();
    assert_eq!(listing(t.path()), before, "import wrote outside the store");
    assert!(store.slugs().unwrap().is_empty(), "a slug was committed");
    assert!(store.index().refs().unwrap().is_empty());
    let leftovers = fs::read_dir(store_dir.join("tmp"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains("import")
        })
        .count();
    assert_eq!(leftovers, 0, "temporary files left in the store");
    err
}

fn refused(bytes: &[u8]) -> String {
    refused_with(
        bytes,
        &ImportOptions {
            ref_name: Some("evil".into()),
            ..Default::default()
        },
    )
}

fn assert_names(err: &str, entry: &str, why: &str) {
    assert!(
        err.contains(&format!("entry `{entry}`")) && err.contains(why),
        "error `{err}` should name `{entry}` and say `{why}`"
    );
}

#[test]
fn hostile_paths_are_refused() {
    use tar::EntryType as T;
    let ok = || TarBuilder::default().dir("a").file("a/ok.txt", b"fine");
    let cases: Vec<(Vec<u8>, &str, &str)> = vec![
        (ok().file("/tmp/evil", b"x").end(), "/tmp/evil", "absolute"),
        (ok().file("../evil", b"x").end(), "../evil", "`..`"),
        (
            ok().file("a/../../evil", b"x").end(),
            "a/../../evil",
            "`..`",
        ),
        (ok().dir("a/b/../../..").end(), "a/b/../../..", "`..`"),
        (
            ok().pax(&[("path", "../pax-evil")])
                .file("innocent", b"x")
                .end(),
            "../pax-evil",
            "`..`",
        ),
        (ok().file("a//b", b"x").end(), "a//b", "empty component"),
        (ok().symlink("l", "/etc/passwd").end(), "l", "absolute path"),
        (
            ok().symlink("a/l", "../../x").end(),
            "a/l",
            "above the root",
        ),
        (
            ok().symlink("sub/up", "..")
                .symlink("esc", "sub/up/..")
                .end(),
            "esc",
            "above the root",
        ),
        (
            ok().link(T::Link, "h", "/etc/passwd").end(),
            "h",
            "hard link",
        ),
        (
            ok().link(T::Link, "h", "missing").end(),
            "h",
            "not a regular file earlier",
        ),
        (ok().link(T::Link, "h", "a").end(), "h", "hard link"),
        (ok().link(T::Char, "null", "").end(), "null", "device"),
        (ok().link(T::Block, "sda", "").end(), "sda", "device"),
        (ok().link(T::Fifo, "pipe", "").end(), "pipe", "FIFO"),
        (
            ok().file("a/ok.txt", b"again").end(),
            "a/ok.txt",
            "appears twice",
        ),
        (
            ok().symlink("l", "a").file("l/x", b"through").end(),
            "l/x",
            "symlink",
        ),
        (
            ok().file("l/x", b"first").symlink("l", "a").end(),
            "l",
            "members inside it",
        ),
        (
            ok().file("f", b"file").file("f/x", b"under a file").end(),
            "f/x",
            "regular file",
        ),
        (
            ok().pax(&[("size", "3")]).file("sized", b"four").end(),
            "sized",
            "disagrees",
        ),
    ];
    for (bytes, entry, why) in cases {
        assert_names(&refused(&bytes), entry, why);
    }
}

#[test]
fn lying_sizes_and_truncation_are_refused() {
    // The header promises 4000 bytes; the archive ends after 10.
    let mut b = TarBuilder::default().dir("a");
    b.raw(b"a/cut", tar::EntryType::Regular, 4000, b"", b"only ten b");
    assert_names(&refused(&b.0), "a/cut", "truncated");
    // A large member (streamed through a temporary file) cut short: the temporary file is removed too.
    let mut b = TarBuilder::default();
    b.raw(
        b"big",
        tar::EntryType::Regular,
        20 << 20,
        b"",
        &noise(9 << 20, 3),
    );
    assert_names(&refused(&b.0), "big", "truncated");
    // Cut at a member boundary: every member is whole but the end-of-archive blocks are missing.
    let whole = TarBuilder::default().dir("a").file("a/x", b"data").end();
    assert_names(
        &refused(&whole[..whole.len() - 1024]),
        "a/x",
        "end-of-archive",
    );
    // Cut inside a header.
    let err = refused(&whole[..512 + 100]);
    assert!(err.contains("entry `a`"), "{err}");
    // Nothing at all, or garbage.
    assert!(refused(b"").contains("empty or truncated"));
    assert!(refused(&[7u8; 2048]).contains("not a readable tar archive"));
    // Damaged compression: a checksummed zstd archive with a flipped byte, or cut short.
    let zstd_of = |bytes: &[u8]| {
        let mut enc = zstd::stream::Encoder::new(Vec::new(), 3).unwrap();
        enc.include_checksum(true).unwrap();
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    };
    let mut zst = zstd_of(&whole);
    let mid = zst.len() / 2;
    zst[mid] ^= 0x55;
    refused(&zst);
    let zst = zstd_of(&whole);
    refused(&zst[..zst.len() - 6]);
}

/// Sets header `index`'s (the `index`-th 512-byte block of `bytes`) field at `range` to `value` and
/// recomputes its checksum.
fn patch_header(bytes: &mut [u8], index: usize, range: std::ops::Range<usize>, value: &[u8]) {
    let block = &mut bytes[index * 512..(index + 1) * 512];
    block[range].copy_from_slice(value);
    block[148..156].fill(b' ');
    let sum: u32 = block.iter().map(|&b| u32::from(b)).sum();
    block[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
}

#[test]
fn control_characters_in_names_and_fields_are_escaped_in_errors() {
    let clean = |err: &str| {
        assert!(
            !err.chars().any(char::is_control),
            "raw control character in {err:?}"
        );
    };
    let evil = "a\x1b]0;owned\x07\x1b[2J/../x";
    let err = refused(&TarBuilder::default().file(evil, b"x").end());
    clean(&err);
    assert_names(&err, "a\\x1b]0;owned\\x07\\x1b[2J/../x", "`..`");
    let err = refused(
        &TarBuilder::default()
            .symlink("l\x1b[31m", "/\u{9b}2J")
            .end(),
    );
    clean(&err);
    assert_names(&err, "l\\x1b[31m", "absolute path");
    // The tar crate quotes a malformed numeric field in its own error.
    let mut bytes = TarBuilder::default().file("m", b"x").end();
    patch_header(&mut bytes, 0, 100..108, b"\x1b[2J\x1b]\x07\0");
    let err = refused(&bytes);
    clean(&err);
    assert_names(&err, "m", "\\x1b[2J");
}

#[test]
fn base_256_sizes_that_are_negative_or_over_64_bits_are_refused() {
    let with_size = |field: [u8; 12]| {
        let mut bytes = TarBuilder::default().file("a.txt", b"hello").end();
        patch_header(&mut bytes, 0, 124..136, &field);
        bytes
    };
    let mut field = [0u8; 12];
    field[0] = 0x80;
    field[11] = 5;
    // A base-256 size that fits is read as any other.
    let t = tempfile::tempdir().unwrap();
    let store = init_store(&t.path().join("store"));
    let fits = with_size(field);
    let r = import(
        &store,
        &mut &fits[..],
        "fits.tar",
        None,
        &ImportOptions::default(),
        &NoProgress,
    );
    assert_eq!(r.unwrap().tree.bytes, 5);
    // 2^64 + 5 would read as 5 if the high bytes were ignored.
    field[3] = 1;
    assert_names(&refused(&with_size(field)), "a.txt", "over 64 bits");
    // -5: the tar crate reads it as 2^64 - 5 and fails on its own (naming no member).
    let mut negative = [0xffu8; 12];
    negative[11] = 0xfb;
    assert!(refused(&with_size(negative)).contains("size"));
}

#[test]
fn an_archive_must_end_with_two_zero_blocks() {
    let member = |name: &str| TarBuilder::default().file(name, b"data").0;
    // One zero block, then the end of input.
    let one = [member("a.txt"), vec![0; 512]].concat();
    assert_names(
        &refused(&one),
        "a.txt",
        "single zero block instead of the two",
    );
    // A lone zero block between members: what follows it would be dropped.
    let lone = [
        member("a.txt"),
        vec![0; 512],
        member("b.txt"),
        vec![0; 1024],
    ]
    .concat();
    assert_names(&refused(&lone), "a.txt", "members after it would be lost");
    // Two zero blocks, then the record padding GNU tar writes: accepted.
    let t = tempfile::tempdir().unwrap();
    let store = init_store(&t.path().join("store"));
    let padded = [member("a.txt"), vec![0; 10240 - 1024]].concat();
    let r = import(
        &store,
        &mut &padded[..],
        "ok.tar",
        None,
        &ImportOptions::default(),
        &NoProgress,
    );
    assert_eq!(r.unwrap().tree.files, 1);
}

#[test]
fn names_with_newlines_round_trip_through_pax_headers() {
    let t = tempfile::tempdir().unwrap();
    let tree = t.path().join("tree");
    write(&tree.join("new\nline.txt"), b"a name with a newline", 0o644);
    symlink("new\nline.txt", tree.join("link\n")).unwrap();
    let store = init_store(&t.path().join("store"));
    let id = snap(&store, &tree);
    let archive = t.path().join("newlines.tar");
    export(&store, &id, &archive);
    let r = import_path(&store, &archive, &ImportOptions::default(), &NoProgress).unwrap();
    assert_eq!(r.slug, id);
}

#[test]
fn limits_stop_bombs() {
    let many = (0..20)
        .fold(TarBuilder::default(), |b, i| b.file(&format!("f{i}"), b"x"))
        .end();
    let opts = ImportOptions {
        limits: ImportLimits {
            max_entries: 10,
            ..ImportLimits::default()
        },
        ..Default::default()
    };
    assert!(refused_with(&many, &opts).contains("more than 10 members"));
    let opts = ImportOptions {
        limits: ImportLimits {
            max_total_bytes: 15,
            ..ImportLimits::default()
        },
        ..Default::default()
    };
    assert!(refused_with(&many, &opts).contains("add up to more than 15 bytes"));
    let long = format!("{}/x", "a".repeat(90));
    let deep = TarBuilder::default()
        .pax(&[("path", long.repeat(60).as_str())])
        .file("x", b"")
        .end();
    assert!(refused(&deep).contains("over the limit"));
    // A pax header too large to hold in memory is refused before it is read.
    let huge = TarBuilder::default()
        .pax(&[("comment", "z".repeat(2 << 20).as_str())])
        .file("x", b"")
        .end();
    assert!(refused(&huge).contains("extended header"));
}

#[test]
fn loose_but_safe_archives_are_accepted() {
    let t = tempfile::tempdir().unwrap();
    let store = init_store(&t.path().join("store"));
    let archive = TarBuilder::default()
        .file("./deep/implied/parents.txt", b"parents are implied")
        .dir("./deep/")
        .symlink("deep/up", "../top.txt")
        .file("top.txt", b"top")
        .link(tar::EntryType::Link, "hard", "./top.txt")
        .pax(&[("path", "pax/long/name")])
        .file("short", b"named by pax")
        .dir("./")
        .end();
    let r = import(
        &store,
        &mut &archive[..],
        "loose.tar",
        None,
        &ImportOptions {
            ref_name: Some("imported".into()),
            ..Default::default()
        },
        &NoProgress,
    )
    .unwrap();
    assert_eq!(store.resolve("imported").unwrap(), r.slug);
    let m = store.manifest(&r.slug).unwrap();
    let paths: Vec<String> = m
        .entries()
        .iter()
        .map(|e| e.display_path().into_owned())
        .collect();
    assert_eq!(
        paths,
        [
            "deep",
            "deep/implied",
            "deep/implied/parents.txt",
            "deep/up",
            "hard",
            "pax",
            "pax/long",
            "pax/long/name",
            "top.txt"
        ]
    );
    assert_eq!(
        m.get(b"hard").unwrap().kind,
        m.get(b"top.txt").unwrap().kind
    );
    assert!(matches!(
        m.get(b"deep/implied").unwrap().kind,
        EntryKind::Dir
    ));
    let out = t.path().join("out");
    slugstore::restore(&store, &r.slug, &out, &Default::default(), &NoProgress).unwrap();
    assert_eq!(fs::read(out.join("hard")).unwrap(), b"top");
    assert_eq!(fs::read(out.join("deep/up")).unwrap(), b"top");
    assert_eq!(
        fs::read(out.join("pax/long/name")).unwrap(),
        b"named by pax"
    );

    // Escaping links are accepted only when asked for.
    let external = TarBuilder::default().symlink("etc", "/etc").end();
    assert_names(&refused(&external), "etc", "absolute path");
    let opts = ImportOptions {
        allow_external_links: true,
        ..Default::default()
    };
    let r = import(
        &store,
        &mut &external[..],
        "ext.tar",
        None,
        &opts,
        &NoProgress,
    )
    .unwrap();
    assert_eq!(
        store.manifest(&r.slug).unwrap().entries()[0].kind,
        EntryKind::Symlink {
            target: b"/etc".to_vec()
        }
    );
}

#[test]
fn export_to_stdout_style_writers_and_unknown_names() {
    let t = tempfile::tempdir().unwrap();
    let tree = t.path().join("tree");
    write(&tree.join("a.txt"), b"a", 0o644);
    let store = init_store(&t.path().join("store"));
    let id = snap(&store, &tree);
    let err = export_to_path(
        &store,
        &id,
        &t.path().join("out.zip"),
        &ExportOptions::default(),
        &NoProgress,
    )
    .unwrap_err();
    assert!(err.to_string().contains("--format"), "{err}");
    assert!(!t.path().join("out.zip").exists());
    // Writing to any `Write` (what `-o -` does with stdout) gives the same bytes as a file.
    let mut buf = Vec::new();
    slugstore::archive::export(
        &store,
        &id,
        &mut buf,
        "-",
        &ExportOptions::default(),
        &NoProgress,
    )
    .unwrap();
    let file = t.path().join("a.tar.zst");
    export(&store, &id, &file);
    assert_eq!(buf, fs::read(&file).unwrap());
    // The importer recognizes the compression by magic bytes, whatever the name.
    let renamed = t.path().join("no-extension");
    fs::write(&renamed, &buf).unwrap();
    let r = import_path(&store, &renamed, &ImportOptions::default(), &NoProgress).unwrap();
    assert_eq!(r.slug, id);
}

mod mutations {
    use super::*;
    use proptest::prelude::*;

    /// A small valid archive with every member kind, pax and long names.
    fn seed() -> Vec<u8> {
        TarBuilder::default()
            .dir("d")
            .file("d/a.txt", b"alpha")
            .pax(&[("path", "d/long/pax/name.txt")])
            .file("x", &noise(1500, 9))
            .symlink("d/l", "a.txt")
            .link(tar::EntryType::Link, "h", "d/a.txt")
            .end()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// Whatever the damage, import fails cleanly (committing nothing) or commits a slug whose
        /// manifest and objects read back verified; it never panics.
        #[test]
        fn damaged_archives_never_panic_or_commit_garbage(
            flips in proptest::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 0..6),
            cut in proptest::option::of(any::<prop::sample::Index>()),
        ) {
            let mut bytes = seed();
            for (at, x) in flips {
                let i = at.index(bytes.len());
                bytes[i] ^= x;
            }
            if let Some(cut) = cut {
                bytes.truncate(cut.index(bytes.len()));
            }
            static STORE: std::sync::OnceLock<(tempfile::TempDir, Store)> = std::sync::OnceLock::new();
            let (_, store) = STORE.get_or_init(|| {
                let t = tempfile::tempdir().unwrap();
                let s = init_store(&t.path().join("store"));
                (t, s)
            });
            let slugs_before = store.slugs().unwrap().len();
            match import(store, &mut &bytes[..], "fuzz.tar", None, &ImportOptions::default(), &NoProgress) {
                Ok(r) => {
                    let m = store.manifest(&r.slug).unwrap();
                    for e in m.entries() {
                        if let EntryKind::File { id, .. } = &e.kind {
                            store.verify_object(id).unwrap();
                        }
                        if let EntryKind::Symlink { target } = &e.kind {
                            prop_assert!(!target.starts_with(b"/"));
                        }
                    }
                }
                Err(e) => prop_assert_eq!(store.slugs().unwrap().len(), slugs_before, "{}", e),
            }
        }
    }
}
