//! A copy of the example project (`examples/shop`) with a store beside it, driven through the real
//! `slug` binary: the fixture of the deploy, environment, git and status-page tests.
//!
//! The build hook of the copy also appends a line to `build-runs` (outside the tree) at each run, so a
//! test can tell a build that ran from one that was reused or skipped.

use crate::deadline::Deadline;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// The example project, a store and room for deploy targets in one temporary directory.
pub struct Shop {
    _dir: tempfile::TempDir,
    /// The temporary directory (canonical): `src/` is the project, `store/` the store.
    pub root: PathBuf,
    bin: PathBuf,
}

impl Shop {
    /// Copies the example project to `src/`, makes its build hook count its runs, and creates the
    /// store; `bin` is the `slug` binary under test.
    pub fn new(bin: &Path) -> Shop {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/shop");
        copy_tree(&example, &root.join("src"));
        let shop = Shop {
            _dir: dir,
            root,
            bin: bin.to_path_buf(),
        };
        let counter = shop.root.join("build-runs");
        shop.edit_app(|s| {
            s.replacen(
                "    set -e\n",
                &format!("    set -e\n    echo run >> '{}'\n", counter.display()),
                1,
            )
        });
        shop.slug_ok(&["init"]);
        shop
    }

    /// The project's source tree.
    pub fn src(&self) -> PathBuf {
        self.root.join("src")
    }

    /// The store directory.
    pub fn store(&self) -> PathBuf {
        self.root.join("store")
    }

    /// The `slug` binary under test.
    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// Runs `slug --store STORE ARGS` in the temporary directory.
    pub fn slug(&self, args: &[&str]) -> Output {
        run_slug(&self.bin, &self.store(), &self.root, args)
    }

    /// As [`Shop::slug`], failing the test when the command fails.
    pub fn slug_ok(&self, args: &[&str]) -> Output {
        succeeded(self.slug(args), args)
    }

    /// Runs `slug --json ARGS`, which must succeed, and parses its output.
    pub fn slug_json(&self, args: &[&str]) -> serde_json::Value {
        let mut with_json = vec!["--json"];
        with_json.extend_from_slice(args);
        serde_json::from_slice(&self.slug_ok(&with_json).stdout).unwrap()
    }

    /// The deploy target the tests give environment `env`: `targets/ENV` in the temporary directory.
    pub fn target(&self, env: &str) -> PathBuf {
        self.root.join("targets").join(env)
    }

    /// `slug env add NAME --target TARGET EXTRA...` with [`Shop::target`], which must succeed. The
    /// example's relationships get endpoints ([`SHOP_SERVICES`]) unless `extra` names its own.
    pub fn add_env(&self, name: &str, extra: &[&str]) {
        let t = self.target(name);
        let mut args = vec!["env", "add", name, "--target", t.to_str().unwrap()];
        if !extra.contains(&"--service") {
            for s in SHOP_SERVICES {
                args.extend(["--service", s]);
            }
        }
        args.extend_from_slice(extra);
        self.slug_ok(&args);
    }

    /// Makes the deploy hook print `waiting for the gate` and wait until the returned file exists, so
    /// that a test can look at a deploy in its deploy phase (and the deploy holds the store meanwhile).
    pub fn gate_deploy_hook(&self) -> PathBuf {
        let gate = self.root.join("gate");
        self.edit_app(|s| {
            s.replace(
                "echo \"deploy hook in $PWD\"",
                &format!(
                    "echo \"deploy hook in $PWD\"\n    echo \"waiting for the gate\"\n    \
                     while [ ! -e '{}' ]; do sleep 0.05; done",
                    gate.display()
                ),
            )
        });
        gate
    }

    /// Starts `slug --store STORE -q ARGS` in the background (stdout discarded).
    pub fn spawn_slug(&self, args: &[&str]) -> Child {
        Command::new(&self.bin)
            .env("PATH", path_with(&self.bin))
            .arg("--store")
            .arg(self.store())
            .arg("-q")
            .args(args)
            .current_dir(&self.root)
            .stdout(Stdio::null())
            .spawn()
            .unwrap()
    }

    /// How many times the build hook ran.
    pub fn build_runs(&self) -> usize {
        fs::read_to_string(self.root.join("build-runs"))
            .map(|s| s.lines().count())
            .unwrap_or(0)
    }

    /// Rewrites the project's `.magento.app.yaml` with `f` (which must change it).
    pub fn edit_app(&self, f: impl FnOnce(&str) -> String) {
        edit(&self.src().join(".magento.app.yaml"), f);
    }
}

/// Runs `slug --store STORE ARGS` in `cwd`, under the tests' deadline, with [`path_with`].
pub fn run_slug(bin: &Path, store: &Path, cwd: &Path, args: &[&str]) -> Output {
    Command::new(bin)
        .env("PATH", path_with(bin))
        .arg("--store")
        .arg(store)
        .args(args)
        .current_dir(cwd)
        .output_deadline()
}

/// The PATH with the directory of the `slug` binary `bin` first: build hooks call `slug cache run`,
/// and must find the binary under test.
pub fn path_with(bin: &Path) -> std::ffi::OsString {
    let dir = bin.parent().expect("a binary is in a directory");
    let mut dirs = vec![dir.to_path_buf()];
    dirs.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(dirs).expect("the PATH joins")
}

/// `out` of `slug ARGS`, failing the test with its stderr when the command failed.
pub fn succeeded(out: Output, args: &[&str]) -> Output {
    assert!(
        out.status.success(),
        "slug {args:?} failed: {}",
        stderr(&out)
    );
    out
}

/// Endpoints for the example's relationships (`database`, `redis`): services slugstore never
/// connects to, only hands to the hooks.
pub const SHOP_SERVICES: &[&str] = &[
    "database=mysql://shop:shop-secret@127.0.0.1:3306/shop",
    "redis=redis://127.0.0.1:6379",
];

/// The slug id the `current` link of the target at `target` points at, `None` when there is none.
pub fn current(target: &Path) -> Option<String> {
    let link = fs::read_link(target.join("current")).ok()?;
    Some(link.file_name()?.to_string_lossy().into_owned())
}

/// Rewrites the file at `path` with `f`, which must change it.
pub fn edit(path: &Path, f: impl FnOnce(&str) -> String) {
    let text = fs::read_to_string(path).unwrap();
    let new = f(&text);
    assert_ne!(text, new, "the edit of {} changed nothing", path.display());
    fs::write(path, new).unwrap();
}

/// Copies the directory tree `from` to `to` (regular files and directories).
pub fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dest);
        } else {
            fs::copy(e.path(), &dest).unwrap();
        }
    }
}

/// A command's stderr, as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
