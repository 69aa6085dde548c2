//! Damage to the index's own files, seen through `slug`: a damaged write-ahead log or table file is
//! never read past in silence. Either every committed slug is still there, or the command fails naming
//! the damaged file; `slug verify` reports damage in any family of the index, also one that nothing
//! else reads.

mod proc_support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use proc_support::{slug_bounded, text};
use slugstore_tests::compare::assert_same_tree;
use slugstore_tests::store::flip_byte;
use slugstore_tests::tree::{age_files, content, Tree};

fn index_files(store: &Path, ext: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(store.join("index"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    files.sort();
    files
}

/// Four slugs, each of its own tree, the newest under ref `newest`. Returns the store and the trees.
fn store_of_four(tmp: &Path) -> (PathBuf, Vec<PathBuf>) {
    let store = tmp.join("store");
    assert!(slug_bounded(&store, &["init"]).status.success());
    let mut trees = Vec::new();
    for n in 0..4u64 {
        let tree = tmp.join(format!("tree{n}"));
        Tree::new()
            .file("shared.txt", "the same in every tree")
            .file(format!("own-{n}.bin"), content(3000, n))
            .build(&tree);
        let name = if n == 3 {
            "newest".to_string()
        } else {
            format!("r{n}")
        };
        let out = slug_bounded(
            &store,
            &["snapshot", tree.to_str().unwrap(), "--ref", &name],
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        trees.push(tree);
    }
    (store, trees)
}

/// Fails unless `out` failed and named one of `files`.
fn assert_fails_naming(out: &Output, files: &[PathBuf], what: &str) {
    let err = text(&out.stderr) + &text(&out.stdout);
    assert!(!out.status.success(), "{what} succeeded: {err}");
    assert!(
        files.iter().any(|f| err.contains(&*f.to_string_lossy())),
        "{what} failed without naming a damaged file of {files:?}: {err}"
    );
}

#[test]
fn a_damaged_index_log_never_loses_a_slug_silently() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, trees) = store_of_four(tmp.path());
    // The logs as the last command left them. Whatever records one holds, a byte in its middle
    // turns bad (a log damaged at rest, as a bad sector would).
    let logs: Vec<PathBuf> = index_files(&store, "log")
        .into_iter()
        .filter(|l| fs::metadata(l).unwrap().len() > 0)
        .collect();
    for log in &logs {
        flip_byte(log, fs::metadata(log).unwrap().len() / 2);
    }

    let ls = slug_bounded(&store, &["--json", "ls"]);
    if ls.status.success() {
        let listed: Vec<serde_json::Value> = serde_json::from_slice(&ls.stdout).unwrap();
        assert_eq!(
            listed.len(),
            4,
            "`slug ls` succeeded with a slug missing after damage to {logs:?}"
        );
    } else {
        assert_fails_naming(&ls, &logs, "slug ls");
    }

    let verify = slug_bounded(&store, &["verify"]);
    if verify.status.success() {
        assert!(
            text(&verify.stdout).contains(", 4 slugs: ok"),
            "`slug verify` said ok without every slug: {}",
            text(&verify.stdout)
        );
    } else {
        assert_eq!(verify.status.code(), Some(3), "{}", text(&verify.stderr));
        assert_fails_naming(&verify, &logs, "slug verify");
    }

    let out = tmp.path().join("out");
    let restore = slug_bounded(&store, &["restore", "newest", out.to_str().unwrap()]);
    if restore.status.success() {
        assert_same_tree(&trees[3], &out);
    } else {
        assert_fails_naming(&restore, &logs, "slug restore");
    }
}

#[test]
fn verify_reports_damage_in_a_family_nothing_else_reads() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    assert!(slug_bounded(&store, &["init"]).status.success());
    let tree = tmp.path().join("tree");
    let name = "a-name-found-only-in-the-stat-cache.php";
    Tree::new().file(name, "<?php").build(&tree);
    // Old enough for the stat cache to record it.
    age_files(&tree, Duration::from_secs(3600));
    let snap = slug_bounded(&store, &["snapshot", tree.to_str().unwrap()]);
    assert!(snap.status.success(), "{}", text(&snap.stderr));
    let verify = slug_bounded(&store, &["verify"]);
    assert!(verify.status.success(), "{}", text(&verify.stdout));

    // The stat cache's table file holds the path; a byte of it goes bad.
    let tables: Vec<PathBuf> = index_files(&store, "sst")
        .into_iter()
        .filter(|t| {
            let bytes = fs::read(t).unwrap();
            bytes.windows(name.len()).any(|w| w == name.as_bytes())
        })
        .collect();
    assert_eq!(tables.len(), 1, "the stat cache's table file: {tables:?}");
    let bytes = fs::read(&tables[0]).unwrap();
    let at = bytes.windows(name.len()).position(|w| w == name.as_bytes());
    flip_byte(&tables[0], at.unwrap() as u64 + 4);

    let verify = slug_bounded(&store, &["verify"]);
    assert_eq!(
        verify.status.code(),
        Some(3),
        "verify did not report the damage: {}{}",
        text(&verify.stdout),
        text(&verify.stderr)
    );
    let said = text(&verify.stdout);
    assert!(said.contains("BAD index"), "{said}");
    assert_fails_naming(&verify, &tables, "slug verify");
    let json = slug_bounded(&store, &["--json", "verify"]);
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let bad = report["bad_index"].as_array().unwrap();
    assert_eq!(bad.len(), 1, "{report}");
    assert!(bad[0].as_str().unwrap().contains("`stat`"), "{report}");
}

/// Puts ref `name` -> `slug` into the store's index through its write-ahead log only, synced and never
/// flushed: what a `slug` killed between its commit's write and flush leaves behind.
fn ref_in_the_log_only(store: &Path, name: &str, slug: &str) {
    let families = ["objects", "slugs", "refs", "reflog", "stat", "meta"];
    let db = rocksdb::DB::open_cf(&rocksdb::Options::default(), store.join("index"), families)
        .expect("open the index");
    let id: Vec<u8> = (0..64)
        .step_by(2)
        .map(|i| u8::from_str_radix(&slug[i..i + 2], 16).unwrap())
        .collect();
    let mut wo = rocksdb::WriteOptions::default();
    wo.set_sync(true);
    let refs = db.cf_handle("refs").unwrap();
    db.put_cf_opt(refs, name.as_bytes(), id, &wo).unwrap();
    // Dropped without a flush: the record stays in the log.
}

#[test]
fn a_log_holding_a_commit_that_goes_bad_fails_every_command_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, _trees) = store_of_four(tmp.path());
    let newest = slug_bounded(&store, &["--json", "refs"]);
    let refs: serde_json::Value = serde_json::from_slice(&newest.stdout).unwrap();
    let slug = refs["newest"]
        .as_str()
        .unwrap_or_else(|| panic!("no ref `newest` in {refs}"));
    ref_in_the_log_only(&store, "from-the-log", slug);
    let logs: Vec<PathBuf> = index_files(&store, "log")
        .into_iter()
        .filter(|l| fs::metadata(l).unwrap().len() > 0)
        .collect();
    assert_eq!(logs.len(), 1, "{logs:?}");
    // Undamaged, the record is there.
    let out = tmp.path().join("out");
    let restore = slug_bounded(&store, &["restore", "from-the-log", out.to_str().unwrap()]);
    assert!(restore.status.success(), "{}", text(&restore.stderr));

    // A byte of the record goes bad. (The restore opened the index read-only: the log is as it was.)
    flip_byte(&logs[0], fs::metadata(&logs[0]).unwrap().len() / 2);
    assert_fails_naming(&slug_bounded(&store, &["ls"]), &logs, "slug ls");
    let out = tmp.path().join("out2");
    let restore = slug_bounded(&store, &["restore", "from-the-log", out.to_str().unwrap()]);
    assert_fails_naming(&restore, &logs, "slug restore");
    let verify = slug_bounded(&store, &["verify"]);
    assert_eq!(verify.status.code(), Some(3), "{}", text(&verify.stderr));
    assert!(
        text(&verify.stdout).starts_with("BAD index"),
        "{}",
        text(&verify.stdout)
    );
    assert_fails_naming(&verify, &logs, "slug verify");
    // A command that writes refuses too, and leaves the log for a person to look at.
    let snap = slug_bounded(
        &store,
        &["snapshot", tmp.path().join("tree0").to_str().unwrap()],
    );
    assert_fails_naming(&snap, &logs, "slug snapshot");
    assert!(logs[0].exists());
}
