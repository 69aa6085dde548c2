//! `slug prune` and `slug ls` agree on which slug is the newest, however many were made in one
//! second: the order is the order of creation, not of ids.

mod proc_support;

use std::path::Path;

use proc_support::*;

/// `slug ARGS --json` in `store`, checked for success, parsed.
fn json(store: &Path, args: &[&str]) -> serde_json::Value {
    let out = run(slug(store).args(args).arg("--json"));
    assert!(
        out.status.success(),
        "slug {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn ids(list: &serde_json::Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

/// `slug snapshot TREE ARGS` of a one-file tree holding `text`; returns the id printed.
fn snapshot(store: &Path, tree: &Path, text: &str, args: &[&str]) -> String {
    let _ = std::fs::remove_dir_all(tree);
    std::fs::create_dir_all(tree).unwrap();
    std::fs::write(tree.join("index.php"), text).unwrap();
    let out = run(slug(store).arg("snapshot").arg(tree).args(args));
    printed_id(&out).unwrap_or_else(|| panic!("{}", String::from_utf8_lossy(&out.stderr)))
}

/// `init; snapshot A --ref base; snapshot B; snapshot C; snapshot D; prune --keep-last 1`: D, the
/// newest, is kept (with A, which a ref holds), B and C are pruned, and `ls` lists A, B, C, D in that
/// order before. The trees B, C and D are taken in decreasing order of their ids (learnt in a scratch
/// store), the order in which a sort by second and then id got the newest wrong.
#[test]
fn keep_last_keeps_the_newest_of_slugs_made_in_one_second() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    let scratch = dir.path().join("scratch");
    assert!(run(slug(&scratch).arg("init")).status.success());
    let mut later: Vec<(String, String)> = ["B", "C", "D"]
        .iter()
        .map(|t| (snapshot(&scratch, &tree, t, &[]), t.to_string()))
        .collect();
    later.sort_by(|a, b| b.0.cmp(&a.0));

    for round in 0..3 {
        let store = dir.path().join(format!("store-{round}"));
        assert!(run(slug(&store).arg("init")).status.success());
        let mut made = vec![snapshot(&store, &tree, "A", &["--ref", "base"])];
        for (_, text) in &later {
            made.push(snapshot(&store, &tree, text, &[]));
        }
        assert_eq!(ids(&json(&store, &["ls"])), made, "ls order");

        let report = json(&store, &["prune", "--keep-last", "1"]);
        assert_eq!(ids(&report["pruned"]), made[1..3], "pruned");
        assert_eq!(
            ids(&json(&store, &["ls"])),
            [made[0].clone(), made[3].clone()],
            "left"
        );
    }
}
