//! Releases on a deploy target: checkout, activation, rollback and retention, on real trees.

use slugstore_deploy::layout::MagentoLayout;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use slugstore::checkout::{
    self, CheckoutOptions, RetentionOptions, RollbackOptions, RollbackTo, SwitchOptions, Target,
};
use slugstore::store::OpenOptions;
use slugstore::{NoProgress, SlugId, SnapshotOptions, Store};
use slugstore_tests::compare::{assert_same_listing, read_tree, without, Listing, Seen};

/// Default mounts: never part of a slug, symlinks into shared/ in a release.
const MOUNTS: [&str; 4] = ["var", "app/etc", "pub/media", "pub/static"];

struct Env {
    _dir: tempfile::TempDir,
    root: PathBuf,
    store: Store,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let store = Store::init(&root.join("store"), &OpenOptions::default()).unwrap();
        Env {
            _dir: dir,
            root,
            store,
        }
    }

    fn target(&self) -> PathBuf {
        self.root.join("target")
    }

    fn snapshot(&self, tree: &Path) -> SlugId {
        slugstore::snapshot(
            &self.store,
            tree,
            &SnapshotOptions {
                no_cache: true,
                ..Default::default()
            },
            &NoProgress,
        )
        .unwrap()
        .slug
    }

    fn checkout(&self, id: &SlugId, keep: usize) -> checkout::CheckoutReport {
        let opts = CheckoutOptions {
            retention: RetentionOptions {
                keep,
                ..Default::default()
            },
            ..Default::default()
        };
        checkout::checkout(
            &self.store,
            &self.target(),
            id,
            &opts,
            &MagentoLayout,
            &NoProgress,
        )
        .unwrap()
    }
}

/// Writes `n` files with content unique to (`seed`, index) in nested directories, one executable file,
/// a symlink, and content under a mount (which the slug leaves out).
fn build_tree(dir: &Path, n: usize, seed: &str) {
    for i in 0..n {
        let p = dir.join(format!("app/code/m{}/sub{}/f{i}.php", i % 7, i % 3));
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, format!("<?php // {seed} file {i}\n").repeat(1 + i % 5)).unwrap();
    }
    fs::create_dir_all(dir.join("bin")).unwrap();
    fs::write(dir.join("bin/magento"), format!("#!/bin/sh\necho {seed}\n")).unwrap();
    fs::set_permissions(dir.join("bin/magento"), fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink("app/code", dir.join("code")).unwrap();
    fs::create_dir_all(dir.join("pub")).unwrap();
    fs::write(
        dir.join("pub/index.php"),
        "<?php require 'app/bootstrap.php';\n",
    )
    .unwrap();
    fs::create_dir_all(dir.join("var/log")).unwrap();
    fs::write(dir.join("var/log/build.log"), seed).unwrap();
}

/// What a release of `source` must hold: the source minus its mounts, read-only.
fn expected_release(source: &Path) -> Listing {
    let mut listing = read_tree(source);
    for m in MOUNTS {
        listing = without(listing, m.as_bytes());
    }
    for seen in listing.values_mut() {
        match seen {
            Seen::Dir { mode } => *mode = 0o555,
            Seen::File { mode, .. } => *mode &= !0o222,
            _ => {}
        }
    }
    listing
}

/// Panics unless `release` is `source` bit for bit, read-only, with its mounts as symlinks.
fn assert_release_of(release: &Path, source: &Path) {
    let mut actual = read_tree(release);
    for m in MOUNTS {
        let link = actual.remove(m.as_bytes());
        assert!(
            matches!(link, Some(Seen::Symlink(_))),
            "mount {m}: {link:?}"
        );
    }
    assert_same_listing(&expected_release(source), &actual);
}

fn ino(p: &Path) -> u64 {
    fs::metadata(p).unwrap().ino()
}

#[test]
fn checkout_after_predecessor_writes_only_changed_files() {
    let env = Env::new();
    let tree = env.root.join("tree");
    build_tree(&tree, 300, "a");
    let a = env.snapshot(&tree);
    let ra = env.checkout(&a, 5);
    let ma = ra.materialized.as_ref().unwrap();
    assert_eq!((ma.files_linked, ma.files_written), (0, 302));
    let copy_a = env.root.join("copy-a");
    slugstore::restore(&env.store, &a, &copy_a, &Default::default(), &NoProgress).unwrap();

    // B: 7 files changed, 3 added, 2 removed, the executable changed.
    for i in [1, 40, 41, 99, 150, 200, 299] {
        let p = tree.join(format!("app/code/m{}/sub{}/f{i}.php", i % 7, i % 3));
        fs::write(&p, format!("changed {i}")).unwrap();
    }
    for i in 0..3 {
        fs::write(
            tree.join(format!("app/code/new{i}.php")),
            format!("new {i}"),
        )
        .unwrap();
    }
    for i in [2, 3] {
        fs::remove_file(tree.join(format!("app/code/m{}/sub{}/f{i}.php", i % 7, i % 3))).unwrap();
    }
    fs::write(tree.join("bin/magento"), "#!/bin/sh\necho b\n").unwrap();
    let b = env.snapshot(&tree);
    let rb = env.checkout(&b, 5);
    let mb = rb.materialized.as_ref().unwrap();
    assert_eq!(mb.predecessor, Some(a));
    assert_eq!(mb.files_written, 7 + 3 + 1);
    assert_eq!(mb.files_linked, 302 - 2 - 7 - 1);
    assert_release_of(&rb.release, &tree);
    // Unchanged files share the inode; the old release is untouched.
    let unchanged = "app/code/m0/sub0/f0.php";
    assert_eq!(
        ino(&ra.release.join(unchanged)),
        ino(&rb.release.join(unchanged))
    );
    assert_release_of(&ra.release, &copy_a);

    // A second checkout of B is a no-op.
    let again = env.checkout(&b, 5);
    assert!(again.already_present && again.materialized.is_none());
}

#[test]
fn release_files_and_dirs_are_read_only() {
    let env = Env::new();
    let tree = env.root.join("tree");
    build_tree(&tree, 50, "ro");
    let r = env.checkout(&env.snapshot(&tree), 5);
    let mut files = 0;
    let mut stack = vec![r.release.clone()];
    while let Some(d) = stack.pop() {
        let m = fs::symlink_metadata(&d).unwrap();
        assert_eq!(m.mode() & 0o777, 0o555, "{} is writable", d.display());
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let m = fs::symlink_metadata(&p).unwrap();
            if m.is_dir() {
                stack.push(p);
            } else if m.is_file() {
                files += 1;
                let want = if p.ends_with("bin/magento") {
                    0o555
                } else {
                    0o444
                };
                assert_eq!(m.mode() & 0o777, want, "{}", p.display());
            }
        }
    }
    assert_eq!(files, 52);
    // Permission bits bind everyone but root.
    if !slugstore_tests::is_root() {
        let f = r.release.join("pub/index.php");
        assert!(fs::OpenOptions::new().write(true).open(&f).is_err());
        assert!(fs::write(r.release.join("new-file"), "x").is_err());
    }
}

#[test]
fn mounts_resolve_into_shared_storage() {
    let env = Env::new();
    let tree = env.root.join("tree");
    build_tree(&tree, 10, "m");
    let a = env.snapshot(&tree);
    fs::write(tree.join("pub/index.php"), "changed").unwrap();
    let b = env.snapshot(&tree);
    let (ra, rb) = (env.checkout(&a, 5), env.checkout(&b, 5));
    let shared = env.target().join("shared").canonicalize().unwrap();
    for m in MOUNTS {
        let link = ra.release.join(m);
        assert!(fs::symlink_metadata(&link).unwrap().is_symlink(), "{m}");
        assert_eq!(link.canonicalize().unwrap(), shared.join(m));
        assert!(shared.join(m).is_dir());
    }
    // The build's own var/ content is not in the release; what one release writes, the other sees.
    assert!(!ra.release.join("var/log/build.log").exists());
    fs::write(ra.release.join("var/session"), "s").unwrap();
    assert_eq!(fs::read(rb.release.join("var/session")).unwrap(), b"s");
    assert_eq!(fs::read(shared.join("var/session")).unwrap(), b"s");
    let report = ra.materialized.unwrap();
    assert_eq!(report.mounts, ["app/etc", "pub/media", "pub/static", "var"]);
}

#[test]
fn current_is_never_missing_while_switching() {
    let env = Env::new();
    let tree = env.root.join("tree");
    build_tree(&tree, 5, "one");
    let a = env.snapshot(&tree);
    fs::write(tree.join("pub/index.php"), "two").unwrap();
    let b = env.snapshot(&tree);
    env.checkout(&a, 5);
    env.checkout(&b, 5);
    let target = env.target();
    checkout::activate(&target, &a, &SwitchOptions::default()).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicU64::new(0));
    let reader = {
        let (stop, reads) = (stop.clone(), reads.clone());
        let file = target.join("current/pub/index.php");
        std::thread::spawn(move || {
            let mut misses = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                match fs::read(&file) {
                    Ok(_) => {}
                    Err(e) => misses.push(e.to_string()),
                }
                reads.fetch_add(1, Ordering::Relaxed);
            }
            misses
        })
    };
    for i in 0..1000 {
        let id = if i % 2 == 0 { &b } else { &a };
        checkout::activate(&target, id, &SwitchOptions::default()).unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    let misses = reader.join().unwrap();
    assert!(
        misses.is_empty(),
        "current went missing {} times, first: {:?}",
        misses.len(),
        misses.first()
    );
    assert!(reads.load(Ordering::Relaxed) > 1000);
    assert_eq!(
        Target::existing(&target).unwrap().current().unwrap(),
        Some(a)
    );
    assert_eq!(
        fs::read(target.join("current/pub/index.php")).unwrap(),
        b"<?php require 'app/bootstrap.php';\n"
    );
}

#[test]
fn rollback_rematerializes_a_pruned_release_bit_exact() {
    let env = Env::new();
    let target = env.target();
    let mut ids = Vec::new();
    let mut copies = Vec::new();
    for seed in ["a", "b", "c"] {
        let tree = env.root.join(format!("tree-{seed}"));
        build_tree(&tree, 40, seed);
        let id = env.snapshot(&tree);
        env.checkout(&id, 2);
        let durable =
            |id: &SlugId| Target::existing(&target).unwrap().state().unwrap().releases[id].durable;
        assert!(!durable(&id), "a checkout does not flush the release");
        let s = checkout::activate(&target, &id, &SwitchOptions::default()).unwrap();
        assert!(s.flush_seconds.is_some(), "its first switch flushes it");
        assert!(durable(&id));
        ids.push(id);
        copies.push(tree);
    }
    let t = Target::existing(&target).unwrap();
    assert!(!t.has_release(&ids[0]), "retention kept A");
    assert!(t.has_release(&ids[1]) && t.has_release(&ids[2]));

    let store_dir = env.store.root().to_path_buf();
    drop(env.store);
    let opts = RollbackOptions {
        to: RollbackTo {
            steps: Some(2),
            to: None,
        },
        checkout: CheckoutOptions {
            retention: RetentionOptions {
                keep: 2,
                ..Default::default()
            },
            ..Default::default()
        },
        ..Default::default()
    };
    let open = || Store::open(&store_dir, &OpenOptions::default());
    let r = checkout::rollback(&target, &opts, &open, &MagentoLayout, &NoProgress).unwrap();
    assert_eq!(r.switch.slug, ids[0]);
    assert_eq!(r.switch.previous, Some(ids[2]));
    assert!(
        r.switch.flush_seconds.is_some(),
        "a re-materialized release is flushed"
    );
    let re = r.rematerialized.expect("A was pruned");
    assert_eq!(re.materialized.unwrap().predecessor, Some(ids[2]));
    assert_release_of(&target.join("current"), &copies[0]);

    // Back to C, which is on disk: no store needed.
    let to_c = RollbackOptions {
        to: RollbackTo {
            to: Some(ids[2].short(10)),
            steps: None,
        },
        ..Default::default()
    };
    let r = checkout::rollback(
        &target,
        &to_c,
        &|| panic!("store opened"),
        &MagentoLayout,
        &NoProgress,
    )
    .unwrap();
    assert!(r.rematerialized.is_none());
    assert!(
        r.switch.flush_seconds.is_none(),
        "C was flushed when it first went live"
    );
    assert_release_of(&target.join("current"), &copies[2]);
}

#[test]
fn post_switch_hook_sees_the_switch() {
    let env = Env::new();
    let tree = env.root.join("tree");
    build_tree(&tree, 3, "h");
    let a = env.snapshot(&tree);
    env.checkout(&a, 5);
    let out = env.root.join("hook.out");
    let opts = SwitchOptions {
        post_switch: Some(format!(
            "echo \"$SLUG_SWITCH $SLUG_ID $(readlink current)\" > {}; exit 3",
            out.display()
        )),
        ..SwitchOptions::default()
    };
    let r = checkout::activate(&env.target(), &a, &opts).unwrap();
    let hook = r.hook.unwrap();
    assert_eq!((hook.success, hook.exit_code), (false, Some(3)));
    assert_eq!(hook.failure.as_deref(), Some("exited with status 3"));
    assert_eq!(
        fs::read_to_string(&out).unwrap(),
        format!("activate {a} releases/{a}\n")
    );

    // A command that hangs is stopped at its limit, with what it started, and the switch stands.
    let hang = SwitchOptions {
        post_switch: Some("sleep 300".into()),
        post_switch_timeout: 1,
    };
    let t = std::time::Instant::now();
    let r = checkout::activate(&env.target(), &a, &hang).unwrap();
    assert!(
        t.elapsed() < std::time::Duration::from_secs(30),
        "{:?}",
        t.elapsed()
    );
    let hook = r.hook.unwrap();
    assert!(!hook.success);
    assert_eq!(
        hook.failure.as_deref(),
        Some("stopped at its time limit of 1s; killed by signal 15")
    );
    assert_eq!(r.slug, a);
}

#[test]
fn a_leftover_temporary_directory_is_not_a_release() {
    let env = Env::new();
    let tree = env.root.join("tree");
    build_tree(&tree, 20, "k");
    let id = env.snapshot(&tree);
    let t = Target::open(&env.target()).unwrap();
    let half = t.releases_dir().join(format!(".tmp-{id}-1"));
    fs::create_dir_all(half.join("app")).unwrap();
    fs::set_permissions(&half, fs::Permissions::from_mode(0o555)).unwrap();
    assert!(t.releases().unwrap().is_empty());
    assert!(checkout::activate(&env.target(), &id, &SwitchOptions::default()).is_err());
    assert!(t.current().unwrap().is_none());
    // The next checkout removes it and publishes a whole release.
    let r = env.checkout(&id, 5);
    assert!(!half.exists());
    assert_release_of(&r.release, &tree);
}

const CHILD_ENV: &str = "SLUGSTORE_TEST_CHECKOUT_CHILD";

/// Run as a child process by `a_killed_checkout_leaves_nothing_to_activate`: checks out a slug.
#[test]
#[ignore = "child process of a_killed_checkout_leaves_nothing_to_activate"]
fn checkout_child_process() {
    let Ok(arg) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mut parts = arg.split('\n');
    let (store, target, id) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let store = Store::open(Path::new(store), &OpenOptions::default()).unwrap();
    let id: SlugId = id.parse().unwrap();
    let opts = CheckoutOptions::default();
    checkout::checkout(
        &store,
        Path::new(target),
        &id,
        &opts,
        &MagentoLayout,
        &NoProgress,
    )
    .unwrap();
}

#[test]
fn a_killed_checkout_leaves_nothing_to_activate() {
    let env = Env::new();
    let tree = env.root.join("tree");
    build_tree(&tree, 3000, "kill");
    let id = env.snapshot(&tree);
    let store_dir = env.store.root().to_path_buf();
    drop(env.store);
    let target = env.root.join("target");
    let mut interrupted = 0;
    for delay_ms in (0..400).step_by(15) {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--ignored",
                "--exact",
                "checkout_child_process",
                "--test-threads=1",
            ])
            .env(
                CHILD_ENV,
                format!("{}\n{}\n{id}", store_dir.display(), target.display()),
            )
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().unwrap();
        child.wait().unwrap();
        let t = Target::open(&target).unwrap();
        if t.has_release(&id) {
            // Published means whole.
            assert_release_of(&t.release_dir(&id), &tree);
            break;
        }
        if !t.leftovers().unwrap().is_empty() {
            interrupted += 1;
        }
        assert!(t.releases().unwrap().is_empty());
        assert!(checkout::activate(&target, &id, &SwitchOptions::default()).is_err());
    }
    assert!(interrupted > 0, "no kill landed during a checkout");
}

#[test]
fn mounts_of_the_slug_config_use_their_source_paths() {
    let env = Env::new();
    let tree = env.root.join("tree");
    build_tree(&tree, 5, "yaml");
    // `app/etc` is stored in `etc` (legacy syntax), `pub/media` in `media` (mapping syntax).
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../slugstore-deploy/tests/fixtures/config/magento-app/.magento.app.yaml");
    fs::copy(&fixture, tree.join(".magento.app.yaml")).unwrap();
    let r = env.checkout(&env.snapshot(&tree), 5);
    let shared = env.target().join("shared").canonicalize().unwrap();
    for (mount, storage) in [
        ("var", "var"),
        ("app/etc", "etc"),
        ("pub/media", "media"),
        ("pub/static", "static"),
    ] {
        let link = r.release.join(mount);
        assert!(fs::symlink_metadata(&link).unwrap().is_symlink(), "{mount}");
        assert_eq!(
            link.canonicalize().unwrap(),
            shared.join(storage),
            "{mount}"
        );
    }
    assert_eq!(
        fs::read(r.release.join(".magento.app.yaml")).unwrap(),
        fs::read(&fixture).unwrap()
    );
}

#[test]
fn the_live_release_is_registered_with_the_store() {
    let env = Env::new();
    let tree = env.root.join("tree");
    build_tree(&tree, 3, "reg");
    let a = env.snapshot(&tree);
    fs::write(tree.join("pub/index.php"), "b").unwrap();
    let b = env.snapshot(&tree);
    env.checkout(&a, 5);
    env.checkout(&b, 5);
    let target = env.target();
    let canonical = target.canonicalize().unwrap().display().to_string();
    for id in [a, b] {
        checkout::activate(&target, &id, &SwitchOptions::default()).unwrap();
        assert_eq!(
            checkout::register_live(&env.store, &target).unwrap(),
            Some(id)
        );
        assert_eq!(
            slugstore::checkout::targets::list(&env.store).unwrap(),
            vec![(canonical.clone(), id)]
        );
    }
}

#[test]
fn prune_keeps_the_slug_a_registered_target_switched_to_without_the_store() {
    let env = Env::new();
    let tree = env.root.join("tree");
    build_tree(&tree, 3, "follow");
    let a = env.snapshot(&tree);
    fs::write(tree.join("pub/index.php"), "b").unwrap();
    let b = env.snapshot(&tree);
    // Both checkouts register the target with A (the first as nothing is live, the second as A is
    // live); B is made live by a bare switch that never sees the store.
    env.checkout(&a, 5);
    checkout::activate(&env.target(), &a, &SwitchOptions::default()).unwrap();
    env.checkout(&b, 5);
    checkout::activate(&env.target(), &b, &SwitchOptions::default()).unwrap();
    let r = slugstore::prune(
        &env.store,
        &slugstore::PruneOptions {
            keep_last: Some(0),
            ..Default::default()
        },
    )
    .unwrap();
    let pruned: Vec<SlugId> = r.pruned.iter().map(|s| s.id).collect();
    // A is kept as registered, B by following `current`.
    assert!(pruned.is_empty(), "pruned {pruned:?}");
    // Nothing live: only the registered slug is kept.
    fs::remove_file(env.target().join("current")).unwrap();
    let r = slugstore::prune(
        &env.store,
        &slugstore::PruneOptions {
            keep_last: Some(0),
            ..Default::default()
        },
    )
    .unwrap();
    let pruned: Vec<SlugId> = r.pruned.iter().map(|s| s.id).collect();
    assert_eq!(pruned, vec![b]);
}

/// A rollback that needs the store (its release was pruned) while a checkout holds the store and
/// wants the target: the rollback waits for the store without holding the target's lock, so the
/// checkout goes through, and the rollback follows once the store is free. Taking the two locks in
/// the other order deadlocked both.
#[test]
fn a_rollback_waiting_for_the_store_does_not_hold_the_target() {
    let _watchdog = slugstore_tests::deadline::watchdog(
        Duration::from_secs(120),
        "a rollback and a checkout of one target at once",
    );
    let env = Env::new();
    let target = env.target();
    let mut ids = Vec::new();
    for seed in ["a", "b", "c"] {
        let tree = env.root.join(format!("tree-{seed}"));
        build_tree(&tree, 10, seed);
        let id = env.snapshot(&tree);
        env.checkout(&id, 2);
        checkout::activate(&target, &id, &SwitchOptions::default()).unwrap();
        ids.push(id);
    }
    assert!(!Target::existing(&target).unwrap().has_release(&ids[0]));
    let ids_ = ids.clone();
    let store_dir = env.store.root().to_path_buf();
    let waiting = Arc::new(AtomicBool::new(false));
    let rollback = {
        let (target, waiting) = (target.clone(), waiting.clone());
        std::thread::spawn(move || {
            let open = || {
                waiting.store(true, Ordering::SeqCst);
                Store::open(&store_dir, &OpenOptions::default())
            };
            let to_a = RollbackOptions {
                to: RollbackTo {
                    to: Some(ids_[0].to_hex()),
                    steps: None,
                },
                ..Default::default()
            };
            checkout::rollback(&target, &to_a, &open, &MagentoLayout, &NoProgress)
        })
    };
    while !waiting.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(300));
    // This process holds the store; the checkout needs the target's lock.
    let again = env.checkout(&ids[1], 2);
    assert!(again.already_present);
    drop(env.store);
    let r = rollback.join().unwrap().unwrap();
    assert!(r.rematerialized.is_some(), "A was pruned");
    assert_eq!(r.switch.slug, ids[0]);
    assert_eq!(
        slugstore_tests::project::current(&target),
        Some(ids[0].to_hex())
    );
}

/// The target's lock is waited for, but not for ever: past the wait, an error names the lock file.
#[test]
fn the_target_lock_is_waited_for_within_a_bound() {
    let env = Env::new();
    let target = Target::open(&env.target()).unwrap();
    let held = target.lock().unwrap();
    let t = std::time::Instant::now();
    let e = Target::existing(&env.target())
        .unwrap()
        .lock_within(Duration::from_millis(200))
        .unwrap_err();
    assert!(t.elapsed() >= Duration::from_millis(200));
    assert!(matches!(e, slugstore::Error::TargetLocked { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains(&env.target().join(".lock").display().to_string()),
        "{msg}"
    );
    // Released: taken at once; and a holder released while one waits is seen.
    let waiter = std::thread::spawn({
        let root = env.target();
        move || {
            Target::existing(&root)
                .unwrap()
                .lock_within(Duration::from_secs(60))
                .map(drop)
        }
    });
    std::thread::sleep(Duration::from_millis(100));
    drop(held);
    waiter.join().unwrap().unwrap();
}
