//! `slug deploy` end to end on the example project (examples/shop): the built binary, real files, a
//! real store and target in a temporary directory.

use slugstore_tests::deadline::Deadline;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use slugstore_tests::compare::{assert_same_listing, read_tree};
use slugstore_tests::project::{current, edit, stderr, Shop};

/// A project copy, a store and a deploy target in one temporary directory.
struct Env {
    shop: Shop,
    root: PathBuf,
}

impl Env {
    /// The example project with its build runs counted (see [`Shop`]), and the store.
    fn new() -> Env {
        let shop = Shop::new(Path::new(env!("CARGO_BIN_EXE_slug")));
        let root = shop.root.clone();
        Env { shop, root }
    }

    fn src(&self) -> PathBuf {
        self.root.join("src")
    }

    fn target(&self) -> PathBuf {
        self.root.join("target")
    }

    /// `rel` as the application sees it: through `current`, the live release, whose mount paths are
    /// links into their storage.
    fn live(&self, rel: &str) -> PathBuf {
        self.target().join("current").join(rel)
    }

    fn slug(&self, args: &[&str]) -> Output {
        self.shop.slug(args)
    }

    /// Runs `slug deploy src --target target --json`.
    fn deploy(&self) -> Output {
        self.slug(&["deploy", "src", "--target", "target", "--json"])
    }

    /// Deploys and returns the record, failing the test if the deploy fails.
    fn deploy_ok(&self) -> serde_json::Value {
        let out = self.deploy();
        assert!(out.status.success(), "deploy failed: {}", stderr(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// The record of the last deploy, from `slug status --json`.
    fn last_deploy(&self) -> serde_json::Value {
        let out = self.slug(&["status", "--target", "target", "--json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["last_deploy"].clone()
    }

    /// The log of deploy `id`, from `slug log`.
    fn log(&self, id: &str) -> String {
        let out = self.slug(&["log", id, "--target", "target"]);
        assert!(out.status.success(), "{}", stderr(&out));
        String::from_utf8(out.stdout).unwrap()
    }

    /// The slug id `current` points at.
    fn current(&self) -> String {
        current(&self.target()).expect("a release is live")
    }

    /// Starts `slug deploy src --target target EXTRA` in the background, its stderr into the file
    /// `NAME.err` (a pipe nobody reads while the test waits could fill and stall the deploy).
    fn spawn_deploy(&self, name: &str, extra: &[&str]) -> std::process::Child {
        let bin = self.shop.bin();
        Command::new(bin)
            .env("PATH", slugstore_tests::project::path_with(bin))
            .arg("--store")
            .arg(self.shop.store())
            .args(["deploy", "src", "--target", "target"])
            .args(extra)
            .current_dir(&self.root)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(fs::File::create(self.err_log(name)).unwrap())
            .spawn()
            .unwrap()
    }

    /// The stderr of the deploy [`Env::spawn_deploy`] started as `name`.
    fn err_log(&self, name: &str) -> PathBuf {
        self.root.join(format!("{name}.err"))
    }

    fn build_runs(&self) -> usize {
        self.shop.build_runs()
    }

    fn edit_app(&self, f: impl FnOnce(&str) -> String) {
        self.shop.edit_app(f);
    }
}

/// Waits until a hook wrote a line into `path`: `what` started.
fn wait_for_file(path: &Path, what: &str) {
    let t = Instant::now();
    while !fs::read_to_string(path).is_ok_and(|s| s.ends_with('\n')) {
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "{what} never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn phase<'a>(record: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    record["phases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["phase"] == name)
        .unwrap()
}

fn slug_of(record: &serde_json::Value) -> String {
    record["slug"].as_str().unwrap().to_owned()
}

const STATIC_JS: &str = "frontend/Shop/default/catalog.js";

#[test]
fn deploy_build_reuse_rollback_and_mounts() {
    let env = Env::new();

    // v1: everything runs.
    let v1 = env.deploy_ok();
    let slug1 = slug_of(&v1);
    assert_eq!(v1["state"], "success");
    assert_eq!(v1["reused_build"], false);
    assert_eq!(env.build_runs(), 1);
    assert_eq!(env.current(), slug1);
    for p in v1["phases"].as_array().unwrap() {
        assert_eq!(p["state"], "success", "{p}");
        assert!(p["seconds"].as_f64().is_some(), "phase without timing: {p}");
        assert!(p["started"].is_string(), "phase without start time: {p}");
    }
    let live1 = read_tree(&env.target().join("current"));
    let js1 = fs::read(env.src().join("web/js/catalog.js")).unwrap();
    // Static assets: moved to init/ by the build, gzipped, linked into the static mount.
    let served = env.live("pub/static").join(STATIC_JS);
    assert_eq!(fs::read(&served).unwrap(), js1);
    let gz = env.live("pub/static").join(format!("{STATIC_JS}.gz"));
    assert!(Command::new("gzip")
        .arg("-t")
        .arg(&gz)
        .status_deadline()
        .success());
    assert!(env
        .target()
        .join("current/init/pub/static")
        .join(STATIC_JS)
        .is_file());
    assert!(
        env.target()
            .join("build/init/pub/static")
            .join(STATIC_JS)
            .is_file(),
        "the build directory is kept for the next build"
    );
    // init/app/etc and init/pub/media were copied into their mounts; hooks ran and left markers; the
    // maintenance flag is gone; env.php and config.php have backups.
    let env_php = env.live("app/etc/env.php");
    assert!(fs::read_to_string(&env_php).unwrap().contains("MAGE_MODE"));
    assert!(env.live("app/etc/config.php").is_file());
    assert!(env.live("pub/media/catalog/placeholder.txt").is_file());
    assert_eq!(
        fs::read(env.live("app/etc/env.php.bak")).unwrap(),
        fs::read(&env_php).unwrap()
    );
    assert!(env.live("app/etc/config.php.bak").is_file());
    let marker = env.live("var/deploy-marker.log");
    assert_eq!(fs::read_to_string(&marker).unwrap().lines().count(), 1);
    assert!(env.live("var/post-deploy-marker").is_file());
    assert!(!env.live("var/.maintenance.flag").exists());
    let log1 = env.log(v1["id"].as_str().unwrap());
    for name in [
        "validate",
        "build",
        "slug",
        "release",
        "deploy",
        "post_deploy",
    ] {
        assert!(
            log1.contains(&format!("[{name}] success in ")),
            "no timing of {name} in:\n{log1}"
        );
    }
    assert!(log1.contains("[build] building static assets (mode production)"));

    // Files written at runtime into mounts, and an operator's edit of a file the build also provides.
    fs::create_dir_all(env.live("var/log")).unwrap();
    fs::write(env.live("var/log/system.log"), "runtime log\n").unwrap();
    fs::write(env.live("pub/media/upload.jpg"), "uploaded").unwrap();
    fs::write(&env_php, "<?php return ['edited' => 'by the operator'];\n").unwrap();
    fs::remove_file(env.live("pub/media/catalog/placeholder.txt")).unwrap();

    // v2: a source change; the build runs again.
    edit(&env.src().join("web/js/catalog.js"), |s| {
        format!("{s}\n// v2\n")
    });
    let js2 = fs::read(env.src().join("web/js/catalog.js")).unwrap();
    let v2 = env.deploy_ok();
    let slug2 = slug_of(&v2);
    assert_ne!(slug2, slug1);
    assert_eq!(v2["reused_build"], false);
    assert_eq!(env.build_runs(), 2);
    assert_eq!(env.current(), slug2);
    assert_eq!(fs::read(&served).unwrap(), js2, "static follows the switch");
    assert_eq!(
        fs::read_to_string(env.live("var/log/system.log")).unwrap(),
        "runtime log\n"
    );
    assert_eq!(
        fs::read(env.live("pub/media/upload.jpg")).unwrap(),
        b"uploaded"
    );
    assert!(
        fs::read_to_string(&env_php)
            .unwrap()
            .contains("by the operator"),
        "init content must not clobber a file in the mount"
    );
    assert!(
        env.live("pub/media/catalog/placeholder.txt").is_file(),
        "init content missing from the mount is restored"
    );
    assert_eq!(fs::read_to_string(&marker).unwrap().lines().count(), 2);

    // v2 again, unchanged: the build is reused (the hook did not run), same slug.
    let again = env.deploy_ok();
    assert_eq!(again["reused_build"], true);
    assert_eq!(slug_of(&again), slug2);
    assert_eq!(again["tree"], v2["tree"]);
    assert_eq!(
        env.build_runs(),
        2,
        "the build hook ran for an unchanged tree"
    );
    let log = env.log(again["id"].as_str().unwrap());
    assert!(
        log.contains(&format!("reusing existing build {slug2} for source tree"))
            && log.contains(&format!("(build key {})", v2["tree"].as_str().unwrap())),
        "{log}"
    );
    assert!(!log.contains("building static assets"), "{log}");
    assert!(phase(&again, "build")["detail"]
        .as_str()
        .unwrap()
        .starts_with("reused build"));

    // Roll back to v1: the same bytes as when v1 was live, static assets included.
    let out = env.slug(&["rollback", "--target", "target", "--to", &slug1]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(env.current(), slug1);
    assert_same_listing(&live1, &read_tree(&env.target().join("current")));
    assert_eq!(fs::read(&served).unwrap(), js1);
}

#[test]
fn failed_deploy_hook_keeps_the_previous_release_live() {
    let env = Env::new();
    let v1 = env.deploy_ok();
    let slug1 = slug_of(&v1);

    env.edit_app(|s| {
        s.replace(
            "    echo \"deploy hook in $PWD\"\n",
            "    echo \"deploy hook in $PWD\"\n    test -f var/.maintenance.flag && echo flag-seen\n    exit 7\n",
        )
    });
    let out = env.deploy();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("failed in phase deploy"), "{err}");
    assert!(err.contains("hooks.deploy exited with status 7"), "{err}");
    assert_eq!(env.current(), slug1, "current moved despite the failure");
    let failed = fs::read_to_string(env.live("var/.deploy_is_failed")).unwrap();
    assert!(
        failed.contains("hooks.deploy exited with status 7"),
        "{failed}"
    );
    assert!(!env.live("var/.maintenance.flag").exists());

    let rec = env.last_deploy();
    assert_eq!(rec["state"], "failed");
    assert_eq!(phase(&rec, "release")["state"], "success");
    assert_eq!(phase(&rec, "deploy")["state"], "failed");
    assert_eq!(phase(&rec, "post_deploy")["state"], "pending");
    assert_ne!(slug_of(&rec), slug1, "the new slug was built and released");
    assert!(
        env.log(rec["id"].as_str().unwrap())
            .contains("[deploy] flag-seen"),
        "the maintenance flag exists while the deploy hook runs"
    );

    // Fixed: the next deploy succeeds and clears the failure marker.
    env.edit_app(|s| s.replace("    exit 7\n", ""));
    env.deploy_ok();
    assert!(!env.live("var/.deploy_is_failed").exists());
}

#[test]
fn a_hook_that_starts_a_background_process_does_not_hold_the_deploy() {
    let env = Env::new();
    env.edit_app(|s| {
        s.replace(
            "    touch var/post-deploy-marker\n",
            "    touch var/post-deploy-marker\n    sleep 120 &\n    echo warmer started\n",
        )
    });
    let t = Instant::now();
    let v = env.deploy_ok();
    assert!(
        t.elapsed() < Duration::from_secs(60),
        "the deploy waited for the hook's background process: {:?}",
        t.elapsed()
    );
    assert_eq!(env.current(), slug_of(&v));
    assert!(env.live("var/post-deploy-marker").is_file());
    let log = env.log(v["id"].as_str().unwrap());
    assert!(log.contains("[post_deploy] warmer started"), "{log}");
    assert!(log.contains("processes it left running"), "{log}");
}

#[test]
fn a_hook_past_its_time_limit_is_stopped_and_the_previous_release_stays_live() {
    let env = Env::new();
    let slug1 = slug_of(&env.deploy_ok());
    env.edit_app(|s| {
        s.replace(
            "    echo \"deploy hook in $PWD\"\n",
            "    echo \"deploy hook in $PWD\"\n    echo waiting; sleep 120\n",
        )
    });
    let t = Instant::now();
    let out = env.slug(&["deploy", "src", "--target", "target", "--hook-timeout", "1"]);
    assert!(t.elapsed() < Duration::from_secs(60), "{:?}", t.elapsed());
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("hooks.deploy stopped at its time limit of 1s; killed by signal 15"),
        "{err}"
    );
    assert!(err.contains("--hook-timeout"), "{err}");
    assert_eq!(env.current(), slug1, "current moved despite the failure");
    assert!(!env.live("var/.maintenance.flag").exists());
    let failed = fs::read_to_string(env.live("var/.deploy_is_failed")).unwrap();
    assert!(failed.contains("stopped at its time limit"), "{failed}");
    let rec = env.last_deploy();
    assert_eq!(phase(&rec, "deploy")["state"], "failed");
    assert!(env
        .log(rec["id"].as_str().unwrap())
        .contains("[deploy] waiting"));
}

#[test]
fn interrupting_a_deploy_stops_its_hook_too() {
    let env = Env::new();
    let pidfile = env.root.join("hook.pid");
    env.edit_app(|s| {
        s.replace(
            "    echo \"deploy hook in $PWD\"\n",
            &format!(
                "    echo \"deploy hook in $PWD\"\n    sleep 300 & echo $! > '{}'\n    wait\n",
                pidfile.display()
            ),
        )
    });
    let mut child = env.spawn_deploy("deploy", &[]);
    wait_for_file(&pidfile, "the deploy hook");
    let hook_pid: u32 = fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // Ctrl-C in a terminal: SIGINT to slug (the hook has a process group of its own).
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = slugstore_tests::deadline::wait_within(&mut child, Duration::from_secs(60))
        .expect("slug ends on SIGINT");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGINT), "{status:?}");
    assert!(
        slugstore_tests::deadline::gone_within(hook_pid, Duration::from_secs(10)),
        "the hook's process outlived the interrupted deploy"
    );
    // The deploy wound down as for a failed hook: out of maintenance, the failure recorded, the
    // previous state live (here none: the first deploy was interrupted).
    assert!(!env.live("var/.maintenance.flag").exists());
    assert!(!env.target().join("shared/var/.maintenance.flag").exists());
    let rec = env.last_deploy();
    assert_eq!(rec["state"], "failed", "{rec}");
    let deploy = phase(&rec, "deploy");
    assert_eq!(deploy["state"], "failed", "{rec}");
    assert!(
        deploy["detail"]
            .as_str()
            .is_some_and(|d| d.contains("hooks.deploy interrupted (SIGINT)")),
        "{rec}"
    );
}

#[test]
fn two_deploys_of_one_target_at_once_both_finish_one_after_the_other() {
    let env = Env::new();
    let started = env.root.join("build.started");
    // The first deploy's build hook runs with the store closed (for `slug cache run`) and needs it
    // again afterwards: a second deploy must not hold the store while it waits for the first.
    env.edit_app(|s| {
        s.replacen(
            "    set -e\n",
            &format!(
                "    set -e\n    echo started > '{}'\n    sleep 2\n",
                started.display()
            ),
            1,
        )
    });
    let mut first = env.spawn_deploy("first", &[]);
    wait_for_file(&started, "the first build");
    let mut second = env.spawn_deploy("second", &["--no-reuse"]);
    for (name, child) in [("first", &mut first), ("second", &mut second)] {
        let status = slugstore_tests::deadline::wait_within(child, Duration::from_secs(120))
            .unwrap_or_else(|| panic!("the {name} deploy did not end: deadlock"));
        let err = fs::read_to_string(env.err_log(name)).unwrap();
        assert!(status.success(), "{name}: {err}");
        if name == "second" {
            assert!(err.contains("waiting for the deploy running on"), "{err}");
        }
    }
    assert_eq!(env.last_deploy()["state"], "success");
}

#[test]
fn invalid_configuration_is_refused_before_any_build() {
    let env = Env::new();
    let v1 = env.deploy_ok();
    assert_eq!(env.build_runs(), 1);

    edit(&env.src().join(".magento/services.yaml"), |s| {
        s.replace("type: mysql:10.6", "type: mysql")
    });
    edit(&env.src().join("web/js/catalog.js"), |s| format!("{s}//\n"));
    let out = env.deploy();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("failed in phase validate"), "{err}");
    assert!(err.contains("services.yaml:"), "no file and line in: {err}");
    assert_eq!(env.build_runs(), 1, "the build hook ran");
    assert_eq!(env.current(), slug_of(&v1));
    let rec = env.last_deploy();
    assert_eq!(phase(&rec, "validate")["state"], "failed");
    assert_eq!(phase(&rec, "build")["state"], "pending");
}

#[test]
fn a_target_inside_the_source_is_not_part_of_the_tree() {
    let env = Env::new();
    let deploy = || {
        let out = env.slug(&["deploy", "src", "--target", "src/live", "--json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let first = deploy();
    let second = deploy();
    assert_eq!(second["reused_build"], true);
    assert_eq!(second["tree"], first["tree"]);
    assert_eq!(env.build_runs(), 1);
}

/// The names under `TARGET/releases`: the releases and the trash (`.trash-*`), each sorted.
fn releases_and_trash(target: &Path) -> (Vec<String>, Vec<String>) {
    let mut names: Vec<String> = fs::read_dir(target.join("releases"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let (trash, rest): (Vec<String>, Vec<String>) =
        names.into_iter().partition(|n| n.starts_with(".trash-"));
    (
        rest.into_iter().filter(|n| !n.starts_with('.')).collect(),
        trash,
    )
}

#[test]
fn old_releases_are_deleted_in_the_background_after_the_deploy() {
    let env = Env::new();
    let mut slugs = Vec::new();
    for i in 0..4 {
        edit(&env.src().join("web/js/catalog.js"), |s| {
            format!("{s}\n// background {i}\n")
        });
        let out = env.slug(&[
            "deploy", "src", "--target", "target", "--json", "--keep", "2",
        ]);
        assert!(out.status.success(), "deploy failed: {}", stderr(&out));
        let record: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        slugs.push(slug_of(&record));
    }
    let mut expected = slugs[2..].to_vec();
    expected.sort();

    // The deletion runs on after `slug deploy` returned; it ends well within the deadline.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = releases_and_trash(&env.target());
    while (seen.0 != expected || !seen.1.is_empty()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        seen = releases_and_trash(&env.target());
    }
    assert_eq!(seen, (expected, Vec::new()), "releases and trash left");
    assert_eq!(env.current(), slugs[3]);
    assert_eq!(
        fs::read(env.live("pub/static").join(STATIC_JS)).unwrap(),
        fs::read(env.src().join("web/js/catalog.js")).unwrap(),
        "current serves the last deploy"
    );
}

#[test]
fn foreground_cleanup_deletes_old_releases_before_returning() {
    let env = Env::new();
    let mut slugs = Vec::new();
    for i in 0..3 {
        edit(&env.src().join("web/js/catalog.js"), |s| {
            format!("{s}\n// foreground {i}\n")
        });
        let args = ["deploy", "src", "--target", "target", "--keep", "1"];
        let out = env.slug(&[&args[..], &["--cleanup", "foreground"]].concat());
        assert!(out.status.success(), "deploy failed: {}", stderr(&out));
        slugs.push(env.current());
        // Retention runs before the switch: the release live then and the new one both stay.
        let mut expected = slugs[slugs.len().saturating_sub(2)..].to_vec();
        expected.sort();
        assert_eq!(
            releases_and_trash(&env.target()),
            (expected, Vec::new()),
            "deploy {i}"
        );
    }
}

/// On a target at its `--keep` limit, the release retention was about to remove is changed into the
/// new one. What the application sees, through `current` and from inside the deploy hook, is the new
/// tree: what changed, what came and what went, entry for entry the release a target that never
/// recycles holds.
#[test]
fn a_release_retention_was_removing_is_recycled_into_the_next_and_the_application_sees_the_new_tree(
) {
    let env = Env::new();
    // The deploy hook records what it sees of the application.
    env.edit_app(|s| {
        s.replace(
            "    echo \"deployed $PLATFORM_TREE_ID\" >> var/deploy-marker.log\n",
            "    echo \"deployed $PLATFORM_TREE_ID\" >> var/deploy-marker.log\n    \
             echo \"$(cat app/code/version.txt) $(ls app/code/Shop | tr '\\n' ' ')\" >> var/seen.log\n",
        )
    });
    for i in 0..4 {
        fs::write(env.src().join("app/code/version.txt"), format!("v{i}")).unwrap();
        fs::create_dir_all(env.src().join(format!("app/code/Shop/V{i}/Model"))).unwrap();
        fs::write(
            env.src().join(format!("app/code/Shop/V{i}/Model/Item.php")),
            format!("<?php // {i}"),
        )
        .unwrap();
        if i > 0 {
            fs::remove_dir_all(env.src().join(format!("app/code/Shop/V{}", i - 1))).unwrap();
        }
        let out = env.slug(&[
            "deploy", "src", "--target", "target", "--json", "--keep", "2",
        ]);
        assert!(out.status.success(), "deploy failed: {}", stderr(&out));
        let record: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let detail = phase(&record, "release")["detail"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            detail.contains("which retention was removing"),
            i >= 2,
            "deploy {i}: {detail}"
        );
        assert_eq!(
            fs::read_to_string(env.live("app/code/version.txt")).unwrap(),
            format!("v{i}")
        );
        assert!(env
            .live(&format!("app/code/Shop/V{i}/Model/Item.php"))
            .is_file());
        if i > 0 {
            assert!(!env.live(&format!("app/code/Shop/V{}", i - 1)).exists());
        }
        let seen = fs::read_to_string(env.live("var/seen.log")).unwrap();
        assert!(
            seen.lines().last().unwrap().starts_with(&format!("v{i} ")),
            "the deploy hook saw {seen:?}"
        );
        assert!(
            seen.lines().last().unwrap().contains(&format!("V{i} ")),
            "the deploy hook saw {seen:?}"
        );

        // Entry for entry the release a checkout that never recycles writes.
        let slug = slug_of(&record);
        let fresh = env.root.join(format!("fresh-{i}"));
        let out = env.slug(&[
            "checkout",
            &slug,
            "--target",
            fresh.to_str().unwrap(),
            "--no-recycle",
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        let release = |t: &Path| t.join("releases").join(&slug);
        assert_same_listing(
            &read_tree(&release(&fresh)),
            &read_tree(&release(&env.target())),
        );
    }
}
