//! Storage cost over time: the repository size after N builds, each a 1 % code change from the one
//! before (a chain, as successive deploys are), with every build kept.
//!
//! The chained tree is a hard-linked copy of the build tree, churned in place build after build; churn
//! replaces files by rename, so the original tree is never touched. Each tool snapshots every build.

use std::process::Command;

use super::exec::{disk_usage, remove_tree, run};
use super::restore::total_wall;
use super::results::{mib, Row};
use super::{Tool, Workspace};
use crate::churn::{churn, Scope};
use crate::rng::derive;

/// Scenario name.
pub const STORE_SIZE: &str = "store size";

/// Snapshots `builds` chained builds with every tool and records the repository sizes.
pub fn measure(
    tools: &mut [Tool],
    ws: &Workspace,
    builds: u32,
    seed: u64,
) -> slugstore::Result<Vec<Row>> {
    let chain = ws.root.join("chain");
    remove_tree(&chain)?;
    run(Command::new("cp").arg("-al").arg(&ws.base).arg(&chain))?;
    let mut rows: Vec<Option<Row>> = Vec::new();
    for tool in tools.iter_mut() {
        if tool.backend.snapshot_only() {
            rows.push(None);
            continue;
        }
        let name = tool.backend.name();
        let store = ws.store_dir(&format!("{name}-chain"));
        let row = Row::new(STORE_SIZE, name);
        let started = remove_tree(&store).and_then(|()| tool.backend.init(&store));
        rows.push(match started {
            Ok(()) => Some(row),
            Err(e) => Some(row.failed(e)),
        });
    }
    for build in 0..builds {
        if build > 0 {
            churn(
                &chain,
                1.0,
                derive(seed, 0xc4a1_0000 + u64::from(build)),
                Scope::Tree,
            )?;
        }
        for (tool, slot) in tools.iter_mut().zip(rows.iter_mut()) {
            let Some(row) = slot.as_mut() else { continue };
            if row.outcome != super::results::Status::Ok {
                continue;
            }
            match tool.backend.snapshot(&chain) {
                Ok(Some(s)) => row.push(s),
                Ok(None) => *slot = None,
                Err(e) => {
                    eprintln!(
                        "{}: snapshot of build {build} failed: {e}",
                        tool.backend.name()
                    );
                    *slot = Some(row.clone().failed(e));
                }
            }
        }
    }
    let mut out = Vec::new();
    for (tool, row) in tools.iter().zip(rows) {
        let Some(mut row) = row else { continue };
        if let Some(store) = tool.backend.store() {
            match disk_usage(store) {
                Ok((apparent, allocated)) => {
                    row.figures.insert("store_mib".into(), mib(apparent));
                    row.figures.insert("allocated_mib".into(), mib(allocated));
                }
                Err(e) => row = row.failed(e),
            }
            let _ = remove_tree(store);
        }
        row.figures.insert("builds".into(), f64::from(builds));
        row.figures
            .insert("total_snapshot_s".into(), total_wall(&row.samples));
        out.push(row);
    }
    remove_tree(&chain)?;
    Ok(out)
}
