//! Retention: how many releases stay materialized, and removing the others safely.
//!
//! Only the directories go; the slugs stay in the store, so a pruned release can be checked out (or rolled
//! back to) again at any time. The live release is never removed, whatever the count.
//!
//! Releases are read-only down to their directories, so removal first renames the release out of the
//! namespace (`releases/.trash-*`: from that instant it is no longer a release), then makes its
//! directories writable again and deletes it. A removal killed half-way leaves only a `.trash-*` directory,
//! which the next command on the target finishes deleting.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::checkout::target::{Target, TRASH_PREFIX};
use crate::error::{IoResultExt, Result};
use crate::fsutil;
use crate::id::SlugId;

/// Releases kept on disk when no count is given.
pub const DEFAULT_KEEP: usize = 5;

/// How many releases to keep.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct RetentionOptions {
    /// Keep this many releases materialized on disk (the live one always stays); older release
    /// directories are removed, their slugs stay in the store.
    #[cfg_attr(feature = "clap", arg(long, value_name = "N", default_value_t = DEFAULT_KEEP))]
    pub keep: usize,
}

impl Default for RetentionOptions {
    fn default() -> Self {
        RetentionOptions { keep: DEFAULT_KEEP }
    }
}

/// Applies retention: keeps `opts.keep` releases (the live one and those in `protect` always count as
/// kept), most recently activated or materialized first, and removes the rest. Call with the lock held.
/// Returns the removed slugs.
pub fn prune(target: &Target, opts: &RetentionOptions, protect: &[SlugId]) -> Result<Vec<SlugId>> {
    clean_leftovers(target)?;
    let mut state = target.state()?;
    let current = target.current()?;
    let mut on_disk = target.releases()?;
    // Most recently used first: the later of last activation and materialization.
    on_disk.sort_by_key(|id| {
        let used = state
            .last_activated(id)
            .max(state.releases.get(id).map(|r| r.materialized))
            .unwrap_or(0);
        (std::cmp::Reverse(used), *id)
    });
    let pinned = |id: &SlugId| Some(*id) == current || protect.contains(id);
    let mut kept = on_disk.iter().filter(|id| pinned(id)).count();
    let mut removed = Vec::new();
    for id in on_disk.iter().filter(|id| !pinned(id)) {
        if kept < opts.keep {
            kept += 1;
            continue;
        }
        remove_release(target, id)?;
        state.releases.remove(id);
        removed.push(*id);
    }
    if !removed.is_empty() {
        target.save_state(&state)?;
    }
    Ok(removed)
}

/// Removes the release of `id` from disk (its slug stays in the store).
pub fn remove_release(target: &Target, id: &SlugId) -> Result<()> {
    let dir = target.release_dir(id);
    let trash = target.releases_dir().join(format!(
        "{TRASH_PREFIX}{}",
        fsutil::temp_name(&id.short(16)).trim_start_matches('.')
    ));
    fs::rename(&dir, &trash).at(&dir)?;
    fsutil::sync_dir(&target.releases_dir())?;
    remove_tree(&trash)
}

/// Deletes what killed checkouts and removals left under `releases/`. Call with the lock held: then no
/// living process owns any of it.
pub fn clean_leftovers(target: &Target) -> Result<()> {
    for p in target.leftovers()? {
        remove_tree(&p)?;
    }
    Ok(())
}

/// Deletes a directory tree whose directories may be read-only. Symlinks are removed, never followed.
pub fn remove_tree(root: &Path) -> Result<()> {
    make_writable(root)?;
    fs::remove_dir_all(root).at(root)
}

fn make_writable(dir: &Path) -> Result<()> {
    let meta = fs::symlink_metadata(dir).at(dir)?;
    if !meta.is_dir() {
        return Ok(());
    }
    if meta.permissions().mode() & 0o700 != 0o700 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).at(dir)?;
    }
    for e in fs::read_dir(dir).at(dir)? {
        let e = e.at(dir)?;
        if e.file_type().at(e.path())?.is_dir() {
            make_writable(&e.path())?;
        }
    }
    Ok(())
}
