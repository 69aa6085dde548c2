//! Diff of two builds: `slug diff` of the build tree's slug and the slug after a 1 % churn, against
//! `diff -rq` of the two trees checked out, which is what one runs without slugstore.
//!
//! Both slugs go into a store of this scenario's own, and each is restored once, outside the clock,
//! to give `diff -rq` the same two trees `slug diff` compares (mounts left out). `slug diff` reads two
//! manifests; `diff -rq --no-dereference` walks both trees and reads every file whose size matches.
//! Each row records how many lines the tool printed (`slug diff` lists every path of a removed
//! directory, `diff -rq` only the directory). Skipped when the `slug` binary has no `diff` command.

use slugstore::Result;

use super::backends::slug_command;
use super::exec::{quote, remove_tree, run, shell};
use super::results::Row;
use super::targets::{Figure, Goal, Target};
use super::timing::{short_runs, timed, Timed};
use super::two_builds::{slug_with, two_builds, TwoBuilds};
use super::Env;

/// Scenario name.
pub const DIFF: &str = "diff (1% churn)";
/// slugstore.
pub const SLUG: &str = "slugstore";
/// `diff -rq` of two checkouts.
pub const DIFF_RQ: &str = "diff -rq";

/// The goal of the issue: `slug diff` of two full-size slugs under 0.2 s, end to end.
pub const TARGETS: &[Target] = &[Target {
    subject: Figure::wall(DIFF, SLUG),
    goal: Goal::Below(0.2, "s"),
}];

/// Measures `slug diff A B` and `diff -rq` of checkouts of A and B.
pub fn measure(env: &Env, skipped: &mut Vec<String>) -> Result<Vec<Row>> {
    let Some(bin) = slug_with(env, "diff", "diff", skipped) else {
        return Ok(Vec::new());
    };
    let root = env.ws.root.join("diff");
    let TwoBuilds {
        store,
        first: old,
        next: new,
    } = two_builds(env, bin, &root)?;
    let (old, new) = (old.as_str(), new.as_str());
    let (old_tree, new_tree) = (root.join("old"), root.join("new"));
    for (id, dir) in [(old, &old_tree), (new, &new_tree)] {
        run(slug_command(bin, &store).arg("restore").arg(id).arg(dir))?;
    }

    let mut slug = timed(
        DIFF,
        SLUG,
        short_runs(env.runs),
        |_| Ok(()),
        |_| {
            let mut c = slug_command(bin, &store);
            c.args(["--quiet", "diff", old, new]);
            c
        },
    );
    // `diff` exits with 1 when the trees differ, as they do here; 2 is trouble.
    let script = format!(
        "diff -rq --no-dereference {} {}; test $? -le 1",
        quote(&old_tree),
        quote(&new_tree)
    );
    let mut peer = timed(DIFF, DIFF_RQ, env.runs, |_| Ok(()), |_| shell(&script));
    for t in [&mut slug, &mut peer] {
        lines_printed(t);
    }
    remove_tree(&root)?;
    Ok(vec![slug.row, peer.row])
}

/// Records how many lines the last run printed.
fn lines_printed(t: &mut Timed) {
    if let Some(out) = t.stdout.last() {
        let n = out.lines().count();
        t.figure("lines", n as f64);
    }
}
