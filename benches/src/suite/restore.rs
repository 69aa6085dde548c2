//! Restore time: materialise the build tree's snapshot into a new directory, as a deploy does.
//!
//! Each tool restores in its natural way: slugstore and tar write files, OSTree checks out with hard
//! links, restic writes files below the target, `cp -al` hard-links the source tree (the floor). The
//! restored tree's file count and size are recorded so a partial restore cannot pass for a fast one.

use super::exec::{remove_tree, Sample};
use super::results::{mib, Row};
use super::{Tool, Workspace};
use crate::walk::stats;

/// Scenario name.
pub const RESTORE: &str = "restore";

/// Measures restores for every tool that restores.
pub fn measure(tools: &mut [Tool], ws: &Workspace, runs: u32) -> Vec<Row> {
    let mut rows = Vec::new();
    for tool in tools.iter_mut().filter(|t| !t.backend.snapshot_only()) {
        let name = tool.backend.name();
        let mut row = Row::new(RESTORE, name);
        let out = ws.root.join("restored");
        let result = (|| -> slugstore::Result<bool> {
            if !tool.has_base {
                let store = ws.store_dir(name);
                remove_tree(&store)?;
                tool.backend.init(&store)?;
                tool.backend.snapshot(&ws.base)?;
                tool.has_base = true;
            }
            for run in 0..runs {
                remove_tree(&out)?;
                let Some(r) = tool.backend.restore(&ws.base, &out)? else {
                    return Ok(false);
                };
                row.push(r.sample);
                if run + 1 == runs {
                    let s = stats(&r.root, &[])?;
                    row.figures.insert("restored_files".into(), s.files as f64);
                    row.figures.insert("restored_mib".into(), mib(s.bytes));
                }
            }
            remove_tree(&out)?;
            Ok(true)
        })();
        match result {
            Ok(true) => rows.push(row),
            Ok(false) => {}
            Err(e) => {
                eprintln!("{name}: restore failed: {e}");
                let _ = remove_tree(&out);
                rows.push(row.failed(e));
            }
        }
    }
    rows
}

/// Sum of wall seconds of `samples`.
pub fn total_wall(samples: &[Sample]) -> f64 {
    samples.iter().map(|s| s.wall_s).sum()
}
