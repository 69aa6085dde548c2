//! `slug diff` end to end: two trees with one of each kind of difference snapshotted by the binary,
//! then compared as text, `--name-only`, `--stat` and `--json`, with `--exit-code`, and by names the
//! store does not know.

mod proc_support;

use std::path::PathBuf;
use std::process::Output;

use proc_support::{printed_id, run, slug};
use slugstore_tests::diff_case::{self, EXPECTED, EXPECTED_TEXT};

struct Env {
    tmp: tempfile::TempDir,
}

impl Env {
    /// A store with the old tree on ref `old` and the new one on ref `new`.
    fn new() -> Env {
        let env = Env {
            tmp: tempfile::tempdir().unwrap(),
        };
        expect(&env.slug(&["init"]), 0);
        for (name, tree) in [
            ("old", diff_case::old_tree()),
            ("new", diff_case::new_tree()),
        ] {
            tree.build(&env.tmp.path().join(name));
            env.snapshot(name);
        }
        env
    }

    fn store(&self) -> PathBuf {
        self.tmp.path().join("store")
    }

    /// `slug --quiet ARGS...`.
    fn slug(&self, args: &[&str]) -> Output {
        run(slug(&self.store()).args(args).current_dir(self.tmp.path()))
    }

    /// Snapshots the tree `name` onto ref `name`; returns its id.
    fn snapshot(&self, name: &str) -> String {
        let out = self.slug(&["snapshot", name, "--ref", name]);
        printed_id(expect(&out, 0)).expect("a slug id")
    }
}

/// Asserts the exit status; returns the output.
fn expect(out: &Output, code: i32) -> &Output {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("UTF-8 output")
}

fn lines(out: &Output) -> Vec<String> {
    stdout(out).lines().map(str::to_string).collect()
}

#[test]
fn text_lists_each_path_and_names_the_change() {
    let env = Env::new();
    let text = lines(expect(&env.slug(&["diff", "old", "new"]), 0));
    assert_eq!(text, EXPECTED_TEXT);

    // Ids and id prefixes name the slugs too.
    let new = env.slug(&["--json", "diff", "old", "new"]);
    let report: serde_json::Value = serde_json::from_str(&stdout(expect(&new, 0))).unwrap();
    let (from, to) = (
        report["from"].as_str().unwrap(),
        report["to"].as_str().unwrap(),
    );
    let by_id = env.slug(&["diff", &from[..8], to]);
    assert_eq!(lines(expect(&by_id, 0)), EXPECTED_TEXT);

    let names = lines(expect(&env.slug(&["diff", "--name-only", "old", "new"]), 0));
    let want: Vec<String> = EXPECTED
        .iter()
        .map(|(p, _, _)| p.escape_ascii().to_string())
        .collect();
    assert_eq!(names, want);
}

#[test]
fn the_summary_goes_to_stderr_or_alone_with_stat() {
    let env = Env::new();
    let summary = [
        "2 added, 6 removed, 6 changed (2 content, 1 mode, 2 type, 1 target), 10 unchanged",
        "files: +23 B added, -43 B removed, 104 B -> 2.0 KiB changed, net +1.8 KiB",
    ];
    assert_eq!(
        lines(expect(&env.slug(&["diff", "--stat", "old", "new"]), 0)),
        summary
    );
    // Without --quiet the summary follows the paths, on stderr.
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_slug"));
    cmd.env_remove("SLUGSTORE_DIR")
        .arg("--store")
        .arg(env.store())
        .args(["diff", "old", "new"]);
    let out = run(&mut cmd);
    assert_eq!(lines(expect(&out, 0)), EXPECTED_TEXT);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim_end(),
        summary.join("\n")
    );
}

#[test]
fn json_holds_the_whole_report() {
    let env = Env::new();
    let out = env.slug(&["--json", "diff", "old", "new"]);
    let report: serde_json::Value = serde_json::from_str(&stdout(expect(&out, 0))).unwrap();
    let entries = report["entries"].as_array().unwrap();
    assert_eq!(entries.len(), EXPECTED.len());
    for (e, (path, status, what)) in entries.iter().zip(EXPECTED) {
        assert_eq!(e["path"], path.escape_ascii().to_string().as_str());
        assert_eq!(e["status"], serde_json::to_value(status).unwrap());
        let want = match what {
            [] => serde_json::Value::Null,
            w => serde_json::to_value(w).unwrap(),
        };
        assert_eq!(e["what"], want);
    }
    let at = |p: &str| entries.iter().find(|e| e["path"] == p).unwrap();
    let odd = at("names/\\xff-latin");
    assert_eq!(odd["path_hex"], "6e616d65732fff2d6c6174696e");
    assert_eq!(odd["new"]["kind"], "file");
    assert!(odd.get("old").is_none());
    assert!(at("added.txt").get("path_hex").is_none());
    let grow = at("app/code/Grow.php");
    assert_eq!(
        (grow["old"]["size"].as_u64(), grow["new"]["size"].as_u64()),
        (Some(100), Some(2000))
    );
    assert_eq!(
        at("current")["new"],
        serde_json::json!({"kind": "symlink", "target": "app"})
    );
    assert_eq!(at("bin/magento")["new"]["executable"], true);
    let t = &report["totals"];
    assert_eq!(
        (
            &t["added"],
            &t["removed"],
            &t["changed"],
            &t["type"],
            &t["unchanged"]
        ),
        (&2.into(), &6.into(), &6.into(), &2.into(), &10.into())
    );

    let stat = env.slug(&["--json", "diff", "--stat", "old", "new"]);
    let stat: serde_json::Value = serde_json::from_str(&stdout(expect(&stat, 0))).unwrap();
    assert_eq!(stat["totals"], report["totals"]);
    assert!(stat.get("entries").is_none());
}

#[test]
fn exit_code_says_whether_the_slugs_differ() {
    let env = Env::new();
    expect(
        &env.slug(&["diff", "--exit-code", "--stat", "old", "new"]),
        4,
    );
    let same = env.slug(&["diff", "--exit-code", "new", "new"]);
    assert!(expect(&same, 0).stdout.is_empty());
}

#[test]
fn unknown_or_pruned_slugs_are_named_in_the_error() {
    let env = Env::new();
    let out = env.slug(&["diff", "old", "nope"]);
    expect(&out, 1);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no slug or ref named `nope`"), "{err}");

    // A slug pruned from the store, named by its full id.
    diff_case::old_tree()
        .file("third.txt", "3")
        .build(&env.tmp.path().join("third"));
    let third = printed_id(expect(&env.slug(&["snapshot", "third"]), 0)).unwrap();
    expect(&env.slug(&["prune", "--keep-last", "0"]), 0);
    let out = env.slug(&["diff", &third, "new"]);
    expect(&out, 1);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "slug {third} is not in the store (pruned, or never stored here)"
        )),
        "{err}"
    );
}
