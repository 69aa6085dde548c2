//! The persistent build directory: brought to exactly the new source tree, writing only what differs.
//!
//! A build must start from exactly the tree its key names, with nothing of an earlier build in it
//! (a file an old hook generated could change what the new hook does). Restoring the whole tree
//! into a fresh directory gives that, but rewrites every file, and new inodes make the slug phase
//! rehash every file the stat cache knew. So `TARGET/build` is kept between deploys and *synced*:
//!
//! 1. The build's mount content that [`super::init`] moved to `init/` goes back to its path, so the
//!    outputs of cached steps under a mount (`pub/static`) are where their steps left them.
//! 2. The static assets' `.gz` files are stashed ([`slugstore::compress::reuse`]) for the static
//!    compression after the hook to take back (a cached step restoring `pub/static` would delete
//!    them, and writing a thousand files again cost more than the rest of the build). Then the
//!    outputs of the last build's cached steps are parked outside the directory
//!    ([`slugstore::cache::keep`]); a hit of the new build claims them back, in place and equal.
//! 3. The directory is compared with the source tree through the stat cache and only the paths that
//!    differ are written or removed ([`slugstore::cache::restore::sync_dir`]): an unchanged file
//!    keeps its inode, every file the source lacks (earlier hooks' output included) is removed. The
//!    stat-cache entries of what is away (the parked outputs, `init/`) are kept, so the slug phase
//!    knows those files again when they are back, same inodes, after the hook.
//!
//! Crash safety: `TARGET/build.synced` records the source tree the directory was synced to. It is
//! removed before the directory is touched and written (atomically) only once the sync completed, so
//! a deploy killed mid-sync leaves no record, and the next deploy does not trust the directory: it
//! deletes it (with the parked outputs) and restores the tree in full, as a first build does.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::Project;
use crate::deploy::init;
use crate::error::{IoResultExt, Result};
use slugstore::cache::keep;
use slugstore::cache::restore::sync_dir;
use slugstore::checkout::retention::remove_tree;
use slugstore::compress::reuse;
use slugstore::id::SlugId;
use slugstore::progress::ProgressBars;
use slugstore::restore::{restore, RestoreOptions};
use slugstore::slug::normalize_rel;
use slugstore::store::Store;

/// Name of the build directory under the target.
pub const BUILD_DIR: &str = "build";
/// Name of the record of a complete sync under the target.
pub const SYNCED: &str = "build.synced";
/// Name of the keep area (parked outputs of cached steps) under the target.
pub const KEEP_DIR: &str = "build.keep";
/// Name of the directory kept between builds for the hooks (`PLATFORM_CACHE_DIR`).
pub const CACHE_DIR: &str = "cache";
/// Name of the stash of the last build's `.gz` files under the target.
pub const GZ_STASH: &str = "build.gz";

/// The paths of a target's build.
#[derive(Debug, Clone)]
pub struct BuildPaths {
    /// The build directory.
    pub dir: PathBuf,
    /// The record of its last complete sync.
    pub synced: PathBuf,
    /// The keep area handed to `slug cache run`.
    pub keep: PathBuf,
    /// The hooks' cache directory.
    pub cache: PathBuf,
    /// Where the last build's `.gz` files wait for the static compression
    /// ([`slugstore::compress::reuse`]).
    pub gz_stash: PathBuf,
}

impl BuildPaths {
    /// The build paths of the target at `target_root`.
    pub fn of(target_root: &Path) -> BuildPaths {
        BuildPaths {
            dir: target_root.join(BUILD_DIR),
            synced: target_root.join(SYNCED),
            keep: target_root.join(KEEP_DIR),
            cache: target_root.join(CACHE_DIR),
            gz_stash: target_root.join(GZ_STASH),
        }
    }
}

/// What `build.synced` holds.
#[derive(Debug, Serialize, Deserialize)]
struct Synced {
    /// The source tree the directory was brought to.
    source: SlugId,
}

/// How the build directory was prepared.
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    /// The source tree of the last complete sync, when the directory was synced from it (`None`:
    /// restored in full).
    pub from: Option<SlugId>,
    /// Files written.
    pub written: u64,
    /// Files left in place.
    pub kept: u64,
    /// Paths removed.
    pub removed: u64,
    /// Outputs of the last build's cached steps parked for this one.
    pub parked: Vec<String>,
}

/// Brings the build directory to exactly source tree `tree`, with an empty directory at each mount
/// path, writing only what differs when the last sync is known to have completed.
pub fn prepare(
    store: &Store,
    tree: &SlugId,
    project: &Project,
    paths: &BuildPaths,
    bars: &dyn ProgressBars,
) -> Result<Prepared> {
    let last = read_synced(&paths.synced);
    remove_record(&paths.synced)?;
    let dir = &paths.dir;
    let mut done = match last {
        Some(from) if dir.is_dir() => {
            init::move_back(dir)?;
            // Before the outputs are parked: a cached step restoring `pub/static` removes them.
            reuse::stash(&dir.join(init::STATIC_DIR), &paths.gz_stash)?;
            let parked = keep::park(&paths.keep, dir)?;
            // The parked outputs come back when their steps hit, and `init/` is made again after
            // the hook from the same files: their stat-cache entries must outlive this scan, or
            // the slug phase reads every one of those files again.
            let mut away = parked.clone();
            away.push(init::INIT_DIR.to_owned());
            let r = sync_dir(store, &store.manifest(tree)?, dir, &away)?;
            Prepared {
                from: Some(from),
                written: r.written,
                kept: r.kept,
                removed: r.removed,
                parked,
            }
        }
        _ => {
            for stale in [dir, &paths.keep, &paths.gz_stash] {
                if fs::symlink_metadata(stale).is_ok() {
                    remove_tree(stale)?;
                }
            }
            let r = restore(store, tree, dir, &RestoreOptions::default(), bars)?;
            Prepared {
                written: r.tree.files,
                ..Prepared::default()
            }
        }
    };
    for m in &project.app.mounts {
        let path = dir.join(normalize_rel(&m.path)?);
        fs::create_dir_all(&path).at(&path)?;
    }
    fs::create_dir_all(&paths.cache).at(&paths.cache)?;
    let text = serde_json::to_vec(&Synced { source: *tree }).expect("serializes");
    slugstore::fsutil::write_atomic(&paths.synced, &text)?;
    done.parked.sort();
    Ok(done)
}

/// The source tree of the last complete sync; `None` when there is no record or it is unreadable
/// (then nothing about the directory is trusted).
fn read_synced(path: &Path) -> Option<SlugId> {
    let bytes = fs::read(path).ok()?;
    serde_json::from_slice::<Synced>(&bytes)
        .ok()
        .map(|s| s.source)
}

/// Removes the sync record durably, before the directory changes.
fn remove_record(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(slugstore::fsutil::sync_dir(
            path.parent().expect("under the target"),
        )?),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).at(path),
    }
}
