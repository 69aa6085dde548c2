//! Retention of builds end to end: ten deploys, `slug prune --keep-last 2`, `slug gc`, and the store
//! holds what deploys still need and nothing else (compared with a fresh store holding only that).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use slugstore_tests::project::{current, edit, stderr, Shop};

/// The slug ids of `slug ls`, with whether each is a build (has a `build_key` label).
fn slugs(shop: &Shop) -> Vec<(String, bool)> {
    shop.slug_json(&["ls"])
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_owned(),
                r["labels"]["build_key"].is_string(),
            )
        })
        .collect()
}

/// The slugs the `builds/*` refs point at.
fn build_refs(shop: &Shop) -> BTreeSet<String> {
    shop.slug_json(&["refs"])
        .as_object()
        .unwrap()
        .iter()
        .filter(|(name, _)| name.starts_with("builds/"))
        .map(|(_, id)| id.as_str().unwrap().to_owned())
        .collect()
}

/// `slug --json --store STORE ARGS`, which must succeed, parsed.
fn slug_in(shop: &Shop, store: &Path, args: &[&str]) -> serde_json::Value {
    let out = Command::new(shop.bin())
        .arg("--store")
        .arg(store)
        .arg("--json")
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "slug {args:?}: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Objects in the store, from `slug verify`.
fn object_count(shop: &Shop, store: &Path) -> u64 {
    slug_in(shop, store, &["verify"])["objects_total"]
        .as_u64()
        .unwrap()
}

#[test]
fn after_ten_deploys_prune_and_gc_keep_only_what_deploys_need() {
    let shop = Shop::new(Path::new(env!("CARGO_BIN_EXE_slug")));
    shop.add_env("production", &[]);
    let target = shop.target("production");
    let mut deployed = Vec::new();
    for i in 0..10 {
        // A new version of a static asset each time: a new build, a new gzip cache entry.
        edit(&shop.src().join("web/js/catalog.js"), |s| {
            format!("{s}\n// release {i}: {}\n", "x".repeat(64 * (i + 1)))
        });
        // One release on disk: the build of deploy 9 is kept only by the environment's history.
        shop.slug_ok(&[
            "deploy",
            "src",
            "--env",
            "production",
            "--keep",
            "1",
            "--cleanup",
            "foreground",
        ]);
        deployed.push(current(&target).unwrap());
    }
    assert_eq!(
        build_refs(&shop).len(),
        10,
        "every build is pinned by its ref"
    );
    let live = deployed[9].clone();

    // The build steps' cache entries go first: they would keep every version of the asset alive.
    shop.slug_ok(&["prune", "--cache-max-size", "0"]);
    // A dry run says the same and changes nothing.
    let dry = shop.slug_json(&["prune", "--keep-last", "2", "--dry-run"]);
    assert_eq!(
        dry["build_refs_dropped"].as_array().unwrap().len(),
        8,
        "{dry}"
    );
    assert_eq!(build_refs(&shop).len(), 10);
    let report = shop.slug_json(&["prune", "--keep-last", "2"]);
    assert_eq!(report["build_refs_dropped"], dry["build_refs_dropped"]);
    assert_eq!(report["pruned"], dry["pruned"]);
    let dropped: BTreeSet<&str> = report["build_refs_dropped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["slug"].as_str().unwrap())
        .collect();
    let expected: BTreeSet<&str> = deployed[..8].iter().map(String::as_str).collect();
    assert_eq!(dropped, expected, "{report}");
    // Live (and on disk), and the two newest deploys of the environment's history: builds 9 and 10.
    let needed: BTreeSet<String> = deployed[8..].iter().cloned().collect();
    assert_eq!(build_refs(&shop), needed);
    let remaining = slugs(&shop);
    let builds: BTreeSet<String> = remaining
        .iter()
        .filter(|(_, build)| *build)
        .map(|(id, _)| id.clone())
        .collect();
    assert!(builds.is_superset(&needed), "{remaining:?}");
    // Besides those, only what `--keep-last 2` keeps: at most two slugs, the newest (the source tree
    // of the last deploy, and of the one before when deploys share a second).
    assert!(remaining.len() <= needed.len() + 2, "{remaining:?}");

    let gc = shop.slug_json(&["gc"]);
    let gz = &gc["gz_cache"];
    assert!(gz["dropped"].as_u64().unwrap() >= 8, "{gc}");
    assert!(
        gz["bytes_after"].as_u64() < gz["bytes_before"].as_u64(),
        "{gc}"
    );
    let again = shop.slug_json(&["gc"]);
    assert_eq!(again["objects_freed"], 0, "{again}");
    assert_eq!(again["gz_cache"]["dropped"], 0, "{again}");

    // A fresh store holding exactly the remaining slugs has as many objects.
    let fresh = shop.root.join("fresh");
    slug_in(&shop, &fresh, &["init"]);
    for (id, _) in &remaining {
        let tar = shop.root.join(format!("{id}.tar"));
        shop.slug_ok(&["export", id, "-o", tar.to_str().unwrap()]);
        let imported = slug_in(&shop, &fresh, &["import", tar.to_str().unwrap()]);
        assert_eq!(imported["slug"], id.as_str());
    }
    assert_eq!(
        object_count(&shop, &shop.store()),
        object_count(&shop, &fresh)
    );
    // The live release is untouched and the store verifies.
    assert_eq!(current(&target).unwrap(), live);
    shop.slug_ok(&["verify"]);
}

#[test]
fn refs_rm_removes_a_ref_and_keeps_its_history() {
    let shop = Shop::new(Path::new(env!("CARGO_BIN_EXE_slug")));
    let id = String::from_utf8(
        shop.slug_ok(&["snapshot", "src", "--ref", "release-1"])
            .stdout,
    )
    .unwrap()
    .trim()
    .to_owned();
    // Pinned by the ref: a prune that keeps nothing else keeps it.
    shop.slug_ok(&["snapshot", "src/web", "--ref", "other"]);
    let r = shop.slug_json(&["prune", "--keep-last", "0"]);
    assert!(r["pruned"].as_array().unwrap().is_empty(), "{r}");
    let out = shop.slug_json(&["refs", "rm", "release-1"]);
    assert_eq!(out["slug"], id.as_str());
    assert!(shop.slug_json(&["refs"]).get("release-1").is_none());
    // The history stays readable.
    let log = shop.slug_json(&["refs", "release-1"]);
    assert_eq!(log[0]["slug"], id.as_str());
    // Now the policy decides: it goes, the other ref's slug stays.
    let r = shop.slug_json(&["prune", "--keep-last", "0"]);
    let pruned: Vec<&str> = r["pruned"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(pruned, [id.as_str()], "{r}");
    // Removing a ref that does not exist is an error naming it.
    let out = shop.slug(&["refs", "rm", "release-1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no ref named `release-1`"));
}
