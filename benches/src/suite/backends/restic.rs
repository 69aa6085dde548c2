//! restic: a deduplicating backup tool (content-defined chunks, encrypted, compressed).

use std::path::{Path, PathBuf};
use std::process::Command;

use slugstore::{Error, Result};

use crate::suite::backend::{Backend, Restored};
use crate::suite::exec::{run, Sample};
use crate::suite::tools::Requirement;

/// A local restic repository with a fixed password and a cache beside it.
#[derive(Debug, Default)]
pub struct Restic {
    repo: PathBuf,
    snapshots: Vec<String>,
}

impl Restic {
    fn cmd(&self) -> Command {
        let mut c = Command::new("restic");
        c.arg("-r").arg(&self.repo);
        c.env("RESTIC_PASSWORD", "slug-bench");
        c.env("RESTIC_CACHE_DIR", self.repo.with_extension("cache"));
        c
    }
}

/// The `snapshot_id` of the summary line of `restic backup --json`.
fn snapshot_id(stdout: &str) -> Option<String> {
    stdout.lines().rev().find_map(|l| {
        let v: serde_json::Value = serde_json::from_str(l).ok()?;
        v.get("snapshot_id")?.as_str().map(str::to_string)
    })
}

impl Backend for Restic {
    fn name(&self) -> &'static str {
        "restic"
    }

    fn requires(&self) -> Vec<Requirement> {
        vec![Requirement::apt("restic", "restic")]
    }

    fn init(&mut self, dir: &Path) -> Result<()> {
        self.repo = dir.to_path_buf();
        self.snapshots.clear();
        run(self.cmd().arg("init")).map(drop)
    }

    fn snapshot(&mut self, tree: &Path) -> Result<Option<Sample>> {
        let done = run(self.cmd().args(["backup", "--json", "--quiet"]).arg(tree))?;
        let id = snapshot_id(&done.stdout).ok_or_else(|| {
            Error::external(format!(
                "restic backup {} printed no snapshot id",
                tree.display()
            ))
        })?;
        self.snapshots.push(id);
        Ok(Some(done.sample))
    }

    fn restore(&mut self, source: &Path, out: &Path) -> Result<Option<Restored>> {
        let id = self
            .snapshots
            .first()
            .ok_or_else(|| Error::external("restic: nothing to restore"))?;
        let done = run(self
            .cmd()
            .args(["restore", id.as_str(), "--target"])
            .arg(out))?;
        // restic recreates the absolute path of the backed-up directory below the target.
        let root = out.join(source.strip_prefix("/").unwrap_or(source));
        Ok(Some(Restored {
            sample: done.sample,
            root,
        }))
    }

    fn store(&self) -> Option<&Path> {
        Some(&self.repo)
    }
}

#[cfg(test)]
mod tests {
    use super::snapshot_id;

    #[test]
    fn finds_the_summary_snapshot_id() {
        let out = "{\"message_type\":\"status\"}\n{\"message_type\":\"summary\",\"snapshot_id\":\"5e6f\"}\n";
        assert_eq!(snapshot_id(out).as_deref(), Some("5e6f"));
        assert_eq!(snapshot_id("{\"message_type\":\"status\"}"), None);
    }
}
