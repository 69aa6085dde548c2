//! Static content compression on real trees in temp dirs, checked with the system `gzip` and `find`.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use slugstore::compress::{
    self, compress_static, CompressOptions, DirGzCache, GzCache, Level, Report,
};
use slugstore::{NoProgress, ObjectId};

/// Compressible text of exactly `len` bytes, different for each `seed`.
fn text(len: usize, seed: u64) -> Vec<u8> {
    const WORDS: [&str; 8] = [
        "define", "function", "return", "var ", "require", "this", ".css{}", "\n",
    ];
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut out = Vec::with_capacity(len + 16);
    while out.len() < len {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        out.extend_from_slice(WORDS[(state >> 61) as usize].as_bytes());
        out.extend_from_slice(format!("{} ", state >> 50).as_bytes());
    }
    out.truncate(len);
    out
}

fn name(bytes: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(bytes))
}

/// Relative paths (as bytes) of the files that must be selected in [`build_tree`].
fn expected_selection() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = [
        &b"a301.js"[..],
        b"big.css",
        b"pic.svg",
        b"page.html",
        b"page.htm",
        b"with space.js",
        b"quote'\"s.css",
        b"new\nline.js",
        b"\xff\xfe bytes.js",
        b"DELETING_file.js",
        b"sub/deep/ok.js",
        b"sub/keep_DELETING_/a.css",
        b"sub/3mib.js",
    ]
    .iter()
    .map(|s| s.to_vec())
    .collect();
    v.sort();
    v
}

/// A tree with every edge case of the selection rules.
fn build_tree(root: &Path) {
    let write = |rel: &[u8], len: usize, seed: u64| {
        let path = root.join(name(rel));
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text(len, seed)).unwrap();
    };
    write(b"a299.js", 299, 1);
    write(b"a300.js", 300, 2);
    write(b"a301.js", 301, 3);
    write(b"big.css", 50_000, 4);
    write(b"pic.svg", 2_000, 5);
    write(b"page.html", 4_000, 6);
    write(b"page.htm", 4_001, 7);
    write(b"upper.JS", 1_000, 8);
    write(b"upper.Css", 1_000, 9);
    write(b"app.js.map", 1_000, 10);
    write(b"data.json", 1_000, 11);
    write(b"comp.jsx", 1_000, 12);
    write(b"with space.js", 1_000, 13);
    write(b"quote'\"s.css", 1_000, 14);
    write(b"new\nline.js", 1_000, 15);
    write(b"\xff\xfe bytes.js", 1_000, 16);
    write(b"DELETING_file.js", 1_000, 17);
    write(b"DELETING_x/inner.js", 1_000, 18);
    write(b"sub/DELETING_y/z.css", 1_000, 19);
    write(b"sub/deep/ok.js", 700, 20);
    write(b"sub/keep_DELETING_/a.css", 900, 21);
    write(b"sub/3mib.js", 3 << 20, 22);
    fs::create_dir_all(root.join("empty")).unwrap();
    symlink(root.join("big.css"), root.join("link_file.js")).unwrap();
    symlink(root.join("sub"), root.join("link_dir")).unwrap();
    symlink("nowhere.js", root.join("dangling.js")).unwrap();
}

/// Every path under `root` (symlinks not followed), relative, as bytes.
fn walk(root: &Path) -> Vec<PathBuf> {
    fn go(dir: &Path, root: &Path, out: &mut Vec<PathBuf>) {
        for e in fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let path = e.path();
            out.push(path.strip_prefix(root).unwrap().to_path_buf());
            if e.file_type().unwrap().is_dir() {
                go(&path, root, out);
            }
        }
    }
    let mut out = Vec::new();
    go(root, root, &mut out);
    out.sort();
    out
}

/// Content, inode and mtime of every regular file under `root`.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, (Vec<u8>, u64, SystemTime)> {
    walk(root)
        .into_iter()
        .filter_map(|rel| {
            let meta = fs::symlink_metadata(root.join(&rel)).unwrap();
            meta.is_file().then(|| {
                (
                    rel.clone(),
                    (
                        fs::read(root.join(&rel)).unwrap(),
                        meta.ino(),
                        meta.modified().unwrap(),
                    ),
                )
            })
        })
        .collect()
}

fn gz_of(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(".gz");
    PathBuf::from(s)
}

/// Checks `path.gz` with the system gzip: `gzip -t` accepts it and `gzip -dc` gives back `path`'s bytes.
fn assert_gzip_round_trip(path: &Path) {
    let gz = gz_of(path);
    let t = Command::new("gzip").arg("-t").arg(&gz).output().unwrap();
    assert!(
        t.status.success(),
        "gzip -t {}: {}",
        gz.display(),
        String::from_utf8_lossy(&t.stderr)
    );
    let dc = Command::new("gzip").arg("-dc").arg(&gz).output().unwrap();
    assert!(dc.status.success(), "gzip -dc {}", gz.display());
    assert!(
        dc.stdout == fs::read(path).unwrap(),
        "{} does not decompress to the original",
        gz.display()
    );
}

fn run(root: &Path, cache: &dyn GzCache) -> Report {
    compress_static(root, &CompressOptions::default(), cache, &NoProgress).unwrap()
}

fn no_temp_files(root: &Path) {
    let temps: Vec<_> = walk(root)
        .into_iter()
        .filter(|p| {
            p.file_name()
                .unwrap()
                .as_bytes()
                .starts_with(compress::atomic::TEMP_PREFIX.as_bytes())
        })
        .collect();
    assert!(temps.is_empty(), "temporary files left: {temps:?}");
}

struct Fixture {
    _dir: tempfile::TempDir,
    tree: PathBuf,
    cache: DirGzCache,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("static");
    build_tree(&tree);
    let cache = DirGzCache::open(dir.path().join("cache")).unwrap();
    Fixture {
        _dir: dir,
        tree,
        cache,
    }
}

#[test]
fn selection_follows_the_platform_rules() {
    let f = fixture();
    let mut got: Vec<Vec<u8>> = compress::select(&f.tree)
        .unwrap()
        .into_iter()
        .map(|a| {
            a.path
                .strip_prefix(&f.tree)
                .unwrap()
                .as_os_str()
                .as_bytes()
                .to_vec()
        })
        .collect();
    got.sort();
    assert_eq!(got, expected_selection());

    // The same tree through the platform's own `find` expression.
    let out = Command::new("find")
        .arg(&f.tree)
        .args([
            "-type",
            "d",
            "-name",
            "DELETING_*",
            "-prune",
            "-o",
            "-type",
            "f",
            "-size",
            "+300c",
        ])
        .args([
            "(", "-name", "*.js", "-o", "-name", "*.css", "-o", "-name", "*.svg",
        ])
        .args([
            "-o", "-name", "*.html", "-o", "-name", "*.htm", ")", "-print0",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let prefix = [f.tree.as_os_str().as_bytes(), b"/"].concat();
    let mut by_find: Vec<Vec<u8>> = out
        .stdout
        .split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| s[prefix.len()..].to_vec())
        .collect();
    by_find.sort();
    assert_eq!(by_find, expected_selection());
}

#[test]
fn every_selected_file_gets_a_gz_that_gzip_accepts_and_nothing_else_does() {
    let f = fixture();
    let before = walk(&f.tree);
    let report = run(&f.tree, &f.cache);
    let n = expected_selection().len() as u64;
    assert_eq!(
        (
            report.selected,
            report.compressed,
            report.from_cache,
            report.up_to_date
        ),
        (n, n, 0, 0)
    );
    assert_eq!((report.skipped, report.timed_out), (0, false));
    let originals: u64 = expected_selection()
        .iter()
        .map(|rel| fs::metadata(f.tree.join(name(rel))).unwrap().len())
        .sum();
    assert_eq!(report.bytes_in, originals);

    let mut gz_total = 0;
    for rel in expected_selection() {
        let path = f.tree.join(name(&rel));
        assert_gzip_round_trip(&path);
        let (asset, gz) = (
            fs::metadata(&path).unwrap(),
            fs::metadata(gz_of(&path)).unwrap(),
        );
        assert_eq!(
            gz.mode() & 0o777,
            asset.mode() & 0o777,
            "{}",
            path.display()
        );
        assert_eq!(
            gz.modified().unwrap(),
            asset.modified().unwrap(),
            "{}",
            path.display()
        );
        gz_total += gz.len();
    }
    assert_eq!(report.bytes_out, gz_total);
    assert!(
        report.bytes_out < report.bytes_in / 2,
        "text should compress well: {report:?}"
    );

    // Exactly one new file per selected asset; originals kept, symlinks not followed.
    let mut expected_after = before.clone();
    expected_after.extend(expected_selection().iter().map(|rel| gz_of(name(rel))));
    expected_after.sort();
    assert_eq!(walk(&f.tree), expected_after);
    assert!(fs::symlink_metadata(f.tree.join("link_file.js"))
        .unwrap()
        .file_type()
        .is_symlink());
    no_temp_files(&f.tree);
}

#[test]
fn a_second_run_compresses_nothing_and_touches_no_file() {
    let f = fixture();
    let first = run(&f.tree, &f.cache);
    let before = snapshot(&f.tree);
    let second = run(&f.tree, &f.cache);
    let n = expected_selection().len() as u64;
    assert_eq!(first.compressed, n);
    assert_eq!(
        (second.compressed, second.from_cache, second.up_to_date),
        (0, 0, n)
    );
    assert_eq!(second.bytes_out, first.bytes_out);
    assert_eq!(snapshot(&f.tree), before, "the second run changed a file");
}

#[test]
fn changing_one_asset_recompresses_exactly_that_one() {
    let f = fixture();
    run(&f.tree, &f.cache);
    let changed = f.tree.join("sub/deep/ok.js");
    fs::write(&changed, text(5_000, 99)).unwrap();
    let before = snapshot(&f.tree);
    let report = run(&f.tree, &f.cache);
    let n = expected_selection().len() as u64;
    assert_eq!(
        (report.compressed, report.from_cache, report.up_to_date),
        (1, 0, n - 1)
    );
    assert_gzip_round_trip(&changed);
    let after = snapshot(&f.tree);
    let differing: Vec<_> = after
        .keys()
        .filter(|k| after.get(*k) != before.get(*k))
        .collect();
    assert_eq!(differing, vec![Path::new("sub/deep/ok.js.gz")]);
    no_temp_files(&f.tree);
}

#[test]
fn a_warm_cache_serves_a_fresh_copy_of_the_tree_byte_for_byte() {
    let f = fixture();
    run(&f.tree, &f.cache);
    let copy = f._dir.path().join("copy");
    build_tree(&copy);
    let report = run(&copy, &f.cache);
    let n = expected_selection().len() as u64;
    assert_eq!(
        (report.compressed, report.from_cache, report.up_to_date),
        (0, n, 0)
    );
    for rel in expected_selection() {
        let (a, b) = (
            gz_of(&f.tree.join(name(&rel))),
            gz_of(&copy.join(name(&rel))),
        );
        assert!(
            fs::read(&a).unwrap() == fs::read(&b).unwrap(),
            "{} differs",
            b.display()
        );
    }
}

#[test]
fn a_stale_or_foreign_gz_is_replaced_by_the_right_one() {
    let f = fixture();
    let stale = f.tree.join("page.html");
    fs::write(gz_of(&stale), b"not gzip at all").unwrap();
    // One made by the gzip program (name and timestamp in its header): valid, but not our bytes.
    let foreign = f.tree.join("pic.svg");
    assert!(Command::new("gzip")
        .args(["-q", "--keep", "-6"])
        .arg(&foreign)
        .status()
        .unwrap()
        .success());
    // A symlink where the .gz goes: replaced, its target untouched.
    let target = f._dir.path().join("elsewhere");
    fs::write(&target, b"keep").unwrap();
    symlink(&target, gz_of(&f.tree.join("page.htm"))).unwrap();

    let report = run(&f.tree, &f.cache);
    assert_eq!(report.compressed, expected_selection().len() as u64);
    for path in [&stale, &foreign, &f.tree.join("page.htm")] {
        assert_gzip_round_trip(path);
        assert_eq!(
            fs::read(gz_of(path)).unwrap(),
            f.cache_entry(path),
            "{}",
            path.display()
        );
    }
    assert_eq!(fs::read(&target).unwrap(), b"keep");
    no_temp_files(&f.tree);
}

impl Fixture {
    /// The cache entry for the asset at `path`.
    fn cache_entry(&self, path: &Path) -> Vec<u8> {
        let id = ObjectId::hash(&fs::read(path).unwrap());
        self.cache
            .get(&id, Level::BUILD_DEFAULT)
            .unwrap()
            .expect("cached")
    }
}

#[test]
fn a_damaged_cache_entry_is_not_copied_out_but_replaced() {
    let f = fixture();
    run(&f.tree, &f.cache);
    let asset = f.tree.join("big.css");
    let good = f.cache_entry(&asset);
    // Damage the entry's bytes in the pack: its gzip trailer no longer matches the asset.
    let pack = f.cache.pack_path().to_path_buf();
    let mut bytes = fs::read(&pack).unwrap();
    let at = bytes
        .windows(good.len())
        .position(|w| w == good.as_slice())
        .expect("the entry is in the pack");
    bytes[at + good.len() - 8..at + good.len()].fill(0);
    fs::write(&pack, bytes).unwrap();

    let copy = f._dir.path().join("copy");
    build_tree(&copy);
    let report = run(&copy, &f.cache);
    assert_eq!(
        (report.compressed, report.from_cache),
        (1, expected_selection().len() as u64 - 1)
    );
    assert_gzip_round_trip(&copy.join("big.css"));
    assert_eq!(
        f.cache_entry(&asset),
        good,
        "the damaged entry was not repaired"
    );
}

#[test]
fn copies_of_one_asset_are_compressed_once_even_side_by_side() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("static");
    let shared = text(200_000, 7);
    for theme in ["blank", "luma"] {
        for locale in ["en_US", "de_DE", "fr_FR", "nl_NL", "es_ES", "it_IT"] {
            for file in ["mage/requirejs.js", "mage/menu.js"] {
                let path = tree.join(theme).join(locale).join(file);
                fs::create_dir_all(path.parent().unwrap()).unwrap();
                fs::write(path, &shared).unwrap();
            }
        }
    }
    fs::write(tree.join("other.css"), text(5_000, 8)).unwrap();
    let cache = DirGzCache::open(dir.path().join("cache")).unwrap();
    let report = run(&tree, &cache);
    assert_eq!(
        (report.selected, report.compressed, report.from_cache),
        (25, 2, 23)
    );
    assert_gzip_round_trip(&tree.join("luma/it_IT/mage/menu.js"));
}

#[test]
fn levels_are_kept_apart_and_out_of_range_is_refused() {
    let f = fixture();
    let fast = CompressOptions {
        level: Level::new(1).unwrap(),
        timeout: None,
    };
    let best = CompressOptions {
        level: Level::new(9).unwrap(),
        timeout: None,
    };
    let r1 = compress_static(&f.tree, &fast, &f.cache, &NoProgress).unwrap();
    let r9 = compress_static(&f.tree, &best, &f.cache, &NoProgress).unwrap();
    let n = expected_selection().len() as u64;
    assert_eq!(
        (r1.compressed, r9.compressed),
        (n, n),
        "level 9 must not reuse level 1's entries"
    );
    assert!(r9.bytes_out < r1.bytes_out);
    assert_gzip_round_trip(&f.tree.join("sub/3mib.js"));

    for bad in ["10", "42"] {
        let err = bad.parse::<Level>().unwrap_err().to_string();
        assert!(err.contains(bad), "`{err}` does not name {bad}");
    }
    assert!(Level::new(10).unwrap_err().to_string().contains("10"));
}

#[test]
fn level_zero_disables_compression() {
    let f = fixture();
    let before = walk(&f.tree);
    let off = CompressOptions {
        level: Level::DISABLED,
        timeout: None,
    };
    let report = compress_static(&f.tree, &off, &f.cache, &NoProgress).unwrap();
    assert_eq!(
        (report.level, report.selected, report.done()),
        (Level::DISABLED, 0, 0)
    );
    assert_eq!(walk(&f.tree), before);
}

#[test]
fn a_zero_timeout_does_no_work_and_leaves_no_partial_file() {
    let f = fixture();
    let before = walk(&f.tree);
    let options = CompressOptions {
        level: Level::BUILD_DEFAULT,
        timeout: Some(Duration::ZERO),
    };
    let report = compress_static(&f.tree, &options, &f.cache, &NoProgress).unwrap();
    let n = expected_selection().len() as u64;
    assert!(report.timed_out);
    assert_eq!((report.selected, report.skipped, report.done()), (n, n, 0));
    assert_eq!(walk(&f.tree), before);
    assert!(f.cache.is_empty(), "nothing may be cached either");
    assert_eq!(
        fs::metadata(f.cache.pack_path()).unwrap().len(),
        0,
        "nothing may be written to the cache either"
    );
}

#[test]
fn progress_sees_every_selected_byte() {
    use slugstore::{Progress, ProgressBars};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    #[derive(Default)]
    struct Count {
        len: AtomicU64,
        done: AtomicU64,
        finished: AtomicU64,
    }
    struct Bar(Arc<Count>);
    impl Progress for Bar {
        fn set_length(&self, len: u64) {
            self.0.len.store(len, Ordering::Relaxed);
        }
        fn inc(&self, n: u64) {
            self.0.done.fetch_add(n, Ordering::Relaxed);
        }
        fn finish(&self) {
            self.0.finished.fetch_add(1, Ordering::Relaxed);
        }
    }
    struct Bars(Arc<Count>);
    impl ProgressBars for Bars {
        fn counter(&self, _: &str) -> Box<dyn Progress> {
            Box::new(Bar(self.0.clone()))
        }
        fn bytes(&self, _: &str) -> Box<dyn Progress> {
            Box::new(Bar(self.0.clone()))
        }
    }
    let f = fixture();
    let count = Arc::new(Count::default());
    let report = compress_static(
        &f.tree,
        &CompressOptions::default(),
        &f.cache,
        &Bars(count.clone()),
    )
    .unwrap();
    assert_eq!(count.len.load(Ordering::Relaxed), report.bytes_in);
    assert_eq!(count.done.load(Ordering::Relaxed), report.bytes_in);
    assert_eq!(count.finished.load(Ordering::Relaxed), 1);
}

#[test]
fn a_gz_that_cannot_be_replaced_fails_the_run_naming_it() {
    let f = fixture();
    // A directory where the .gz goes cannot be renamed over, whoever runs the test.
    fs::create_dir(f.tree.join("sub/deep/ok.js.gz")).unwrap();
    let err =
        compress_static(&f.tree, &CompressOptions::default(), &f.cache, &NoProgress).unwrap_err();
    assert!(err.to_string().contains("sub/deep/ok.js.gz"), "{err}");
    no_temp_files(&f.tree);
}

/// Rewrites `path` with `bytes` of the same length and puts its modification time back, so only its
/// ctime (which no user call can set) tells the change.
fn rewrite_keeping_mtime(path: &Path, bytes: &[u8]) {
    let mtime = fs::metadata(path).unwrap().modified().unwrap();
    assert_eq!(fs::metadata(path).unwrap().len(), bytes.len() as u64);
    fs::write(path, bytes).unwrap();
    let f = fs::File::options().write(true).open(path).unwrap();
    f.set_modified(mtime).unwrap();
}

/// Waits until every file changed so far is older than the racy margin, so a run may trust it.
fn settle() {
    std::thread::sleep(compress::seen::RACY_MARGIN + Duration::from_millis(20));
}

/// A fixture whose files a run may trust.
fn settled_fixture() -> Fixture {
    let f = fixture();
    settle();
    f
}

#[test]
fn a_rerun_reads_nothing_that_did_not_change() {
    let f = settled_fixture();
    let first = run(&f.tree, &f.cache);
    let n = expected_selection().len() as u64;
    assert_eq!((first.read, first.compressed), (n, n));
    let before = snapshot(&f.tree);
    let second = run(&f.tree, &f.cache);
    assert_eq!((second.read, second.up_to_date), (0, n));
    assert_eq!(second.bytes_in, first.bytes_in);
    assert_eq!(second.bytes_out, first.bytes_out);
    assert_eq!(snapshot(&f.tree), before);
    // Another level trusts nothing the last run recorded.
    let nine = CompressOptions {
        level: Level::new(9).unwrap(),
        ..CompressOptions::default()
    };
    let at_nine = compress_static(&f.tree, &nine, &f.cache, &NoProgress).unwrap();
    assert_eq!(at_nine.read, n);
}

#[test]
fn a_same_size_edit_that_keeps_the_mtime_is_still_seen() {
    let f = settled_fixture();
    run(&f.tree, &f.cache);
    let asset = f.tree.join("sub/deep/ok.js");
    let len = fs::metadata(&asset).unwrap().len() as usize;
    rewrite_keeping_mtime(&asset, &text(len, 4242));
    let r = run(&f.tree, &f.cache);
    assert_eq!((r.read, r.compressed), (1, 1));
    assert_gzip_round_trip(&asset);

    // A damaged `.gz` of the same size and time is read back, found wrong and replaced (`ok.js`,
    // changed just before the last run, is read once more: see the racy test below).
    let page = f.tree.join("page.html");
    let gz = gz_of(&page);
    let mut bytes = fs::read(&gz).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    rewrite_keeping_mtime(&gz, &bytes);
    let r = run(&f.tree, &f.cache);
    assert_eq!((r.read, r.compressed, r.from_cache), (2, 0, 1));
    assert_gzip_round_trip(&page);
}

#[test]
fn an_asset_changed_just_before_a_run_is_read_again_by_the_next() {
    let f = settled_fixture();
    run(&f.tree, &f.cache);
    let asset = f.tree.join("a301.js");
    fs::write(&asset, text(301, 77)).unwrap();
    let r = run(&f.tree, &f.cache);
    assert_eq!((r.read, r.compressed), (1, 1));
    // Its ctime is within the racy margin of that run: the next run cannot trust the record yet.
    let r = run(&f.tree, &f.cache);
    assert_eq!(
        (r.read, r.up_to_date),
        (1, expected_selection().len() as u64)
    );
    assert_gzip_round_trip(&asset);
}

#[test]
fn a_damaged_record_of_the_last_run_only_costs_a_full_read() {
    let f = settled_fixture();
    run(&f.tree, &f.cache);
    let dir = f.cache.root().join(compress::cache::SEEN_DIR);
    let records: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(records.len(), 1);
    let mut bytes = fs::read(&records[0]).unwrap();
    bytes[20] ^= 1;
    fs::write(&records[0], bytes).unwrap();
    let r = run(&f.tree, &f.cache);
    let n = expected_selection().len() as u64;
    assert_eq!((r.read, r.up_to_date), (n, n));
    // And the run wrote a good record again.
    assert_eq!(run(&f.tree, &f.cache).read, 0);
}

#[test]
fn stashed_gz_files_come_back_only_where_they_are_still_right() {
    let f = fixture();
    run(&f.tree, &f.cache);
    let n = expected_selection().len() as u64;
    fs::write(f.tree.join("data.bin.gz"), b"not an asset's").unwrap();
    let kept_ino = fs::metadata(gz_of(&f.tree.join("big.css"))).unwrap().ino();

    let stash = f.tree.parent().unwrap().join("stash");
    assert_eq!(compress::reuse::stash(&f.tree, &stash).unwrap(), n);
    let left: Vec<_> = walk(&f.tree)
        .into_iter()
        .filter(|p| p.as_os_str().as_bytes().ends_with(b".gz"))
        .collect();
    assert_eq!(left, vec![PathBuf::from("data.bin.gz")]);

    // What a cached step restoring the directory does meanwhile: one asset changed, one gone.
    let changed = f.tree.join("sub/deep/ok.js");
    fs::write(&changed, text(5_000, 99)).unwrap();
    fs::remove_file(f.tree.join("page.htm")).unwrap();

    let options = CompressOptions::default();
    let report =
        compress::compress_static_reusing(&f.tree, &options, &f.cache, &stash, &NoProgress)
            .unwrap();
    assert_eq!(
        (report.compressed, report.from_cache, report.up_to_date),
        (1, 0, n - 2),
        "{report:?}"
    );
    for rel in expected_selection() {
        let asset = f.tree.join(name(&rel));
        if asset.exists() {
            assert_gzip_round_trip(&asset);
        }
    }
    assert!(
        !gz_of(&f.tree.join("page.htm")).exists(),
        "a .gz came back without its asset"
    );
    let ino = fs::metadata(gz_of(&f.tree.join("big.css"))).unwrap().ino();
    assert_eq!(
        ino, kept_ino,
        "an unchanged .gz was written again instead of taken back"
    );
    assert_eq!(
        fs::read_dir(&stash).unwrap().count(),
        1,
        "only page.htm.gz stays stashed"
    );
    compress::reuse::discard(&stash).unwrap();
    assert!(!stash.exists());
    no_temp_files(&f.tree);
}
