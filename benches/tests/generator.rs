//! The generator and churn on real files: determinism, shape, compressibility, change rate.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use slugstore_benches::churn::{churn, Scope};
use slugstore_benches::gen::generate;
use slugstore_benches::plan::{MOUNTS, STATIC_DIR};
use slugstore_benches::shape::{BenchShape, Bucket, Profile, Size};
use slugstore_benches::walk::{stats, tree_hash, walk};

fn small_tree(seed: u64) -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("tree");
    generate(&root, Size::Small, seed).expect("generate");
    (tmp, root)
}

/// Files per log2 bucket of the regular files below `root`, skipping `skip`.
fn histogram(root: &Path, skip: &[&str]) -> BTreeMap<u64, u64> {
    let mut h = BTreeMap::new();
    for e in walk(root).expect("walk") {
        let config = e.rel == Path::new(".magento.app.yaml");
        if e.meta.is_file() && !config && !skip.iter().any(|s| e.rel.starts_with(s)) {
            *h.entry(Bucket::of(e.meta.len()).lo).or_insert(0) += 1;
        }
    }
    h
}

#[test]
fn same_seed_same_tree_other_seed_other_tree() {
    let (_a, ra) = small_tree(42);
    let (_b, rb) = small_tree(42);
    let (_c, rc) = small_tree(43);
    let ha = tree_hash(&ra).expect("hash");
    assert_eq!(ha, tree_hash(&rb).expect("hash"));
    assert_ne!(ha, tree_hash(&rc).expect("hash"));
}

#[test]
fn tree_has_the_measured_shape_scaled() {
    let (_t, root) = small_tree(7);
    let shape = BenchShape::builtin();
    let code = Profile::of(&shape.slug_tree_excluding_mounts).scaled(Size::Small.factor());
    let statics = Profile::of(&shape.pub_static).scaled(Size::Small.factor());

    let s = stats(&root, MOUNTS).expect("stats");
    // The application part: exact file count, bytes within 15 % of the scaled measurement.
    assert_eq!(s.files, code.files + 1, "+1: .magento.app.yaml");
    let ratio = s.bytes as f64 / code.bytes as f64;
    assert!(
        (0.85..1.15).contains(&ratio),
        "bytes {} vs {} expected",
        s.bytes,
        code.bytes
    );
    assert!(
        s.dirs as f64 > code.dirs as f64 * 0.8 && (s.dirs as f64) < code.dirs as f64 * 1.2,
        "dirs {}",
        s.dirs
    );
    assert!(s.empty >= 1 && s.executables >= 1, "{s:?}");

    // Size histogram: every bucket within 2 files or 5 % of the scaled measurement.
    let got = histogram(&root, MOUNTS);
    for (bucket, want) in &code.histogram {
        let have = got.get(&bucket.lo).copied().unwrap_or(0);
        let tol = (*want as f64 * 0.05).max(2.0);
        assert!(
            (have as f64 - *want as f64).abs() <= tol,
            "bucket {}: {have} files, expected {want}",
            bucket.lo
        );
    }

    // pub/static has its own shape; the other mounts exist with a few files.
    let st = stats(&root.join(STATIC_DIR), &[]).expect("static stats");
    assert_eq!(st.files, statics.files);
    assert_eq!(st.symlinks, statics.symlinks);
    for m in ["var", "app/etc", "pub/media"] {
        assert!(
            stats(&root.join(m), &[]).expect("mount").files >= 1,
            "{m} has files"
        );
    }
    let yaml = fs::read_to_string(root.join(".magento.app.yaml")).expect("yaml");
    assert!(yaml.contains("\"pub/static\":"));
}

#[test]
fn code_compresses_like_code() {
    let (_t, root) = small_tree(3);
    let mut raw = 0usize;
    let mut packed = 0usize;
    for e in walk(&root).expect("walk") {
        let ext = e.rel.extension().and_then(|x| x.to_str()).unwrap_or("");
        if e.meta.is_file() && matches!(ext, "php" | "xml" | "js") && e.meta.len() > 4096 {
            let bytes = fs::read(root.join(&e.rel)).expect("read");
            raw += bytes.len();
            packed += zstd::encode_all(&bytes[..], 3).expect("zstd").len();
        }
    }
    assert!(raw > 1_000_000, "enough code to judge: {raw}");
    let ratio = raw as f64 / packed as f64;
    assert!((3.0..7.0).contains(&ratio), "zstd ratio of code {ratio:.2}");
}

/// Regular files below `root` by relative path, with their BLAKE3.
fn contents(root: &Path) -> BTreeMap<std::path::PathBuf, blake3::Hash> {
    walk(root)
        .expect("walk")
        .into_iter()
        .filter(|e| e.meta.is_file())
        .map(|e| {
            let h = blake3::hash(&fs::read(root.join(&e.rel)).expect("read"));
            (e.rel, h)
        })
        .collect()
}

#[test]
fn churn_changes_about_the_requested_share_and_spares_hard_linked_originals() {
    let (t, root) = small_tree(5);
    let before = contents(&root);
    let copy = t.path().join("copy");
    let ok = std::process::Command::new("cp")
        .arg("-al")
        .arg(&root)
        .arg(&copy)
        .status()
        .expect("cp");
    assert!(ok.success());
    let report = churn(&copy, 3.0, 11, Scope::Tree).expect("churn");
    let after = contents(&copy);

    // The original tree, sharing inodes with the copy, is untouched.
    assert_eq!(contents(&root), before);
    let changed = before
        .iter()
        .filter(|(p, h)| after.get(*p) != Some(*h))
        .count();
    let added = after.keys().filter(|p| !before.contains_key(*p)).count();
    let deleted = before.keys().filter(|p| !after.contains_key(*p)).count();
    assert_eq!(added as u64, report.added);
    assert_eq!(deleted as u64, report.deleted);
    assert_eq!(
        (changed - deleted) as u64,
        report.edited,
        "every edit changes the bytes"
    );
    let share = (changed + added) as f64 / report.considered as f64 * 100.0;
    assert!((2.7..3.3).contains(&share), "changed {share:.2} % of files");
    assert!(
        report.edited > report.added && report.added > report.deleted && report.deleted > 0,
        "{report:?}"
    );
    // Mounts are not code: churn leaves them alone.
    for m in ["var", "app/etc", "pub/media"] {
        assert!(
            after
                .iter()
                .filter(|(p, _)| p.starts_with(m))
                .all(|(p, h)| before.get(p) == Some(h)),
            "{m} changed"
        );
    }

    // Deterministic: the same churn of another copy gives the same tree.
    let again = t.path().join("again");
    std::process::Command::new("cp")
        .arg("-al")
        .arg(&root)
        .arg(&again)
        .status()
        .expect("cp");
    churn(&again, 3.0, 11, Scope::Tree).expect("churn");
    assert_eq!(
        tree_hash(&again).expect("hash"),
        tree_hash(&copy).expect("hash")
    );
}

#[test]
fn static_churn_touches_only_pub_static() {
    let (_t, root) = small_tree(9);
    let before = contents(&root);
    let report = churn(&root, 5.0, 1, Scope::Static).expect("churn");
    let after = contents(&root);
    let changed: Vec<_> = before
        .iter()
        .filter(|(p, h)| after.get(*p) != Some(*h))
        .map(|x| x.0)
        .collect();
    assert!(!changed.is_empty());
    assert!(
        changed.iter().all(|p| p.starts_with(STATIC_DIR)),
        "{changed:?}"
    );
    assert!(after
        .keys()
        .filter(|p| !before.contains_key(*p))
        .all(|p| p.starts_with(STATIC_DIR)));
    assert_eq!(
        report.considered,
        stats(&root.join(STATIC_DIR), &[]).expect("stats").files + report.deleted - report.added
    );
}
