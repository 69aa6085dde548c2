//! Phase 2: the build directory and `hooks.build`.
//!
//! The build must be able to write anywhere in its tree without touching the source, and must see
//! exactly the tree its build key names. Both come from restoring the source slug (the snapshot the key
//! was computed from, without `.git` and the mounts) into a fresh directory: every file is a new, private
//! copy (never a hardlink into the source or the store), and a file edited in the source after the key
//! was computed cannot slip into the build.
//!
//! Mounts do not exist during the build (as on the platform): their paths start as empty directories,
//! which the build may fill (static assets in `pub/static`); [`super::init`] then moves that content
//! to `init/`.
//!
//! The directory is `TARGET/build`, the same path every time, so a failed build can be inspected there
//! until the next deploy replaces it.

use std::fs;
use std::path::{Path, PathBuf};

use crate::config::Project;
use crate::deploy::platform::{Mode, Platform};
use crate::deploy::shell::{self, Hook};
use crate::error::{IoResultExt, Result};
use crate::status::{Phase, Recorder};
use slugstore::checkout::retention::remove_tree;
use slugstore::id::SlugId;
use slugstore::progress::ProgressBars;
use slugstore::restore::{restore, RestoreOptions};
use slugstore::slug::normalize_rel;
use slugstore::store::Store;

/// Name of the build directory under the target.
pub const BUILD_DIR: &str = "build";

/// The build directory of the target at `target_root`.
pub fn build_dir(target_root: &Path) -> PathBuf {
    target_root.join(BUILD_DIR)
}

/// Replaces `dir` with a fresh copy of source tree `tree`, with an empty directory at each mount path.
pub fn prepare(
    store: &Store,
    tree: &SlugId,
    project: &Project,
    dir: &Path,
    bars: &dyn ProgressBars,
) -> Result<()> {
    if fs::symlink_metadata(dir).is_ok() {
        remove_tree(dir)?;
    }
    restore(store, tree, dir, &RestoreOptions::default(), bars)?;
    for m in &project.app.mounts {
        let path = dir.join(normalize_rel(&m.path)?);
        fs::create_dir_all(&path).at(&path)?;
    }
    Ok(())
}

/// Runs `hooks.build` (if any) in `dir`, its output recorded under the build phase.
pub fn run_hook(
    project: &Project,
    platform: &Platform,
    tree_id: &str,
    dir: &Path,
    rec: &Recorder<'_>,
) -> Result<()> {
    let Some(script) = project.app.hooks.build.as_deref() else {
        return rec.line(Phase::Build, "no build hook");
    };
    let env = platform.hook_env(tree_id, dir, Mode::Build);
    let hook = Hook {
        name: "hooks.build",
        script,
        cwd: dir,
        env: &env,
    };
    shell::run(&hook, Phase::Build, rec)
}
