//! Snapshot time: a cold snapshot of the build tree into an empty repository, then a snapshot of the
//! same tree after a 1 % code change into the same repository (what every deploy after the first does).
//!
//! Each run starts from a fresh repository. The repository of the last run is kept for the restore
//! scenario, so the build tree is not snapshotted again just to have something to restore.

use std::process::Command;

use crate::churn::{self, Scope};

use super::exec::{self, disk_usage, remove_tree};
use super::results::{mib, Row};
use super::{Tool, Workspace};

/// Scenario name of the cold snapshot.
pub const COLD: &str = "snapshot (cold)";
/// Scenario name of the snapshot after churn.
pub const CHURN: &str = "snapshot (after 1% churn)";

/// Measures both snapshot scenarios for every tool that snapshots.
pub fn measure(tools: &mut [Tool], ws: &Workspace, runs: u32) -> Vec<Row> {
    let mut cold_rows = Vec::new();
    let mut churn_rows = Vec::new();
    for tool in tools.iter_mut() {
        let name = tool.backend.name();
        let mut cold = Row::new(COLD, name);
        let mut churn = Row::new(CHURN, name);
        let store = ws.store_dir(name);
        let mut supported = true;
        for run in 0..runs {
            let last = run + 1 == runs;
            let step = (|| -> slugstore::Result<bool> {
                remove_tree(&store)?;
                tool.backend.init(&store)?;
                // The churn happens in place, as a build changes its tree: tools that keep per-path
                // state between snapshots (slugstore's stat cache, restic's parent snapshot) use it.
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
            })();
            match step {
                // The repository holds a snapshot of the churned work copy, not of the base tree: the
                // restore scenario takes its own snapshot of the base.
                Ok(true) => tool.has_base = false,
                Ok(false) => {
                    supported = false;
                    break;
                }
                Err(e) => {
                    eprintln!("{name}: snapshot failed: {e}");
                    tool.has_base = false;
                    cold = cold.failed(&e);
                    churn = churn.failed(&e);
                    break;
                }
            }
        }
        if supported {
            cold_rows.push(cold);
            churn_rows.push(churn);
        }
    }
    cold_rows.extend(churn_rows);
    cold_rows
}
