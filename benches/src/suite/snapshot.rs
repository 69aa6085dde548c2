//! Snapshot time: a cold snapshot of the build tree into an empty repository, then a snapshot of the
//! same tree after a 1 % code change into the same repository (what every deploy after the first does).
//!
//! Each run starts from a fresh repository. The repository of the last run is kept for the restore
//! scenario, so the build tree is not snapshotted again just to have something to restore.

use std::process::Command;

use crate::churn::{self, Scope};

use super::backends::{UNCOMPRESSED, WATCHING};
use super::exec::{self, disk_usage, remove_tree};
use super::results::{mib, Row};
use super::targets::{Figure, Goal, Target};
use super::{Tool, Workspace};

/// Scenario name of the cold snapshot.
pub const COLD: &str = "snapshot (cold)";
/// Scenario name of the snapshot after churn.
pub const CHURN: &str = "snapshot (after 1% churn)";

/// The goals: a cold snapshot in at most half the time of `tar | zstd` (at the default level, and
/// with compression off), a snapshot after churn at most a tenth of the cold one (walking the tree,
/// and with a watcher's journal), peak RSS under 256 MiB.
pub const TARGETS: &[Target] = &[
    Target {
        subject: Figure::wall(COLD, SLUG),
        goal: Goal::FractionOf(Figure::wall(COLD, "tar+zstd"), 0.5),
    },
    Target {
        subject: Figure::wall(COLD, UNCOMPRESSED),
        goal: Goal::FractionOf(Figure::wall(COLD, "tar+zstd"), 0.5),
    },
    Target {
        subject: Figure::wall(CHURN, SLUG),
        goal: Goal::FractionOf(Figure::wall(COLD, SLUG), 0.1),
    },
    Target {
        subject: Figure::wall(CHURN, WATCHING),
        goal: Goal::FractionOf(Figure::wall(COLD, SLUG), 0.1),
    },
    Target {
        subject: Figure {
            scenario: COLD,
            tool: SLUG,
            figure: Some(PEAK_RSS),
        },
        goal: Goal::Below(256.0, "MiB"),
    },
];

const SLUG: &str = "slugstore";

/// Figure name of a row's peak resident set, MiB.
const PEAK_RSS: &str = "peak_rss_mib";

/// Measures both snapshot scenarios for every tool that snapshots.
///
/// Runs interleave the tools (run 1 of each tool, then run 2 of each...), so that whatever the machine
/// does in the background at one moment (writeback of the tree just generated, a noisy neighbour) is
/// spread over every tool's runs instead of falling on whichever tool happens to go first.
pub fn measure(tools: &mut [Tool], ws: &Workspace, runs: u32) -> Vec<Row> {
    let mut cold: Vec<Row> = tools
        .iter()
        .map(|t| Row::new(COLD, t.backend.name()))
        .collect();
    let mut churn: Vec<Row> = tools
        .iter()
        .map(|t| Row::new(CHURN, t.backend.name()))
        .collect();
    let mut supported = vec![true; tools.len()];
    let mut active = vec![true; tools.len()];
    for run in 0..runs {
        let last = run + 1 == runs;
        for (i, tool) in tools.iter_mut().enumerate() {
            if !active[i] {
                continue;
            }
            let outcome = one_run(tool, ws, &mut cold[i], &mut churn[i], last);
            tool.backend.end_run();
            match outcome {
                // The repository holds a snapshot of the churned work copy, not of the base tree: the
                // restore scenario takes its own snapshot of the base.
                Ok(true) => tool.has_base = false,
                Ok(false) => {
                    supported[i] = false;
                    active[i] = false;
                }
                Err(e) => {
                    eprintln!("{}: snapshot failed: {e}", tool.backend.name());
                    tool.has_base = false;
                    cold[i] = cold[i].clone().failed(&e);
                    churn[i] = churn[i].clone().failed(&e);
                    active[i] = false;
                }
            }
        }
    }
    let keep = |rows: Vec<Row>| {
        rows.into_iter()
            .zip(&supported)
            .filter_map(|(r, ok)| ok.then_some(r))
            .collect::<Vec<_>>()
    };
    let mut rows = keep(cold);
    rows.extend(keep(churn));
    for row in &mut rows {
        if let Some(rss) = row.peak_rss_mib() {
            row.figures.insert(PEAK_RSS.into(), rss);
        }
    }
    rows
}

/// One run of one tool: a fresh repository, a cold snapshot of a hard-linked copy of the build tree,
/// a 1 % churn of that copy, a second snapshot. False when the tool does not snapshot.
fn one_run(
    tool: &mut Tool,
    ws: &Workspace,
    cold: &mut Row,
    churn: &mut Row,
    last: bool,
) -> slugstore::Result<bool> {
    let store = ws.store_dir(tool.backend.name());
    remove_tree(&store)?;
    tool.backend.init(&store)?;
    // The churn happens in place, as a build changes its tree: tools that keep per-path state between
    // snapshots (slugstore's stat cache, restic's parent snapshot) use it.
    let work = ws.root.join("work");
    remove_tree(&work)?;
    exec::run(Command::new("cp").arg("-al").arg(&ws.base).arg(&work))?;
    let Some(s) = tool.backend.snapshot(&work)? else {
        return Ok(false);
    };
    cold.push(s);
    if last {
        cold.figures
            .insert("store_mib".into(), mib(disk_usage(&store)?.0));
    }
    churn::churn(&work, 1.0, ws.churn_seed, Scope::Tree)?;
    let Some(s) = tool.backend.snapshot(&work)? else {
        return Ok(false);
    };
    churn.push(s);
    if last {
        let after = mib(disk_usage(&store)?.0);
        let before = cold.figures["store_mib"];
        churn
            .figures
            .insert("store_growth_mib".into(), after - before);
    }
    Ok(true)
}
