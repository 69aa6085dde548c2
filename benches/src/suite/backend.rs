//! What the suite can ask of a tool: make a repository, snapshot a tree into it, restore from it.
//!
//! Scenarios ([`super::snapshot`], [`super::restore`], [`super::store_size`]) are written once against
//! this trait; a new tool is one more implementation. The scenarios that pit one slugstore command
//! against the shell commands it replaces ([`super::static_gzip`], [`super::push_pull`],
//! [`super::checkout`]) have contenders of their own and are written with [`super::timing`] instead.

use std::path::{Path, PathBuf};

use slugstore::Result;

use super::exec::Sample;
use super::tools::Requirement;

/// A restore that finished: where the tree landed (some tools nest it below the target) and its figures.
#[derive(Debug, Clone)]
pub struct Restored {
    /// The measured run.
    pub sample: Sample,
    /// The directory holding the restored tree.
    pub root: PathBuf,
}

/// One tool under measurement.
pub trait Backend {
    /// Name shown in tables (`slugstore`, `tar+zstd`, ...).
    fn name(&self) -> &'static str;

    /// Programs the tool needs.
    fn requires(&self) -> Vec<Requirement>;

    /// Makes a fresh, empty repository in `dir` (which does not exist yet). Not timed.
    fn init(&mut self, dir: &Path) -> Result<()>;

    /// Snapshots `tree` into the repository; `None` when the tool does not snapshot.
    fn snapshot(&mut self, tree: &Path) -> Result<Option<Sample>>;

    /// Restores the first snapshot since [`Backend::init`] (whose source was `source`) into `out`,
    /// which does not exist yet; `None` when the tool does not restore.
    fn restore(&mut self, source: &Path, out: &Path) -> Result<Option<Restored>>;

    /// The directory whose size is the tool's storage cost, if it keeps one.
    fn store(&self) -> Option<&Path>;

    /// Called when a run of the snapshot scenario is over (its tree is about to go): a tool with a
    /// process of its own beside the tree stops it.
    fn end_run(&mut self) {}

    /// True for a variant measured in the snapshot scenario alone (its restores and storage are
    /// another row's).
    fn snapshot_only(&self) -> bool {
        false
    }
}
