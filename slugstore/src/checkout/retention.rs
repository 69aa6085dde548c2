//! Retention: how many releases stay materialized, and removing the others safely.
//!
//! Only the directories go; the slugs stay in the store, so a pruned release can be checked out (or rolled
//! back to) again at any time. The live release is never removed, whatever the count.
//!
//! Releases are read-only down to their directories, so removal first renames the release out of the
//! namespace (`releases/.trash-*`: from that instant it is no longer a release), then deletes it with
//! [`remove_tree`], which makes its directories writable as it goes. A removal killed half-way leaves
//! only a `.trash-*` directory, which the next command on the target finishes deleting.
//!
//! Deleting a large release takes seconds, and a deploy that removes one on every run would spend
//! them between materializing the new release and making it live. With [`RetentionOptions::defer`]
//! retention only renames; the trash is deleted later by [`empty_trash`] (`slug deploy` runs it in a
//! detached background process once the new release is live) or by the next command on the target.
//! See [`super::trash`] for how those deleters keep out of each other's way.

use serde::{Deserialize, Serialize};

use crate::checkout::target::{State, Target};
use crate::checkout::trash::{delete_unless_locked, trash_release};
use crate::error::Result;
use crate::id::SlugId;

pub use crate::checkout::trash::empty_trash;
pub use crate::fsutil::remove_tree;

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
    /// Only rename the releases to remove to `releases/.trash-*`, leaving their deletion to
    /// [`empty_trash`] or to the next command on the target. Set by front-ends that delete the trash
    /// in the background; never a command-line flag of its own.
    #[cfg_attr(feature = "clap", arg(skip))]
    #[serde(default)]
    pub defer: bool,
}

impl Default for RetentionOptions {
    fn default() -> Self {
        RetentionOptions {
            keep: DEFAULT_KEEP,
            defer: false,
        }
    }
}

/// Applies retention: keeps `opts.keep` releases (the live one and those in `protect` always count as
/// kept), most recently activated or materialized first, and removes the rest (only renames them to
/// trash with `opts.defer`). Call with the lock held. Returns the removed slugs.
pub fn prune(target: &Target, opts: &RetentionOptions, protect: &[SlugId]) -> Result<Vec<SlugId>> {
    clean_leftovers(target)?;
    let mut state = target.state()?;
    let removed = removals(target, &state, opts.keep, protect, 0)?;
    for id in &removed {
        let trash = trash_release(target, id)?;
        if !opts.defer {
            delete_unless_locked(&trash)?;
        }
        state.releases.remove(id);
    }
    if !removed.is_empty() {
        target.save_state(&state)?;
    }
    Ok(removed)
}

/// The release a checkout of `id` (not on disk yet) can be made from instead of writing a new one:
/// the most recently used of those its retention removes once `id` is on disk (see
/// [`super::recycle`]). Never the live release, nor one retention keeps.
pub(super) fn recyclable(
    target: &Target,
    opts: &RetentionOptions,
    id: &SlugId,
) -> Result<Option<SlugId>> {
    let state = target.state()?;
    let doomed = removals(target, &state, opts.keep, &[*id], 1)?;
    Ok(doomed.into_iter().next())
}

/// The releases on disk that keeping `keep` removes, most recently used first: the live one and those
/// in `protect` always count as kept, and so do `also_kept` releases not on disk yet.
fn removals(
    target: &Target,
    state: &State,
    keep: usize,
    protect: &[SlugId],
    also_kept: usize,
) -> Result<Vec<SlugId>> {
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
    let mut kept = on_disk.iter().filter(|id| pinned(id)).count() + also_kept;
    let mut removed = Vec::new();
    for id in on_disk.iter().filter(|id| !pinned(id)) {
        if kept < keep {
            kept += 1;
        } else {
            removed.push(*id);
        }
    }
    Ok(removed)
}

/// Removes the release of `id` from disk (its slug stays in the store). Call with the lock held.
pub fn remove_release(target: &Target, id: &SlugId) -> Result<()> {
    let trash = trash_release(target, id)?;
    delete_unless_locked(&trash).map(drop)
}

/// Deletes what killed checkouts and removals left under `releases/`, except trash another process is
/// deleting right now (see [`super::trash`]). Call with the lock held: then no living process owns
/// any checkout in progress.
pub fn clean_leftovers(target: &Target) -> Result<()> {
    for p in target.leftovers()? {
        delete_unless_locked(&p)?;
    }
    Ok(())
}
