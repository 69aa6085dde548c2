//! `cp -al`: the cheapest possible "restore", a hard-linked copy of the build tree. It keeps no
//! store and takes no snapshot; it is the floor a restore from a store can be compared with.

use std::path::Path;
use std::process::Command;

use slugstore::Result;

use crate::suite::backend::{Backend, Restored};
use crate::suite::exec::{run, Sample};
use crate::suite::tools::Requirement;

/// Hard-linked copies of the source tree.
#[derive(Debug, Default)]
pub struct CpLink;

impl Backend for CpLink {
    fn name(&self) -> &'static str {
        "cp -al"
    }

    fn requires(&self) -> Vec<Requirement> {
        vec![Requirement::apt("cp", "coreutils")]
    }

    fn init(&mut self, _dir: &Path) -> Result<()> {
        Ok(())
    }

    fn snapshot(&mut self, _tree: &Path) -> Result<Option<Sample>> {
        Ok(None)
    }

    fn restore(&mut self, source: &Path, out: &Path) -> Result<Option<Restored>> {
        let done = run(Command::new("cp").arg("-al").arg(source).arg(out))?;
        Ok(Some(Restored {
            sample: done.sample,
            root: out.to_path_buf(),
        }))
    }

    fn store(&self) -> Option<&Path> {
        None
    }
}
