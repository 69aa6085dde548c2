//! Crash harness: run `slug snapshot`, `restore`, `checkout --activate`, `rollback`, `push`, `prune` and
//! `gc` as child processes, SIGKILL them at seeded random moments, and check after every step that the
//! store opens and verifies, that every slug reported complete (its id printed) still restores
//! bit-exact, that the deploy target holds only whole releases, and that every slug whose push
//! completed (or was killed and then rerun to completion) pulls from the remote into an empty store and
//! restores bit-exact. A prune (`--keep-last` 0, 1 or 2) is all or nothing: after it, killed or not,
//! the store lists either every slug it listed before or exactly those the same prune's `--dry-run`
//! kept; one that ended kept the newest; and `slug ls` always lists the slugs in the order they were
//! made.
//!
//! `SLUGSTORE_CRASH_ITERATIONS` sets the number of steps (default 40, for CI; `scripts/crash-soak.sh`
//! runs hundreds), `SLUGSTORE_CRASH_SEED` the seed. The kill moment is drawn between 0 and a little more
//! than the typical run of the same command (a window that widens after each kill and moves towards the
//! duration of each completed run), so kills land all along the command's work and some runs finish.

mod proc_support;

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use proc_support::*;

const FILES: u64 = 120;
const BIG: usize = 3 << 20;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Op {
    SnapshotKeep,
    SnapshotScratch,
    Restore,
    Checkout,
    Push,
    Prune,
    Gc,
    Rollback,
}

struct Completed {
    version: u64,
    /// Snapshotted onto its own ref, so no prune may take it.
    kept: bool,
}

#[derive(Default)]
struct Counts {
    runs: BTreeMap<Op, u64>,
    kills: BTreeMap<Op, u64>,
    corrupt: u64,
    lost: u64,
    /// Releases on the target that were not whole, or `current` pointing at nothing.
    broken_releases: u64,
    /// Pushes killed and then rerun to completion.
    pushes_resumed: u64,
    /// Prunes that left neither the slugs before nor those their dry run kept, or an ended prune that
    /// did not keep the newest slugs.
    torn_prunes: u64,
    /// `slug ls` listings out of the order the slugs were made in.
    disordered: u64,
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn killed_commands_never_corrupt_the_store_or_lose_a_completed_slug() {
    let iterations = env_u64("SLUGSTORE_CRASH_ITERATIONS", 40);
    let seed = env_u64("SLUGSTORE_CRASH_SEED", 0x5eed);
    let mut rng = Rng(seed | 1);
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let tree = dir.path().join("tree");
    let target = dir.path().join("target");
    assert!(run(slug(&store).arg("init")).status.success());
    let remote_url = format!("file://{}", dir.path().join("remote").display());
    assert!(
        run(slug(&store).args(["remote", "add", "origin", &remote_url]))
            .status
            .success()
    );
    let mut pushed: BTreeMap<String, u64> = BTreeMap::new();

    let mut completed: BTreeMap<String, Completed> = BTreeMap::new();
    let mut longest: BTreeMap<Op, Duration> = BTreeMap::new();
    let mut counts = Counts::default();
    let mut next_version = 0u64;
    for step in 0..iterations {
        let op = match rng.below(14) {
            0..=3 => Op::SnapshotKeep,
            4..=5 => Op::SnapshotScratch,
            6 => Op::Restore,
            7 => Op::Prune,
            8..=9 => Op::Checkout,
            10..=11 => Op::Push,
            12 => Op::Gc,
            _ => Op::Rollback,
        };
        let kept: Vec<&String> = completed
            .iter()
            .filter(|(_, c)| c.kept)
            .map(|(id, _)| id)
            .collect();
        let pick = kept
            .get(rng.below(kept.len().max(1) as u64) as usize)
            .map(|id| id.to_string());
        let version = next_version;
        let mut cmd = slug(&store);
        let (mut keep_last, mut listed_before, mut would_keep) =
            (String::new(), Vec::new(), Vec::new());
        match op {
            Op::SnapshotKeep | Op::SnapshotScratch => {
                next_version += 1;
                let _ = std::fs::remove_dir_all(&tree);
                gen_tree(&tree, version, FILES, BIG);
                let r = if op == Op::SnapshotKeep {
                    format!("keep-{version}")
                } else {
                    "scratch".to_string()
                };
                cmd.args(["snapshot", "--ref", &r]).arg(&tree);
            }
            Op::Restore => {
                let Some(id) = completed
                    .keys()
                    .nth(rng.below(completed.len().max(1) as u64) as usize)
                else {
                    continue;
                };
                cmd.args(["restore", id])
                    .arg(dir.path().join(format!("restore-{step}")));
            }
            Op::Checkout | Op::Push => {
                // Only slugs on their own ref: a scratch slug may be pruned meanwhile.
                let Some(id) = &pick else {
                    continue;
                };
                if op == Op::Checkout {
                    cmd.args(["checkout", id, "--activate", "--target"])
                        .arg(&target);
                } else {
                    cmd.args(["push", id, "origin"]);
                }
            }
            Op::Prune => {
                keep_last = rng.below(3).to_string();
                cmd.args(["prune", "--keep-last", &keep_last]);
                listed_before = listed(&store);
                let pruned = ids_of(
                    run(slug(&store).args([
                        "prune",
                        "--keep-last",
                        &keep_last,
                        "--dry-run",
                        "--json",
                    ])),
                    "pruned",
                );
                would_keep = (listed_before.iter())
                    .filter(|id| !pruned.contains(id))
                    .cloned()
                    .collect();
            }
            Op::Rollback => {
                cmd.args(["rollback", "--target"]).arg(&target);
            }
            Op::Gc => {
                cmd.args(["gc", "--repack-below", "100"]);
            }
        }
        let window = longest
            .get(&op)
            .copied()
            .unwrap_or(Duration::from_millis(150));
        let delay = Duration::from_micros(rng.below(window.as_micros() as u64 * 6 / 5 + 1));
        let started = Instant::now();
        let child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (killed, out) = run_until(child, delay);
        *counts.runs.entry(op).or_default() += 1;
        if killed {
            *counts.kills.entry(op).or_default() += 1;
            // Widen the window until runs sometimes complete.
            longest.insert(op, window * 5 / 4);
            if let (Op::Push, Some(id)) = (op, &pick) {
                // A killed push, rerun, completes.
                let again = run(slug(&store).args(["push", id, "origin"]));
                assert!(
                    again.status.success(),
                    "push rerun after a kill failed: {}",
                    String::from_utf8_lossy(&again.stderr)
                );
                counts.pushes_resumed += 1;
                pushed.insert(id.clone(), completed[id].version);
            }
        } else {
            // Move most of the way to this run's duration: commands that got faster must not leave
            // the window (and the share of runs that finish unkilled) too wide for long.
            longest.insert(op, (window + started.elapsed() * 3) / 4);
            assert!(
                out.status.success() || op == Op::Restore || nothing_to_roll_back(op, &out),
                "{op:?} failed without a kill: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            if let (Op::Push, Some(id)) = (op, &pick) {
                pushed.insert(id.clone(), completed[id].version);
            }
            if let (Op::SnapshotKeep | Op::SnapshotScratch, Some(id)) = (op, printed_id(&out)) {
                completed.insert(
                    id,
                    Completed {
                        version,
                        kept: op == Op::SnapshotKeep,
                    },
                );
            }
        }

        let v = run(slug(&store).args(["--lock-timeout", "30", "verify"]));
        if !v.status.success() {
            counts.corrupt += 1;
            eprintln!(
                "step {step} ({op:?}, killed: {killed}): verify failed:\n{}{}",
                String::from_utf8_lossy(&v.stdout),
                String::from_utf8_lossy(&v.stderr)
            );
        }
        // Every 10 steps: the slugs completed since the last check and a few older ones; all at the end.
        if step % 10 == 9 || step + 1 == iterations {
            let last = step + 1 == iterations;
            let n = completed.len() as u64;
            let check: BTreeMap<&String, &Completed> = completed
                .iter()
                .filter(|(_, c)| last || c.version + 10 >= next_version || rng.below(n) < 3)
                .collect();
            counts.lost += check_completed(&store, &check, dir.path());
            counts.lost += check_pushed(&remote_url, &pushed, dir.path(), last);
        }
        if op == Op::Checkout || op == Op::Rollback {
            counts.broken_releases += check_target(&target, &completed, dir.path());
        }
        if op == Op::Prune {
            let now = listed(&store);
            let keep: usize = keep_last.parse().unwrap();
            let newest = &listed_before[listed_before.len().saturating_sub(keep)..];
            let whole = now == listed_before || now == would_keep;
            if !whole
                || (!killed && (now != would_keep || !newest.iter().all(|id| now.contains(id))))
            {
                eprintln!(
                    "step {step} (prune --keep-last {keep}, killed: {killed}): listed {now:?}, before {listed_before:?}, its dry run kept {would_keep:?}"
                );
                counts.torn_prunes += 1;
            }
            counts.disordered += check_order(step, &now, &completed);
        }
    }
    // Releases are read-only; let the temporary directory go.
    let _ = std::process::Command::new("chmod")
        .args(["-R", "u+w"])
        .arg(dir.path())
        .status();

    let kills: u64 = counts.kills.values().sum();
    eprintln!(
        "crash harness (seed {seed:#x}): {iterations} steps, runs {:?}, kills {:?} ({kills} in all), {} completed slugs, {} pushed ({} after a killed push), {} corrupt stores, {} lost slugs, {} broken releases, {} torn prunes, {} listings out of order",
        counts.runs,
        counts.kills,
        completed.len(),
        pushed.len(),
        counts.pushes_resumed,
        counts.corrupt,
        counts.lost,
        counts.broken_releases,
        counts.torn_prunes,
        counts.disordered
    );
    assert_eq!(counts.corrupt, 0, "corrupt stores");
    assert_eq!(counts.lost, 0, "lost completed slugs");
    assert_eq!(counts.broken_releases, 0, "broken releases");
    assert_eq!(counts.torn_prunes, 0, "torn prunes");
    assert_eq!(counts.disordered, 0, "listings out of order");
    assert!(
        kills * 3 >= iterations,
        "too few kills landed ({kills}) for the harness to mean anything"
    );
    assert!(!completed.is_empty());
}

/// Counts the pushed slugs that do not pull from the remote into an empty store or do not restore
/// bit-exact from it: the most recent few, or all of them when `all`.
fn check_pushed(
    remote_url: &str,
    pushed: &BTreeMap<String, u64>,
    tmp: &std::path::Path,
    all: bool,
) -> u64 {
    if pushed.is_empty() {
        return 0;
    }
    let fresh = tmp.join("pulled-store");
    let _ = std::fs::remove_dir_all(&fresh);
    assert!(run(slug(&fresh).arg("init")).status.success());
    assert!(
        run(slug(&fresh).args(["remote", "add", "origin", remote_url]))
            .status
            .success()
    );
    let mut lost = 0;
    let mut newest: Vec<(&String, &u64)> = pushed.iter().collect();
    newest.sort_by_key(|(_, v)| std::cmp::Reverse(**v));
    for (id, version) in newest.into_iter().take(if all { usize::MAX } else { 3 }) {
        let out = run(slug(&fresh).args(["pull", "origin", id]));
        if !out.status.success() {
            eprintln!(
                "pushed slug {id} does not pull: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            lost += 1;
            continue;
        }
        let (dest, expected) = (tmp.join("pulled"), tmp.join("expected-pull"));
        let _ = std::fs::remove_dir_all(&dest);
        let _ = std::fs::remove_dir_all(&expected);
        let restored = run(slug(&fresh).args(["restore", id]).arg(&dest));
        gen_tree(&expected, *version, FILES, BIG);
        if !restored.status.success() || read_tree(&dest) != read_tree(&expected) {
            eprintln!(
                "pushed slug {id} (version {version}) restores different bytes from the remote"
            );
            lost += 1;
        }
    }
    let v = run(slug(&fresh).arg("verify"));
    if !v.status.success() {
        eprintln!(
            "pulled store does not verify: {}",
            String::from_utf8_lossy(&v.stdout)
        );
        lost += 1;
    }
    lost
}

/// Counts what is wrong on the deploy target: a release directory (named by a slug id) whose files
/// differ from its slug's tree, or a `current` that does not resolve to one.
fn check_target(
    target: &std::path::Path,
    completed: &BTreeMap<String, Completed>,
    tmp: &std::path::Path,
) -> u64 {
    let releases = target.join("releases");
    let Ok(entries) = std::fs::read_dir(&releases) else {
        return 0; // killed before the target existed
    };
    let mut broken = 0;
    for e in entries {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue; // a checkout in progress or a release being removed: never a release
        }
        let Some(c) = completed.get(&name) else {
            eprintln!("release {name} is not a slug this harness made");
            broken += 1;
            continue;
        };
        let expected = tmp.join("expected-release");
        let _ = std::fs::remove_dir_all(&expected);
        gen_tree(&expected, c.version, FILES, BIG);
        if read_tree(&releases.join(&name)) != read_tree(&expected) {
            eprintln!("release {name} (version {}) is not whole", c.version);
            broken += 1;
        }
    }
    let current = target.join("current");
    if current.symlink_metadata().is_ok() && !current.join("big.bin").is_file() {
        eprintln!("current points at no release");
        broken += 1;
    }
    broken
}

/// Counts the completed slugs that are gone or no longer restore bit-exact. Slugs snapshotted onto
/// their own `keep-*` ref must all be there; `scratch` slugs may have been pruned once the ref moved.
fn check_completed(
    store: &std::path::Path,
    completed: &BTreeMap<&String, &Completed>,
    tmp: &std::path::Path,
) -> u64 {
    let expected_dir = tmp.join("expected");
    let mut lost = 0;
    for (id, c) in completed {
        let dest = tmp.join("check");
        let _ = std::fs::remove_dir_all(&dest);
        let out = run(slug(store).args(["restore", id]).arg(&dest));
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            let pruned = err.contains("no slug or ref named");
            if c.kept || !pruned {
                eprintln!("slug {id} (version {}) does not restore: {err}", c.version);
                lost += 1;
            }
            continue;
        }
        let _ = std::fs::remove_dir_all(&expected_dir);
        gen_tree(&expected_dir, c.version, FILES, BIG);
        if read_tree(&dest) != read_tree(&expected_dir) {
            eprintln!("slug {id} (version {}) restores different bytes", c.version);
            lost += 1;
        }
    }
    lost
}

/// The ids `slug ls` lists, in its order.
fn listed(store: &std::path::Path) -> Vec<String> {
    ids_of(
        run(slug(store).args(["--lock-timeout", "30", "ls", "--json"])),
        "",
    )
}

/// The `id`s of the JSON array a successful command printed (under `key`, or the whole output).
fn ids_of(out: std::process::Output, key: &str) -> Vec<String> {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let list = if key.is_empty() { &json } else { &json[key] };
    list.as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

/// 1 (and a message) if the completed slugs among `listed` are not in the order they were made.
fn check_order(step: u64, listed: &[String], completed: &BTreeMap<String, Completed>) -> u64 {
    let versions: Vec<u64> = listed
        .iter()
        .filter_map(|id| completed.get(id).map(|c| c.version))
        .collect();
    if versions.windows(2).all(|w| w[0] < w[1]) {
        return 0;
    }
    eprintln!("step {step}: slug ls lists versions {versions:?}, not in the order they were made");
    1
}

/// Whether `out` is a rollback refused because the target has no earlier deploy to go back to.
fn nothing_to_roll_back(op: Op, out: &std::process::Output) -> bool {
    let err = String::from_utf8_lossy(&out.stderr);
    op == Op::Rollback
        && [
            "nothing to roll back",
            "cannot go back",
            "not in the deploy history",
            "is not a deploy target",
        ]
        .iter()
        .any(|m| err.contains(m))
}
