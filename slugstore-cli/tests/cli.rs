//! The `slug` command end to end: the binary cargo built for this package, run on real trees and stores
//! in temporary directories, checked by its exit status, its output and the files it leaves.

use slugstore_tests::deadline::Deadline;
use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Output};

use slugstore::slug::{Entry, EntryKind, Manifest};
use slugstore::ObjectId;
use slugstore_tests::compare::{assert_same_tree, read_tree};
use slugstore_tests::is_root;
use slugstore_tests::store::{self, flip_byte, Record};
use slugstore_tests::tree::{content, Tree};

const SLUG: &str = env!("CARGO_BIN_EXE_slug");

/// Runs `slug --store STORE ARGS...` with `dir` as working directory.
fn slug(dir: &Path, store: &Path, args: &[&str]) -> Output {
    Command::new(SLUG)
        .current_dir(dir)
        .arg("--store")
        .arg(store)
        .args(args)
        .output_deadline()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Asserts the exit status and returns stdout.
fn expect(out: &Output, code: i32) -> String {
    assert_eq!(
        out.status.code(),
        Some(code),
        "exit status\nstdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn sample() -> Tree {
    Tree::new()
        .file("index.php", "<?php echo 'hi';")
        .file("app/code/A.php", content(20_000, 2))
        .exec("bin/magento", "#!/bin/sh\n")
        .file(b"names/\xff-latin".as_slice(), "x")
        .symlink("current", "app")
        .dir("pub/empty")
        .file("var/log/x.log", "mount content")
}

struct Env {
    tmp: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        let tmp = tempfile::tempdir().unwrap();
        sample().build(&tmp.path().join("src"));
        let env = Env { tmp };
        expect(&env.run(&["init"]), 0);
        env
    }
    fn path(&self, p: &str) -> std::path::PathBuf {
        self.tmp.path().join(p)
    }
    fn run(&self, args: &[&str]) -> Output {
        slug(self.tmp.path(), &self.path("store"), args)
    }
    /// `slug snapshot src ARGS...`; returns the slug id printed.
    fn snapshot(&self, args: &[&str]) -> String {
        let out = self.run(&[&["snapshot", "src"], args].concat());
        let id = expect(&out, 0).trim().to_string();
        assert_eq!(id.len(), 64, "not a slug id: {id}");
        id
    }
}

#[test]
fn snapshot_ls_show_restore() {
    let env = Env::new();
    let out = env.run(&["snapshot", "src", "--ref", "prod", "-m", "first build"]);
    let id = expect(&out, 0).trim().to_string();
    assert!(
        id.len() == 64 && id.bytes().all(|c| c.is_ascii_hexdigit()),
        "{id}"
    );
    let err = text(&out.stderr);
    assert!(
        err.contains("4 files") && err.contains("1 symlinks") && err.contains("new objects"),
        "{err}"
    );

    let ls: serde_json::Value =
        serde_json::from_str(&expect(&env.run(&["ls", "--json"]), 0)).unwrap();
    let slugs = ls.as_array().unwrap();
    assert_eq!(slugs.len(), 1);
    assert_eq!(slugs[0]["id"], id.as_str());
    assert_eq!(slugs[0]["message"], "first build");
    assert_eq!(slugs[0]["refs"], serde_json::json!(["prod"]));
    assert_eq!(slugs[0]["stats"]["files"], 4);

    // The ref, the full id and a prefix all name the slug.
    let shown = expect(&env.run(&["show", "prod"]), 0);
    for line in [
        "index.php",
        "app/code/A.php",
        "bin/magento",
        "names/\\xff-latin",
        "current -> app",
        "pub/empty/",
    ] {
        assert!(shown.contains(line), "show lacks {line}:\n{shown}");
    }
    assert!(!shown.contains("var"), "a mount is in the slug:\n{shown}");
    assert_eq!(expect(&env.run(&["show", &id]), 0), shown);
    assert_eq!(expect(&env.run(&["show", &id[..8]]), 0), shown);

    expect(&env.run(&["restore", &id[..6], "out"]), 0);
    let mut src = read_tree(&env.path("src"));
    src = slugstore_tests::compare::without(src, b"var");
    slugstore_tests::compare::assert_same_listing(&src, &read_tree(&env.path("out")));

    // `--json` snapshot output is a report scripts can read.
    let json: serde_json::Value =
        serde_json::from_str(&expect(&env.run(&["snapshot", "src", "--json"]), 0)).unwrap();
    assert_eq!(json["slug"], id.as_str());
    assert_eq!(json["new_objects"], 0);
    assert_eq!(json["new_slug"], false);
}

#[test]
fn compression_is_chosen_per_command_and_a_bad_value_is_named() {
    let env = Env::new();
    std::fs::write(
        env.path("src/app/code/Big.php"),
        "<?php echo 1;\n".repeat(4000),
    )
    .unwrap();
    let off: serde_json::Value = serde_json::from_str(&expect(
        &env.run(&["--compression", "off", "snapshot", "src", "--json"]),
        0,
    ))
    .unwrap();
    // Nothing compressed: the contents take all their bytes (and the manifest some more).
    assert!(
        off["stored_bytes"].as_u64().unwrap() >= off["new_bytes"].as_u64().unwrap(),
        "{off}"
    );
    // The same content at level 3 in a second store (the default one, made in the working directory)
    // is much smaller; the env variable works as the flag.
    let out = Command::new(SLUG)
        .current_dir(env.path(""))
        .env("SLUG_COMPRESSION", "3")
        .env_remove("SLUGSTORE_DIR")
        .args(["snapshot", "src", "--json"])
        .output_deadline();
    let z: serde_json::Value = serde_json::from_str(&expect(&out, 0)).unwrap();
    assert_eq!(z["slug"], off["slug"], "the level changes no id");
    assert!(
        z["stored_bytes"].as_u64().unwrap() * 4 < off["stored_bytes"].as_u64().unwrap(),
        "{z}"
    );
    expect(
        &env.run(&["restore", off["slug"].as_str().unwrap(), "out"]),
        0,
    );
    assert_eq!(
        std::fs::read(env.path("out/app/code/Big.php")).unwrap(),
        std::fs::read(env.path("src/app/code/Big.php")).unwrap()
    );
    let bad = env.run(&["--compression", "fast", "snapshot", "src"]);
    let err = text(&bad.stderr);
    expect(&bad, 2);
    assert!(
        err.contains("`fast`") && err.contains("from -7 to 19"),
        "{err}"
    );
}

#[test]
fn restore_refuses_a_non_empty_directory_without_force() {
    let env = Env::new();
    let id = env.snapshot(&[]);
    let dest = env.path("dest");
    Tree::new()
        .file("index.php", "old")
        .file("keep.txt", "mine")
        .build(&dest);

    let out = env.run(&["restore", &id, "dest"]);
    expect(&out, 1);
    let err = text(&out.stderr);
    assert!(
        err.contains("not empty") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(std::fs::read(dest.join("index.php")).unwrap(), b"old");

    expect(&env.run(&["restore", &id, "dest", "--force"]), 0);
    assert_eq!(
        std::fs::read(dest.join("index.php")).unwrap(),
        b"<?php echo 'hi';"
    );
    assert_eq!(std::fs::read(dest.join("keep.txt")).unwrap(), b"mine");
}

#[test]
fn unknown_and_ambiguous_names_are_clear_errors() {
    let env = Env::new();
    env.snapshot(&["--ref", "prod"]);
    for name in ["nope", "beef", "production"] {
        let out = env.run(&["show", name]);
        expect(&out, 1);
        let err = text(&out.stderr);
        assert!(
            err.contains(&format!("no slug or ref named `{name}`")),
            "{err}"
        );
    }

    // Two one-file trees whose slug ids share their first 4 hex digits, found by computing manifests.
    let manifest_of = |n: u32| {
        let data = n.to_string().into_bytes();
        let m = Manifest::new(vec![Entry {
            path: b"f".to_vec(),
            kind: EntryKind::File {
                size: data.len() as u64,
                id: ObjectId::hash(&data),
                executable: false,
            },
        }])
        .unwrap();
        (m.id().to_hex(), data)
    };
    let mut seen: HashMap<String, u32> = HashMap::new();
    let (a, b) = (0..100_000)
        .find_map(|n| {
            let (id, _) = manifest_of(n);
            seen.insert(id[..4].to_string(), n).map(|m| (m, n))
        })
        .expect("a shared prefix");
    let mut ids = Vec::new();
    for n in [a, b] {
        let (id, data) = manifest_of(n);
        let dir = env.path(&format!("t{n}"));
        Tree::new().file("f", data).build(&dir);
        let out = env.run(&["snapshot", dir.to_str().unwrap()]);
        assert_eq!(expect(&out, 0).trim(), id, "the predicted slug id is wrong");
        ids.push(id);
    }
    let prefix = &ids[0][..4];
    let out = env.run(&["show", prefix]);
    expect(&out, 1);
    let err = text(&out.stderr);
    assert!(err.contains("ambiguous"), "{err}");
    for id in &ids {
        assert!(err.contains(&id[..12]), "{err} does not list {id}");
    }
    // A longer prefix picks one.
    expect(&env.run(&["show", &ids[1][..20]]), 0);
}

#[test]
fn verify_names_the_damaged_object_and_what_it_breaks() {
    let env = Env::new();
    let id = env.snapshot(&["--ref", "prod"]);
    let out = env.run(&["verify"]);
    assert!(expect(&out, 0).contains("ok"));

    let data = content(20_000, 2);
    let obj = ObjectId::hash(&data);
    let rec = Record::of(&store::open(&env.path("store")), &obj);
    flip_byte(&rec.pack, rec.data_byte(rec.loc.stored_len / 2));

    let out = env.run(&["verify"]);
    let stdout = expect(&out, 3);
    assert!(stdout.contains(&format!("BAD {obj}")), "{stdout}");
    assert!(
        stdout.contains(&format!("breaks slug {} at app/code/A.php", &id[..12])),
        "{stdout}"
    );

    let out = env.run(&["restore", "prod", "out"]);
    expect(&out, 1);
    let err = text(&out.stderr);
    assert!(
        err.contains(&obj.to_hex()) && err.contains("app/code/A.php"),
        "{err}"
    );
    assert!(!env.path("out/app/code/A.php").exists());
}

#[test]
fn verify_repair_fetches_a_good_copy_from_a_remote() {
    let env = Env::new();
    env.snapshot(&["--ref", "prod"]);
    let out = env.run(&["verify", "--repair"]);
    assert!(expect(&out, 0).contains("ok"), "nothing to repair is fine");
    let url = format!("file://{}", env.path("remote").display());
    expect(&env.run(&["remote", "add", "origin", &url]), 0);
    expect(&env.run(&["push", "prod"]), 0);

    let data = content(20_000, 2);
    let obj = ObjectId::hash(&data);
    let rec = Record::of(&store::open(&env.path("store")), &obj);
    flip_byte(&rec.pack, rec.data_byte(rec.loc.stored_len / 2));
    expect(&env.run(&["verify"]), 3);

    let out = env.run(&["verify", "--repair", "--from", "nowhere"]);
    expect(&out, 1);
    assert!(text(&out.stderr).contains("nowhere"), "{out:?}");

    let out = env.run(&["verify", "--repair", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&expect(&out, 0)).unwrap();
    assert_eq!(v["bad"][0]["id"], obj.to_hex().as_str());
    assert_eq!(v["repair"]["repaired"][0]["id"], obj.to_hex().as_str());
    assert_eq!(v["repair"]["repaired"][0]["remote"], "origin");
    assert_eq!(v["repair"]["unrepaired"].as_array().unwrap().len(), 0);
    assert!(!rec.pack.exists(), "the damaged pack is deleted");
    assert!(expect(&env.run(&["verify"]), 0).contains("ok"));
    expect(&env.run(&["restore", "prod", "out"]), 0);
    assert_eq!(std::fs::read(env.path("out/app/code/A.php")).unwrap(), data);
}

#[test]
fn special_files_are_skipped_with_a_warning() {
    let env = Env::new();
    let sock = env.path("src/app.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let out = env.run(&["snapshot", "src"]);
    expect(&out, 0);
    let err = text(&out.stderr);
    assert!(err.contains("warning") && err.contains("app.sock"), "{err}");
}

/// Restored modes are the slug's, whatever the umask of the restoring process.
#[test]
fn restore_sets_recorded_modes_under_a_narrow_umask() {
    let env = Env::new();
    let id = env.snapshot(&[]);
    let out = Command::new("sh")
        .current_dir(env.tmp.path())
        .args([
            "-c",
            "umask 077 && exec \"$0\" --store store restore \"$1\" out",
            SLUG,
            &id,
        ])
        .output_deadline();
    expect(&out, 0);
    let mut src = read_tree(&env.path("src"));
    src = slugstore_tests::compare::without(src, b"var");
    slugstore_tests::compare::assert_same_listing(&src, &read_tree(&env.path("out")));
}

/// Runs `slug --store store ARGS` in `env`'s directory as a user permission bits apply to: as root,
/// `nobody` (through `setpriv`), after handing the directory over; `None` when that cannot be done
/// (root without `setpriv`).
fn unprivileged(env: &Env) -> Option<impl Fn(&[&str]) -> Output + '_> {
    if is_root() {
        if Command::new("setpriv").arg("--version").output().is_err() {
            eprintln!("skipped: running as root and `setpriv` is not installed");
            return None;
        }
        // nobody must reach the tree and the store: hand them over.
        let chown = Command::new("chown")
            .args(["-R", "65534:65534"])
            .arg(env.tmp.path())
            .status()
            .unwrap();
        assert!(chown.success());
        slugstore_tests::tree::set_mode(env.tmp.path(), 0o755);
    }
    Some(|args: &[&str]| -> Output {
        let mut c = if is_root() {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups", SLUG]);
            c
        } else {
            Command::new(SLUG)
        };
        c.current_dir(env.tmp.path())
            .args(["--store", "store"])
            .args(args)
            .output_deadline()
    })
}

/// An unreadable file fails the snapshot naming it, and no slug appears. Root reads anything, so as root
/// the command runs as `nobody` (through `setpriv`) on a tree and store that user owns.
#[test]
fn unreadable_file_fails_the_snapshot_and_commits_nothing() {
    let env = Env::new();
    let Some(cmd) = unprivileged(&env) else {
        return;
    };
    let first = expect(&cmd(&["snapshot", "src", "--ref", "prod"]), 0);
    let secret = env.path("src/app/etc-secret.php");
    std::fs::write(&secret, "<?php").unwrap();
    slugstore_tests::tree::set_mode(&secret, 0o000);

    let out = cmd(&["snapshot", "src", "--ref", "prod"]);
    expect(&out, 1);
    let err = text(&out.stderr);
    assert!(err.contains("app/etc-secret.php"), "{err}");
    let ls: serde_json::Value = serde_json::from_str(&expect(&cmd(&["ls", "--json"]), 0)).unwrap();
    assert_eq!(
        ls.as_array().unwrap().len(),
        1,
        "a slug was committed: {ls}"
    );
    assert_eq!(ls[0]["id"], first.trim());
    assert_eq!(ls[0]["refs"], serde_json::json!(["prod"]));
}

#[test]
fn restore_round_trip_matches_the_source() {
    let env = Env::new();
    std::fs::remove_dir_all(env.path("src/var")).unwrap();
    let id = env.snapshot(&[]);
    expect(&env.run(&["restore", &id, "out"]), 0);
    assert_same_tree(&env.path("src"), &env.path("out"));
}

#[test]
fn remote_push_pull_through_a_file_remote() {
    let env = Env::new();
    let id = env.snapshot(&["--ref", "prod"]);
    let url = format!("file://{}", env.path("remote").display());
    expect(&env.run(&["remote", "add", "origin", &url]), 0);
    assert_eq!(
        expect(&env.run(&["remote", "ls"]), 0),
        format!("origin\t{url}\n")
    );
    let out = env.run(&["remote", "add", "origin", &url]);
    assert!(text(&out.stderr).contains("already exists"), "{out:?}");
    expect(&out, 1);
    expect(&env.run(&["remote", "add", "bad/name", &url]), 1);

    // The only remote is the default one.
    let pushed: serde_json::Value =
        serde_json::from_str(&expect(&env.run(&["push", "prod", "--json"]), 0)).unwrap();
    assert_eq!(pushed["slug"], id.as_str());
    assert_eq!(pushed["ref_name"], "prod");
    assert_eq!(pushed["objects_uploaded"], pushed["objects"]);
    let again = expect(&env.run(&["push", "prod", "origin"]), 0);
    assert!(again.contains("0 of"), "{again}");

    // A second store pulls the ref and restores the tree.
    let other = env.path("other");
    expect(&slug(env.tmp.path(), &other, &["init"]), 0);
    expect(
        &slug(env.tmp.path(), &other, &["remote", "add", "o", &url]),
        0,
    );
    let pulled = expect(&slug(env.tmp.path(), &other, &["pull", "o", "prod"]), 0);
    assert!(
        pulled.contains(&id[..12]) && pulled.contains("as prod"),
        "{pulled}"
    );
    expect(
        &slug(env.tmp.path(), &other, &["restore", "prod", "out"]),
        0,
    );
    let src = slugstore_tests::compare::without(read_tree(&env.path("src")), b"var");
    slugstore_tests::compare::assert_same_listing(&src, &read_tree(&env.path("out")));
    expect(&slug(env.tmp.path(), &other, &["verify"]), 0);

    expect(&env.run(&["remote", "rm", "origin"]), 0);
    assert_eq!(expect(&env.run(&["remote", "ls"]), 0), "");
    assert!(!env.path("store/remotes/origin").exists());
    let out = env.run(&["push", "prod"]);
    assert!(
        text(&out.stderr).contains("no remote configured"),
        "{out:?}"
    );
}

/// Output into a pipe whose reader is gone (`slug refs | head -0`) ends `slug` quietly with the status
/// a shell gives a command killed by SIGPIPE, not with a panic; `--json` output too.
#[test]
fn closed_stdout_ends_quietly() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    for args in [&["init"][..], &["--json", "refs"][..]] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = Command::new(SLUG)
            .current_dir(tmp.path())
            .arg("--store")
            .arg(&store)
            .args(args)
            .stdout(writer)
            .output()
            .expect("run slug");
        assert_eq!(
            out.status.code(),
            Some(141),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(out.stderr.is_empty(), "{args:?}: {}", text(&out.stderr));
    }
}

/// A release that retention is about to remove is changed into the next one, by a user the read-only
/// directories of a release stop (as root, `nobody`): each directory that changes is opened and made
/// read-only again, and the release is the one `--no-recycle` writes, modes included.
#[test]
fn a_release_is_recycled_by_an_unprivileged_user_and_ends_read_only() {
    let env = Env::new();
    let Some(cmd) = unprivileged(&env) else {
        return;
    };
    let src = env.path("src");
    let snapshot = |round: usize| {
        Tree::new()
            .file(format!("app/code/r{round}.php"), "new each round")
            .build(&src);
        expect(&cmd(&["snapshot", "src"]), 0).trim().to_string()
    };
    let a = snapshot(0);
    // B: a file edited, a directory gone, a deep new one, the executable bit dropped.
    std::fs::write(env.path("src/app/code/A.php"), "edited").unwrap();
    std::fs::remove_dir_all(env.path("src/pub/empty")).unwrap();
    Tree::new()
        .file("lib/x/y/z.php", "deep")
        .file("bin/magento", "#!/bin/sh\n")
        .build(&src);
    let b = snapshot(1);
    // C: a file turned into a directory, a directory into a file.
    std::fs::remove_file(env.path("src/index.php")).unwrap();
    std::fs::remove_dir_all(env.path("src/lib/x")).unwrap();
    Tree::new()
        .file("index.php/inner.php", "now a directory")
        .file("lib/x", "now a file")
        .build(&src);
    let c = snapshot(2);
    let checkout = |id: &str, target: &str, extra: &[&str]| -> serde_json::Value {
        let args = [
            &["--json", "checkout", id, "--target", target, "--keep", "1"],
            extra,
        ]
        .concat();
        let out: serde_json::Value = serde_json::from_str(&expect(&cmd(&args), 0)).unwrap();
        out["checkout"]["materialized"].clone()
    };
    checkout(&a, "t", &["--activate"]);
    checkout(&b, "t", &["--activate"]);
    let m = checkout(&c, "t", &[]);
    assert_eq!(m["recycled"], a.as_str(), "{m}");
    assert!(m["entries_removed"].as_u64().unwrap() > 0, "{m}");
    checkout(&c, "fresh", &["--no-recycle"]);
    let release = |target: &str| env.path(&format!("{target}/releases/{c}"));
    let recycled = read_tree(&release("t"));
    slugstore_tests::compare::assert_same_listing(&read_tree(&release("fresh")), &recycled);
    assert!(recycled.contains_key(b"index.php/inner.php".as_slice()));
    // B, live, is untouched.
    checkout(&b, "fresh-b", &["--no-recycle"]);
    slugstore_tests::compare::assert_same_listing(
        &read_tree(&env.path(&format!("fresh-b/releases/{b}"))),
        &read_tree(&env.path(&format!("t/releases/{b}"))),
    );
}
