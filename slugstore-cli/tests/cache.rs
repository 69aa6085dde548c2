//! `slug cache`: the step cache as a build hook uses it. Steps are shell commands that append
//! their name to a count file, so whether a step ran is what the step itself says.

mod proc_support;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use proc_support::*;
use slugstore_tests::compare::assert_same_tree;
use slugstore_tests::deadline::{status_and_peak_rss, wait_deadline};

/// `slug cache run ARGS` in `cwd`, with no cache variable inherited from the test's environment.
fn cache(store: &Path, cwd: &Path, args: &[&str]) -> std::process::Command {
    let mut c = slug(store);
    c.current_dir(cwd)
        .args(["--lock-timeout", "60", "cache"])
        .args(args);
    for v in ["SLUG_CACHE_ROOT", "SLUG_CACHE_REMOTE", "SLUG_CACHE_KEY"] {
        c.env_remove(v);
    }
    c
}

fn ok(out: Output, what: &str) -> Output {
    expect_exit(&out, 0, what);
    out
}

/// The steps named in the count file at `count`, in order, since the last call.
fn ran(count: &Path) -> Vec<String> {
    let text = fs::read_to_string(count).unwrap_or_default();
    let _ = fs::remove_file(count);
    text.lines().map(str::to_owned).collect()
}

fn json(store: &Path, cwd: &Path, args: &[&str]) -> serde_json::Value {
    let out = ok(
        run(cache(store, cwd, &["--json"]).args(args)),
        "cache --json",
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A store and a build directory `b` beside the count file `count`.
struct Build {
    _dir: tempfile::TempDir,
    root: PathBuf,
    store: PathBuf,
    build: PathBuf,
    count: PathBuf,
}

impl Build {
    fn new() -> Build {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let store = root.join("store");
        ok(run(slug(&store).arg("init")), "init");
        let build = root.join("b");
        fs::create_dir_all(&build).unwrap();
        Build {
            count: root.join("count"),
            _dir: dir,
            root,
            store,
            build,
        }
    }

    fn write(&self, rel: &str, text: &str) {
        let p = self.build.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }

    fn run(&self, args: &[&str]) -> Output {
        run(cache(&self.store, &self.build, &["run"]).args(args))
    }

    fn explain(&self, name: &str) -> Vec<String> {
        let v = json(&self.store, &self.build, &["explain", name]);
        v["changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let kind = c["change"].as_str().unwrap().to_owned();
                match c.get("path").or(c.get("name")).or(c.get("command")) {
                    Some(p) => format!("{kind} {}", p.as_str().unwrap()),
                    None => kind,
                }
            })
            .collect()
    }

    fn entries(&self) -> usize {
        json(&self.store, &self.build, &["ls"])
            .as_array()
            .unwrap()
            .len()
    }
}

/// The three steps of a Magento build, as shell commands.
const COMPOSER: &[&str] = &[
    "composer",
    "--file",
    "composer.lock",
    "--file",
    "composer.json",
    "--output",
    "vendor",
    "--",
    "sh",
    "-c",
    "echo composer >> ../count; cp -r src vendor",
];
const DI: &[&str] = &[
    "di",
    "--tree",
    "app/code",
    "--tree",
    "vendor",
    "--output",
    "generated",
    "--",
    "sh",
    "-c",
    "echo di >> ../count; mkdir generated; cat app/code/*.php vendor/* > generated/di.php",
];
const STATIC: &[&str] = &[
    "static", "--tree", "app/design", "--tree", "vendor", "--env", "CONFIG__*", "--output",
    "pub/static", "--", "sh", "-c",
    "echo static >> ../count; mkdir -p pub/static; cp app/design/* pub/static/; env | grep ^CONFIG__ | sort > pub/static/config; true",
];

fn magento() -> Build {
    let b = Build::new();
    b.write("composer.lock", "lock 1");
    b.write("composer.json", "{}");
    b.write("src/lib.php", "<?php // a package");
    b.write("app/code/A.php", "<?php class A {}");
    b.write("app/design/theme.css", "body {}");
    b.write("README.md", "readme");
    b
}

/// Runs the three steps with `env` set; returns the steps that ran.
fn build(b: &Build, env: &[(&str, &str)]) -> Vec<String> {
    for step in [COMPOSER, DI, STATIC] {
        let mut c = cache(&b.store, &b.build, &["run"]);
        c.args(step);
        for (k, v) in env {
            c.env(k, v);
        }
        ok(run(&mut c), step[0]);
    }
    ran(&b.count)
}

#[test]
fn invalidation_matrix_and_explain() {
    let b = magento();
    let config = [("CONFIG__A", "1")];
    assert_eq!(build(&b, &config), ["composer", "di", "static"]);
    assert_eq!(build(&b, &config), Vec::<String>::new(), "all hit");

    b.write("README.md", "changed");
    assert_eq!(
        build(&b, &config),
        Vec::<String>::new(),
        "README is no input"
    );

    // composer reruns; it makes the same vendor/, so the steps keyed on it still hit.
    b.write("composer.lock", "lock 2");
    assert_eq!(build(&b, &config), ["composer"]);
    assert_eq!(b.explain("composer"), ["file_changed composer.lock"]);

    b.write("app/code/A.php", "<?php class A { public $x; }");
    assert_eq!(build(&b, &config), ["di"]);
    assert_eq!(b.explain("di"), ["file_changed app/code/A.php"]);

    assert_eq!(build(&b, &[("CONFIG__A", "2")]), ["static"]);
    assert_eq!(b.explain("static"), ["variable_changed CONFIG__A"]);
    // By name only: the value is never printed.
    let out = ok(
        run(&mut cache(&b.store, &b.build, &["explain", "static"])),
        "explain",
    );
    let lines: Vec<String> = text(&out.stdout)
        .lines()
        .skip(1)
        .map(str::to_owned)
        .collect();
    assert_eq!(lines, ["  variable changed: CONFIG__A"]);

    // A new variable of the prefix is a change too; the outputs are the recorded ones.
    assert_eq!(
        build(&b, &[("CONFIG__A", "2"), ("CONFIG__B", "x")]),
        ["static"]
    );
    assert_eq!(b.explain("static"), ["variable_changed CONFIG__B"]);
    assert_eq!(build(&b, &[("CONFIG__A", "1")]), Vec::<String>::new());
    let cfg = fs::read_to_string(b.build.join("pub/static/config")).unwrap();
    assert_eq!(cfg, "CONFIG__A=1\n");
}

#[test]
fn a_failed_or_incomplete_run_records_nothing() {
    let b = Build::new();
    b.write("in.txt", "1");
    let out = b.run(&[
        "s", "--file", "in.txt", "--output", "out", "--", "sh", "-c", "exit 7",
    ]);
    expect_exit(&out, 7, "failing step");

    let out = b.run(&["s", "--file", "in.txt", "--output", "out", "--", "true"]);
    expect_exit(&out, 1, "step without its output");
    assert!(
        text(&out.stderr).contains("did not produce"),
        "{}",
        text(&out.stderr)
    );

    let edit = "echo s >> ../count; mkdir out; echo 2 > in.txt";
    let step = [
        "run", "s", "--file", "in.txt", "--output", "out", "--", "sh", "-c", edit,
    ];
    let r = json(&b.store, &b.build, &step);
    assert_eq!(r["outcome"], "not_recorded");
    let note = r["notes"][0].as_str().unwrap();
    assert!(
        note.contains("inputs changed while the step ran (file changed: in.txt)"),
        "{note}"
    );
    assert_eq!(b.entries(), 0);
    assert_eq!(ran(&b.count), ["s"]);

    // A step that leaves a process running with its output: the run returns without waiting for it,
    // and records nothing, since that process may still be writing the outputs.
    let t = std::time::Instant::now();
    let bg = "mkdir -p out; echo built > out/a; echo step-done; sleep 60 &";
    let r = json(
        &b.store,
        &b.build,
        &[
            "run", "bg", "--file", "in.txt", "--output", "out", "--", "sh", "-c", bg,
        ],
    );
    assert!(
        t.elapsed() < std::time::Duration::from_secs(30),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(r["outcome"], "not_recorded", "{r}");
    assert_eq!(r["status"], 0, "{r}");
    assert!(notes(&r).contains("processes it left running"), "{r}");
    assert_eq!(b.entries(), 0);
}

#[test]
fn concurrent_runs_of_one_key_run_the_command_once() {
    let b = Build::new();
    let step = "echo s >> ../count; sleep 1; mkdir out; echo x > out/f";
    let mut dirs = Vec::new();
    let mut children = Vec::new();
    for i in 0..2 {
        let d = b.root.join(format!("x{i}")).join("b");
        fs::create_dir_all(&d).unwrap();
        fs::write(d.join("in"), "same").unwrap();
        let mut c = cache(
            &b.store,
            &d,
            &["run", "s", "--file", "in", "--output", "out", "--"],
        );
        c.args(["sh", "-c", step])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        children.push(c.spawn().unwrap());
        dirs.push(d);
    }
    for mut c in children {
        assert!(wait_deadline(&mut c).success());
    }
    let runs: usize = (0..2)
        .map(|i| ran(&b.root.join(format!("x{i}")).join("count")).len())
        .sum();
    assert_eq!(runs, 1);
    for d in dirs {
        assert_eq!(fs::read_to_string(d.join("out/f")).unwrap(), "x\n");
    }
}

/// The outputs of a step with every kind of entry.
const TREE_STEP: &str = "echo s >> ../count; mkdir -p out/d/empty out/bin; echo a > out/d/a; \
    printf '#!/bin/sh\\n' > out/bin/x; chmod 755 out/bin/x; ln -s d/a out/link; echo hi; echo oops >&2";

#[test]
fn a_hit_elsewhere_is_bit_exact_writable_and_private() {
    let b = Build::new();
    b.write("in", "1");
    let args = [
        "s", "--file", "in", "--output", "out", "--", "sh", "-c", TREE_STEP,
    ];
    ok(b.run(&args), "first");
    assert_eq!(ran(&b.count), ["s"]);

    // Another build directory at another path, same inputs.
    let other = b.root.join("elsewhere").join("b");
    fs::create_dir_all(&other).unwrap();
    fs::write(other.join("in"), "1").unwrap();
    let out = ok(run(cache(&b.store, &other, &["run"]).args(args)), "hit");
    assert_eq!(text(&out.stdout), "hi\n", "the recorded output is replayed");
    assert!(text(&out.stderr).contains("oops"));
    assert_eq!(
        ran(&b.root.join("elsewhere").join("count")),
        Vec::<String>::new()
    );
    assert_same_tree(&b.build.join("out"), &other.join("out"));
    let a = other.join("out/d/a");
    let m = fs::metadata(&a).unwrap();
    assert_eq!((m.permissions().mode() & 0o777, m.nlink()), (0o644, 1));

    // Editing the restored file touches nothing stored; the next hit puts it back, leaving the
    // other files (same inode) alone and removing what the step did not make.
    fs::write(&a, "edited").unwrap();
    fs::write(other.join("out/extra"), "x").unwrap();
    ok(run(slug(&b.store).arg("verify")), "verify");
    let ino = fs::metadata(other.join("out/bin/x")).unwrap().ino();
    ok(
        run(cache(&b.store, &other, &["run"]).args(args)),
        "hit again",
    );
    assert_same_tree(&b.build.join("out"), &other.join("out"));
    assert_eq!(fs::metadata(other.join("out/bin/x")).unwrap().ino(), ino);
}

#[test]
fn eviction_by_size_and_gc() {
    let b = Build::new();
    b.write("in", "1");
    let step = "mkdir out; head -c 100000 /dev/urandom > out/big";
    ok(
        b.run(&[
            "s", "--file", "in", "--output", "out", "--", "sh", "-c", step,
        ]),
        "run",
    );
    assert_eq!(b.entries(), 1);
    // The entry's slug survives a slug prune, and gc keeps its objects.
    ok(
        run(slug(&b.store).args(["prune", "--keep-last", "0"])),
        "prune",
    );
    ok(run(slug(&b.store).arg("gc")), "gc");
    let big = fs::read(b.build.join("out/big")).unwrap();
    fs::remove_dir_all(b.build.join("out")).unwrap();
    ok(
        b.run(&[
            "s", "--file", "in", "--output", "out", "--", "sh", "-c", step,
        ]),
        "hit",
    );
    assert_eq!(
        fs::read(b.build.join("out/big")).unwrap(),
        big,
        "restored, not run again"
    );

    // A dry run of eviction with a slug policy says exactly what the real run then does.
    ok(
        run(slug(&b.store).arg("snapshot").arg(&b.build)),
        "a slug to prune",
    );
    let policy = [
        "prune",
        "--keep-last",
        "0",
        "--cache-max-size",
        "1K",
        "--json",
    ];
    let dry = ok(run(slug(&b.store).args(policy).arg("--dry-run")), "dry run");
    let dry: serde_json::Value = serde_json::from_slice(&dry.stdout).unwrap();
    assert_eq!(b.entries(), 1, "a dry run evicts nothing");
    let out = ok(run(slug(&b.store).args(policy)), "evict");
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["cache_evicted"].as_array().unwrap().len(), 1);
    assert_eq!(b.entries(), 0);
    let ids = |v: &serde_json::Value| -> Vec<String> {
        let pruned = v["pruned"].as_array().unwrap();
        pruned.iter().map(|s| s["id"].to_string()).collect()
    };
    assert_eq!(ids(&r).len(), 1, "the snapshot is pruned: {r}");
    assert_eq!(ids(&dry), ids(&r), "dry run {dry}\nreal run {r}");
    assert_eq!(dry["kept"], r["kept"], "dry run {dry}\nreal run {r}");
    assert_eq!(dry["cache_evicted"], r["cache_evicted"]);
    let out = ok(run(slug(&b.store).args(["gc", "--json"])), "gc");
    let g: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(g["objects_freed"].as_u64().unwrap() >= 2, "{g}");
}

/// Where a shared cache lives, and the variables its clients need.
struct Shared {
    url: String,
    env: Vec<(String, String)>,
}

/// A fresh store `name` under `root` with the remote `origin`, and its build directory holding the
/// step's input.
fn client(root: &Path, name: &str, shared: &Shared) -> (PathBuf, PathBuf) {
    let store = root.join(name).join("store");
    let build = root.join(name).join("b");
    fs::create_dir_all(&build).unwrap();
    fs::write(build.join("in"), "1").unwrap();
    ok(run(slug(&store).arg("init")), "init");
    ok(
        run(slug(&store).args(["remote", "add", "origin", &shared.url])),
        "remote add",
    );
    (store, build)
}

const BIG_STEP: &str = "echo s >> ../count; mkdir out; head -c 200000 /dev/urandom > out/big";

/// `slug cache run` of the shared step with `--remote origin` (and a signing key), as JSON.
fn shared_run(
    store: &Path,
    build: &Path,
    shared: &Shared,
    key: Option<&Path>,
) -> serde_json::Value {
    let mut c = cache(store, build, &["--json", "run", "s", "--remote", "origin"]);
    if let Some(k) = key {
        c.arg("--signing-key").arg(k);
    }
    c.args([
        "--file", "in", "--output", "out", "--", "sh", "-c", BIG_STEP,
    ]);
    c.envs(shared.env.iter().map(|(k, v)| (k, v)));
    let out = ok(run(&mut c), "shared run");
    serde_json::from_slice(&out.stdout).unwrap()
}

fn notes(r: &serde_json::Value) -> String {
    r["notes"].to_string()
}

/// A writer pushes an entry; a fresh store that does not trust it runs the step, one that trusts
/// it gets a hit with the writer's bytes. Returns the root, for damage done by the caller.
fn shares_entries(shared: &Shared) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let key = root.join("writer.key");
    let out = ok(
        run(slug(&root.join("x")).args(["cache", "keygen"]).arg(&key)),
        "keygen",
    );
    let public = text(&out.stdout).trim().to_owned();
    assert_eq!(
        fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let (a, a_build) = client(root, "writer", shared);
    let r = shared_run(&a, &a_build, shared, Some(&key));
    assert_eq!(
        (r["outcome"].as_str(), r["pushed"].as_bool()),
        (Some("recorded"), Some(true)),
        "{r}"
    );
    let big = fs::read(a_build.join("out/big")).unwrap();

    let (b, b_build) = client(root, "stranger", shared);
    let r = shared_run(&b, &b_build, shared, None);
    assert_eq!(r["outcome"], "recorded", "{r}");
    assert!(notes(&r).contains("does not trust"), "{r}");
    assert_eq!(ran(&root.join("stranger/count")), ["s"]);

    let (c, c_build) = client(root, "reader", shared);
    ok(run(slug(&c).args(["cache", "trust", &public])), "trust");
    let r = shared_run(&c, &c_build, shared, None);
    assert_eq!(r["outcome"], "remote_hit", "{r}");
    assert_eq!(fs::read(c_build.join("out/big")).unwrap(), big);
    assert_eq!(ran(&root.join("reader/count")), Vec::<String>::new());
    ok(run(slug(&c).arg("verify")), "verify");

    // The stranger's own run, pushed with its own key, loses to the first record of the key and
    // made other bytes: it is told so.
    let other_key = root.join("stranger.key");
    ok(
        run(slug(&b).args(["cache", "keygen"]).arg(&other_key)),
        "keygen",
    );
    ok(run(&mut cache(&b, &b_build, &["rm", "s"])), "rm");
    let r = shared_run(&b, &b_build, shared, Some(&other_key));
    assert!(notes(&r).contains("step is not deterministic"), "{r}");
    assert_eq!(r["pushed"], false);

    let path = root.to_path_buf();
    (dir, path)
}

#[test]
fn a_fresh_store_hits_from_a_file_remote_and_refuses_damage() {
    let remote = tempfile::tempdir().unwrap();
    let shared = Shared {
        url: format!("file://{}", remote.path().display()),
        env: Vec::new(),
    };
    let (_dir, root) = shares_entries(&shared);

    // Damage every pack on the remote: a reader that trusts the record gets a miss naming the
    // damage, runs the step, and has correct outputs.
    for e in fs::read_dir(remote.path().join("packs")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "pack") {
            let len = fs::metadata(&p).unwrap().len();
            slugstore_tests::store::flip_byte(&p, len / 2);
        }
    }
    let trusted = text(
        &ok(
            run(slug(&root.join("reader/store")).args(["cache", "trust", "--json"])),
            "list",
        )
        .stdout,
    );
    let writer_key: serde_json::Value = serde_json::from_str(&trusted).unwrap();
    let (d, d_build) = client(&root, "victim", &shared);
    let pk = writer_key[0]["public_key"].as_str().unwrap();
    ok(run(slug(&d).args(["cache", "trust", pk])), "trust");
    let r = shared_run(&d, &d_build, &shared, None);
    assert_eq!(r["outcome"], "recorded", "{r}");
    assert!(notes(&r).contains("not used"), "{r}");
    assert_eq!(ran(&root.join("victim/count")), ["s"]);
    assert_eq!(
        fs::metadata(d_build.join("out/big")).unwrap().len(),
        200_000
    );
    ok(run(slug(&d).arg("verify")), "verify");
}

#[test]
fn a_fresh_store_hits_from_s3() {
    let bucket = std::env::var("SLUGSTORE_S3_BUCKET").unwrap_or_else(|_| "slugstore-test".into());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let prefix = format!("tests/cache-{}-{nanos}", std::process::id());
    // Fails loudly, naming how to start the server, when there is none.
    let config = slugstore_tests::s3::s3_config(&bucket, &prefix);
    let shared = Shared {
        url: format!("s3://{bucket}/{prefix}"),
        env: vec![("AWS_ENDPOINT_URL".into(), config.endpoint.clone().unwrap())],
    };
    shares_entries(&shared);
}

#[test]
fn a_large_file_output_is_stored_in_bounded_memory_and_restored_bit_exact() {
    let b = Build::new();
    b.write("in", "1");
    // 96 MiB of random bytes (incompressible): held whole, the output would cost at least that much
    // memory, and as much again compressed.
    const BIG: u64 = 96 << 20;
    let step = format!("echo s >> ../count; head -c {BIG} /dev/urandom > big.bin");
    let args = [
        "s", "--file", "in", "--output", "big.bin", "--", "sh", "-c", &step,
    ];
    let (status, peak) = status_and_peak_rss(cache(&b.store, &b.build, &["run"]).args(args));
    assert!(status.success(), "first run: {status:?}");
    assert_eq!(ran(&b.count), ["s"]);
    assert!(
        peak < BIG / 2,
        "peak RSS of `slug cache run`: {} MiB for a {} MiB output",
        peak >> 20,
        BIG >> 20
    );
    let original = fs::read(b.build.join("big.bin")).unwrap();

    // A fresh build directory with the same input is a hit: the output comes back from the store.
    let other = b.root.join("elsewhere").join("b");
    fs::create_dir_all(&other).unwrap();
    fs::write(other.join("in"), "1").unwrap();
    ok(run(cache(&b.store, &other, &["run"]).args(args)), "hit");
    assert_eq!(
        ran(&b.root.join("elsewhere").join("count")),
        Vec::<String>::new()
    );
    assert!(
        fs::read(other.join("big.bin")).unwrap() == original,
        "restored bit-exact"
    );
    ok(run(slug(&b.store).arg("verify")), "verify");
}
