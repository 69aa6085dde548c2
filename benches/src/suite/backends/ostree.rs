//! OSTree: a content-addressed object store of files, checked out with hard links.

use std::path::{Path, PathBuf};
use std::process::Command;

use slugstore::{Error, Result};

use crate::suite::backend::{Backend, Restored};
use crate::suite::exec::{run, Sample};
use crate::suite::tools::Requirement;

/// A `bare-user` repository (usable without root), one commit per build on branch `slug-bench`.
#[derive(Debug, Default)]
pub struct Ostree {
    repo: PathBuf,
    commits: Vec<String>,
}

impl Ostree {
    fn cmd(&self) -> Command {
        let mut c = Command::new("ostree");
        c.arg(format!("--repo={}", self.repo.display()));
        c
    }
}

impl Backend for Ostree {
    fn name(&self) -> &'static str {
        "ostree"
    }

    fn requires(&self) -> Vec<Requirement> {
        vec![Requirement::apt("ostree", "ostree")]
    }

    fn init(&mut self, dir: &Path) -> Result<()> {
        self.repo = dir.to_path_buf();
        self.commits.clear();
        run(self.cmd().args(["init", "--mode=bare-user"])).map(drop)
    }

    fn snapshot(&mut self, tree: &Path) -> Result<Option<Sample>> {
        let done = run(self
            .cmd()
            .args(["commit", "--branch=slug-bench"])
            .arg(format!("--tree=dir={}", tree.display())))?;
        self.commits.push(done.stdout.trim().to_string());
        Ok(Some(done.sample))
    }

    fn restore(&mut self, _source: &Path, out: &Path) -> Result<Option<Restored>> {
        let commit = self
            .commits
            .first()
            .ok_or_else(|| Error::external("ostree: nothing to restore"))?;
        let done = run(self.cmd().args(["checkout", "-U"]).arg(commit).arg(out))?;
        Ok(Some(Restored {
            sample: done.sample,
            root: out.to_path_buf(),
        }))
    }

    fn store(&self) -> Option<&Path> {
        Some(&self.repo)
    }
}
