//! Checkout and rollback: materialising a release on a deploy target and switching between releases,
//! against the ways a tree is put in place today (`cp -al` of the tree, `tar -x` of an archive of it).
//!
//! Three measurements:
//! - the next build's release (1 % churn) while the previous release is on disk, so unchanged files
//!   are hard-linked from it: what every deploy after the first does; `cp -al` and `tar -x` of the tree
//!   are timed beside it;
//! - the next build's release on a target at its `--keep` limit (here 1, with the previous build's
//!   release on disk but not live): slugstore changes the release retention is about to remove into
//!   the new one; `--no-recycle` writes a new release, linking from the old one, then deletes it;
//! - a cold checkout: the first release on an empty target, every file written from the store;
//! - `slug rollback --to` between two releases on disk: the switch alone, timed many times
//!   (at least [`ROLLBACK_RUNS`]). Its row records the process's wall time and, as `switch_ms`, the
//!   switch itself as `slug` reports it (without process start-up).
//!
//! `cp -al` and `tar` get the files a slug holds (the tree without its mounts), so all three put the
//! same files in place. None of the three flushes what it wrote: slugstore flushes a release when it
//! first goes live (`activate`), which this scenario does not time. Skipped when the `slug` binary has no
//! `checkout` command.

use std::path::Path;
use std::process::Command;

use slugstore::error::IoResultExt;
use slugstore::Result;

use super::backends::slug_command;
use super::exec::{quote, remove_tree, run, shell};
use super::results::Row;
use super::targets::{Figure, Goal, Target};
use super::timing::{timed, Timed};
use super::two_builds::{slug_with, two_builds, TwoBuilds};
use super::{slug_part, Env};

/// Scenario name: the next release while its predecessor is on disk.
pub const WITH_PREDECESSOR: &str = "checkout (predecessor on disk, 1% churn)";
/// Scenario name: the next release made from an older one that retention was removing.
pub const RECYCLED: &str = "checkout (an older release recycled, 1% churn)";
/// slugstore writing a new release and deleting the old one, as it did before recycling.
pub const SLUG_NO_RECYCLE: &str = "slugstore (--no-recycle)";
/// Scenario name: the first release on an empty target.
pub const COLD: &str = "checkout (cold)";
/// Scenario name: switching back to a release on disk.
pub const ROLLBACK: &str = "rollback (switch only)";
/// slugstore.
pub const SLUG: &str = "slugstore";
/// Hard-linked copy of the tree.
pub const CP: &str = "cp -al";
/// Extraction of an uncompressed tar of the tree.
pub const TAR: &str = "tar -x";
/// The fewest rollbacks timed: one is a few milliseconds, so a median needs many.
pub const ROLLBACK_RUNS: u32 = 20;

/// The goals of the scenario (issue: instant restore, releases, atomic switch and rollback).
pub const TARGETS: &[Target] = &[
    Target {
        subject: Figure::wall(WITH_PREDECESSOR, SLUG),
        goal: Goal::FractionOf(Figure::wall(WITH_PREDECESSOR, CP), 0.35),
    },
    Target {
        subject: Figure::wall(COLD, SLUG),
        goal: Goal::FractionOf(Figure::wall(WITH_PREDECESSOR, CP), 1.5),
    },
    Target {
        subject: Figure {
            scenario: ROLLBACK,
            tool: SLUG,
            figure: Some("switch_ms"),
        },
        goal: Goal::Below(5.0, "ms"),
    },
];

/// Measures checkout with a predecessor, cold checkout and rollback, and `cp -al` and `tar -x`.
pub fn measure(env: &Env, skipped: &mut Vec<String>) -> Result<Vec<Row>> {
    let Some(bin) = slug_with(env, "checkout", "checkout", skipped) else {
        return Ok(Vec::new());
    };
    let root = env.ws.root.join("checkout");
    let TwoBuilds { store, first, next } = two_builds(env, bin, &root)?;
    let (first, next) = (first.as_str(), next.as_str());
    let target = root.join("target");
    let slug = |args: &[&str]| {
        let mut c = slug_command(bin, &store);
        c.args(args).arg("--target").arg(&target);
        c
    };
    let fresh_target = || remove_tree(&target);
    let with_first = || {
        fresh_target()?;
        run(&mut slug(&["checkout", first, "--activate"])).map(drop)
    };

    let mut rows = Vec::new();
    let mut next_release = timed(
        WITH_PREDECESSOR,
        SLUG,
        env.runs,
        |_| with_first(),
        |_| slug(&["--json", "checkout", next]),
    );
    written_and_linked(&mut next_release);
    rows.push(next_release.row);
    rows.extend(peers(env, &root)?);
    for (tool, extra) in [(SLUG, None), (SLUG_NO_RECYCLE, Some("--no-recycle"))] {
        let mut recycled = timed(
            RECYCLED,
            tool,
            env.runs,
            |_| {
                fresh_target()?;
                run(&mut slug(&["checkout", first])).map(drop)
            },
            |_| {
                let mut c = slug(&["--json", "checkout", next, "--keep", "1"]);
                c.args(extra);
                c
            },
        );
        written_and_linked(&mut recycled);
        recycled.json_figure("files_kept", "/checkout/materialized/files_kept");
        rows.push(recycled.row);
    }
    let mut cold = timed(
        COLD,
        SLUG,
        env.runs,
        |_| fresh_target(),
        |_| slug(&["--json", "checkout", first]),
    );
    written_and_linked(&mut cold);
    rows.push(cold.row);

    // Both releases on disk, the next one live; then back and forth.
    with_first()?;
    run(&mut slug(&["checkout", next, "--activate"]))?;
    let mut rollback = timed(
        ROLLBACK,
        SLUG,
        env.runs.max(ROLLBACK_RUNS),
        |_| Ok(()),
        |i| slug(&["--json", "rollback", "--to", [first, next][i as usize % 2]]),
    );
    rollback.json_figure("switch_s", "/switch_seconds");
    if let Some(s) = rollback.row.figures.remove("switch_s") {
        rollback.figure("switch_ms", s * 1e3);
    }
    rows.push(rollback.row);
    remove_tree(&root)?;
    Ok(rows)
}

/// Records how many files the checkout wrote and linked (median over the runs).
fn written_and_linked(t: &mut Timed) {
    t.json_figure("files_written", "/checkout/materialized/files_written");
    t.json_figure("files_linked", "/checkout/materialized/files_linked");
}

/// `cp -al` of the slug's files, and `tar -x` of an uncompressed tar of them made beforehand.
fn peers(env: &Env, root: &Path) -> Result<Vec<Row>> {
    let files = slug_part(env.ws)?;
    let out = root.join("copy");
    let tar = root.join("tree.tar");
    run(Command::new("tar")
        .arg("-cf")
        .arg(&tar)
        .arg("-C")
        .arg(&files)
        .arg("."))?;
    let cp = timed(
        WITH_PREDECESSOR,
        CP,
        env.runs,
        |_| remove_tree(&out),
        |_| {
            let mut c = Command::new("cp");
            c.arg("-al").arg(&files).arg(&out);
            c
        },
    );
    let untar = format!("tar -xf {} -C {}", quote(&tar), quote(&out));
    let tar_x = timed(
        WITH_PREDECESSOR,
        TAR,
        env.runs,
        |_| {
            remove_tree(&out)?;
            std::fs::create_dir(&out).at(&out)
        },
        |_| shell(&untar),
    );
    remove_tree(&out)?;
    std::fs::remove_file(&tar).at(&tar)?;
    Ok(vec![cp.row, tar_x.row])
}
