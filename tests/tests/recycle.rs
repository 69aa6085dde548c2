//! A checkout that recycles a release retention is about to remove (changing it in place by the
//! difference of the two slugs) leaves the target as a fresh checkout would: over many random change
//! sets (files added, deleted, renamed, edited, executable bits flipped, files turned into symlinks or
//! directories, directories added and removed) and mounts added and dropped between releases, every
//! release on disk is, entry for entry (bytes, modes, symlink targets, mount links), the release a
//! target that never recycles holds for the same slug.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use slugstore::checkout::{
    self, CheckoutOptions, MaterializeOptions, MountSpec, ReleaseLayout, RetentionOptions,
    SwitchOptions, Target,
};
use slugstore::{NoProgress, SlugId, Store};
use slugstore_tests::churn::{self, change};
use slugstore_tests::compare::{assert_same_listing, read_tree};
use slugstore_tests::rng::Rng;
use slugstore_tests::store;
use slugstore_tests::tree::{content, Tree};

/// Mounts declared one path per line in `mounts.txt` at the release root.
struct MountsFile;

impl ReleaseLayout for MountsFile {
    fn config_file(&self) -> Option<&str> {
        Some("mounts.txt")
    }

    fn mounts(
        &self,
        dir: &Path,
    ) -> Result<Vec<MountSpec>, slugstore::checkout::layout::LayoutError> {
        let text = fs::read_to_string(dir.join("mounts.txt")).unwrap_or_default();
        Ok(text.lines().map(MountSpec::local).collect())
    }
}

/// [`churn::project`] with its mounts declared.
fn project() -> Tree {
    churn::project().file("mounts.txt", "cache\n")
}

/// Checks `id` out on the target at `root`, keeping `keep` releases, and makes it live; the release
/// must not be on disk.
fn check_out(
    store: &Store,
    root: &Path,
    id: &SlugId,
    keep: usize,
    no_recycle: bool,
) -> slugstore::checkout::MaterializeReport {
    let m = check_out_only(store, root, id, keep, no_recycle);
    checkout::activate(root, id, &SwitchOptions::default()).unwrap();
    m
}

fn release(root: &Path, id: &SlugId) -> PathBuf {
    Target::open(root).unwrap().release_dir(id)
}

#[test]
fn a_recycled_release_is_the_release_a_fresh_checkout_writes_after_any_change_set() {
    let tmp = tempfile::tempdir().unwrap();
    let store = store::init(&tmp.path().join("store"));
    let (mut recycled, mut removed) = (0, 0);
    for seed in 0..16u64 {
        let tree = tmp.path().join(format!("tree-{seed}"));
        let (recycling, fresh) = (
            tmp.path().join(format!("recycling-{seed}")),
            tmp.path().join(format!("fresh-{seed}")),
        );
        project().build(&tree);
        let mut rng = Rng(seed);
        let mut slugs: Vec<SlugId> = Vec::new();
        for round in 0..6 {
            if round > 0 {
                for _ in 0..1 + rng.below(6) {
                    change(&tree, &mut rng);
                }
                // Now and then a mount over part of the tree comes or goes.
                if rng.below(3) == 0 {
                    let mounts = ["cache\n", "cache\nsrc/m1\n", "src/m2/sub1\n"][rng.below(3)];
                    if tree.join("mounts.txt").is_file() {
                        fs::write(tree.join("mounts.txt"), mounts).unwrap();
                    }
                }
            }
            let id = store::snapshot(&store, &tree).slug;
            if slugs.contains(&id) {
                continue;
            }
            slugs.push(id);
            let m = check_out(&store, &recycling, &id, 2, false);
            check_out(&store, &fresh, &id, 100, true);
            if slugs.len() > 2 {
                assert!(
                    m.recycled.is_some() && m.recycle_failed.is_none(),
                    "seed {seed}, round {round}: {m:?}"
                );
                recycled += 1;
                removed += m.entries_removed;
            }
            // Every release on the recycling target, the new one and those it kept, is the fresh one.
            for r in Target::open(&recycling).unwrap().releases().unwrap() {
                assert_same_listing(
                    &read_tree(&release(&fresh, &r)),
                    &read_tree(&release(&recycling, &r)),
                );
            }
        }
        let on_disk = Target::open(&recycling).unwrap().releases().unwrap();
        assert_eq!(on_disk.len(), 2.min(slugs.len()), "seed {seed}");
        for dir in [tree, recycling, fresh] {
            slugstore::checkout::retention::remove_tree(&dir).unwrap();
        }
    }
    assert!(
        recycled >= 40 && removed > 0,
        "{recycled} recycles, {removed} entries removed"
    );
}

#[test]
fn no_recycle_and_a_release_of_an_earlier_version_write_a_new_release() {
    let tmp = tempfile::tempdir().unwrap();
    let store = store::init(&tmp.path().join("store"));
    let tree = tmp.path().join("tree");
    let target = tmp.path().join("target");
    project().build(&tree);
    let mut ids = Vec::new();
    for i in 0..4 {
        fs::write(tree.join(format!("src/new-{i}.php")), format!("{i}")).unwrap();
        ids.push(store::snapshot(&store, &tree).slug);
    }
    check_out(&store, &target, &ids[0], 1, false);
    check_out(&store, &target, &ids[1], 1, false);
    let m = check_out(&store, &target, &ids[2], 1, true);
    assert_eq!((m.recycled, m.files_kept), (None, 0), "--no-recycle: {m:?}");

    // A release recorded without its mounts (by an earlier version) is not trusted to be recyclable.
    let t = Target::open(&target).unwrap();
    let mut state = t.state().unwrap();
    for r in state.releases.values_mut() {
        r.mounts = None;
    }
    t.save_state(&state).unwrap();
    let m = check_out(&store, &target, &ids[3], 1, false);
    assert_eq!(m.recycled, None, "{m:?}");
    let why = m.recycle_failed.expect("the recycle was tried");
    assert!(why.contains("mounts"), "{why}");
    assert_same_listing(
        &read_tree(&tree_release(&store, &ids[3], tmp.path())),
        &read_tree(&release(&target, &ids[3])),
    );
}

/// A release of `id` written by a fresh target under `dir`, to compare with.
fn tree_release(store: &Store, id: &SlugId, dir: &Path) -> PathBuf {
    let root = dir.join(format!("fresh-{}", id.short(12)));
    check_out(store, &root, id, 100, true);
    release(&root, id)
}

const CHILD_ENV: &str = "SLUGSTORE_TEST_RECYCLE_CHILD";

/// Run as a child process by `a_killed_recycling_leaves_no_release_that_is_not_whole`.
#[test]
#[ignore = "child process of a_killed_recycling_leaves_no_release_that_is_not_whole"]
fn recycle_child_process() {
    let Ok(arg) = std::env::var(CHILD_ENV) else {
        return;
    };
    let [store, target, id] = arg.splitn(3, '\n').collect::<Vec<_>>()[..] else {
        panic!("bad argument {arg:?}");
    };
    let store = store::open(Path::new(store));
    let m = check_out_only(&store, Path::new(target), &id.parse().unwrap(), 1, false);
    assert!(m.recycled.is_some(), "{m:?}");
}

/// [`check_out`] without the activation.
fn check_out_only(
    store: &Store,
    root: &Path,
    id: &SlugId,
    keep: usize,
    no_recycle: bool,
) -> slugstore::checkout::MaterializeReport {
    let opts = CheckoutOptions {
        // Never flushed: a flush of the whole filesystem at each first activation is not what is
        // tested here, and costs seconds on a busy disk.
        materialize: MaterializeOptions {
            no_recycle,
            no_sync: true,
            ..MaterializeOptions::default()
        },
        retention: RetentionOptions {
            keep,
            ..RetentionOptions::default()
        },
    };
    let r = checkout::checkout(store, root, id, &opts, &MountsFile, &NoProgress).unwrap();
    r.materialized.expect("a new release")
}

#[test]
fn a_killed_recycling_leaves_no_release_that_is_not_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let store_dir = tmp.path().join("store");
    let store = store::init(&store_dir);
    let tree = tmp.path().join("tree");
    let mut spec = project();
    for i in 0..1000u64 {
        spec = spec.file(format!("big/d{}/f{i}.php", i % 50), content(40, i));
    }
    spec.build(&tree);
    // Each slug rewrites 600 of the 1,000 files and adds 10 directories: a recycling with work
    // enough to be killed in the middle (~0.2 s here, the process start included).
    let mut ids = Vec::new();
    for round in 0..3u64 {
        for i in (0..1000u64).filter(|i| (i + round) % 5 < 3) {
            let p = tree.join(format!("big/d{}/f{i}.php", i % 50));
            fs::write(p, content(40, i * 10 + round + 1)).unwrap();
        }
        let from = tree.join(format!("moved-{round}"));
        fs::create_dir_all(&from).unwrap();
        for d in 0..10 {
            Tree::new()
                .file(format!("r{round}/x{d}/a.php"), "a")
                .build(&from);
        }
        ids.push(store::snapshot(&store, &tree).slug);
    }
    let fresh = tmp.path().join("fresh");
    for id in &ids {
        check_out_only(&store, &fresh, id, 100, true);
    }
    let listings: std::collections::HashMap<SlugId, _> = ids
        .iter()
        .map(|id| (*id, read_tree(&release(&fresh, id))))
        .collect();
    let expected = |id: &SlugId| &listings[id];
    let (a, b, c) = (ids[0], ids[1], ids[2]);
    drop(store);

    let mut interrupted = 0;
    // Kills later and later, until one lands after the recycling ended: the whole window is covered
    // however slow the machine is.
    let mut finished = false;
    for (attempt, delay_ms) in (0..6000).step_by(40).enumerate() {
        if finished {
            break;
        }
        let target = tmp.path().join(format!("target-{attempt}"));
        let store = store::open(&store_dir);
        check_out(&store, &target, &a, 1, false);
        check_out(&store, &target, &b, 1, false);
        drop(store);
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--ignored", "--exact", "recycle_child_process"])
            .env(
                CHILD_ENV,
                format!("{}\n{}\n{c}", store_dir.display(), target.display()),
            )
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        slugstore_tests::deadline::wait_deadline(&mut child);
        let t = Target::open(&target).unwrap();
        let on_disk = t.releases().unwrap();
        // Whatever is a release is whole; the live one was never touched.
        for id in &on_disk {
            assert_same_listing(expected(id), &read_tree(&t.release_dir(id)));
        }
        assert!(on_disk.contains(&b), "attempt {attempt}: {on_disk:?}");
        if !on_disk.contains(&a) && !on_disk.contains(&c) {
            interrupted += 1;
        }
        finished = on_disk.contains(&c);
        // The next checkout finishes the job (or finds it done).
        let store = store::open(&store_dir);
        let opts = CheckoutOptions {
            retention: RetentionOptions {
                keep: 1,
                ..RetentionOptions::default()
            },
            ..CheckoutOptions::default()
        };
        checkout::checkout(&store, &target, &c, &opts, &MountsFile, &NoProgress).unwrap();
        assert_same_listing(expected(&c), &read_tree(&t.release_dir(&c)));
        assert_same_listing(expected(&b), &read_tree(&t.release_dir(&b)));
        assert!(t.leftovers().unwrap().is_empty());
        slugstore::checkout::retention::remove_tree(&target).unwrap();
    }
    assert!(finished, "no recycling finished before its kill");
    assert!(interrupted > 0, "no kill landed during a recycling");
}
