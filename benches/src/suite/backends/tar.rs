//! The baseline: one `tar | zstd -3 -T2` archive per build, no deduplication across builds.

use std::fs;
use std::path::{Path, PathBuf};

use slugstore::error::IoResultExt;
use slugstore::{Error, Result};

use crate::suite::backend::{Backend, Restored};
use crate::suite::exec::{quote, run, shell, Sample};
use crate::suite::tools::Requirement;

/// A directory of `.tar.zst` archives.
#[derive(Debug, Default)]
pub struct TarZstd {
    dir: PathBuf,
    archives: Vec<PathBuf>,
}

impl Backend for TarZstd {
    fn name(&self) -> &'static str {
        "tar+zstd"
    }

    fn requires(&self) -> Vec<Requirement> {
        vec![
            Requirement::apt("tar", "tar"),
            Requirement::apt("zstd", "zstd"),
            Requirement::apt("bash", "bash"),
        ]
    }

    fn init(&mut self, dir: &Path) -> Result<()> {
        self.dir = dir.to_path_buf();
        self.archives.clear();
        fs::create_dir_all(dir).at(dir)
    }

    fn snapshot(&mut self, tree: &Path) -> Result<Option<Sample>> {
        let archive = self
            .dir
            .join(format!("build-{}.tar.zst", self.archives.len()));
        let script = format!(
            "tar -cf - -C {} . | zstd -3 -T2 -q -o {}",
            quote(tree),
            quote(&archive)
        );
        let done = run(&mut shell(&script))?;
        self.archives.push(archive);
        Ok(Some(done.sample))
    }

    fn restore(&mut self, _source: &Path, out: &Path) -> Result<Option<Restored>> {
        let archive = self
            .archives
            .first()
            .ok_or_else(|| Error::external("tar+zstd: nothing to restore"))?;
        fs::create_dir_all(out).at(out)?;
        let script = format!(
            "zstd -dc -q {} | tar -xf - -C {}",
            quote(archive),
            quote(out)
        );
        let done = run(&mut shell(&script))?;
        Ok(Some(Restored {
            sample: done.sample,
            root: out.to_path_buf(),
        }))
    }

    fn store(&self) -> Option<&Path> {
        Some(&self.dir)
    }
}
