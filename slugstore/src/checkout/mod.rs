//! Releases on a deploy target: checkout, atomic activation, rollback, retention.
//!
//! A deploy target holds materialized slugs side by side (`releases/<id>/`) and a `current` symlink to the
//! live one, as Capistrano-style deploys do. Checking a slug out writes a complete, read-only release
//! next to the live one (hardlinking what the previous release already has); activating it is one atomic
//! `rename(2)` of a symlink; rolling back is the same switch to an older release, re-materialized from the
//! store first if retention removed it. The store keeps every slug, so any slug ever stored can be
//! deployed or rolled back to, not only the ones still on disk.
//!
//! Every function here takes the target's lock for its whole duration, so two commands on one target
//! never interleave. A checkout registers the target with the store ([`targets`]); the store's
//! retention then keeps whatever the target's `current` points at when it runs, so activating and
//! rolling back never open the store (a switch stays a few system calls). [`register_live`] records the
//! live slug explicitly, for targets whose releases were checked out elsewhere. See [`target`] for the
//! layout and what counts as a complete release.

pub mod layout;
mod link_source;
pub mod materialize;
pub mod mounts;
pub mod recycle;
pub mod retention;
pub mod rollback;
pub mod switch;
pub mod target;
pub mod targets;
pub mod trash;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use layout::{FixedMounts, NoMounts, ReleaseLayout};
pub use materialize::{MaterializeOptions, MaterializeReport};
pub use mounts::{MountSpec, Mounts};
pub use retention::{RetentionOptions, DEFAULT_KEEP};
pub use rollback::RollbackTo;
pub use switch::{HookReport, SwitchOptions, SwitchReport};
pub use target::{Activation, State, SwitchKind, Target};

use crate::error::Result;
use crate::id::SlugId;
use crate::progress::ProgressBars;
use crate::slug::now_secs;
use crate::store::Store;

/// How to check a slug out.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct CheckoutOptions {
    /// How files are written.
    #[cfg_attr(feature = "clap", command(flatten))]
    #[serde(flatten)]
    pub materialize: MaterializeOptions,
    /// How many releases stay on disk.
    #[cfg_attr(feature = "clap", command(flatten))]
    #[serde(flatten)]
    pub retention: RetentionOptions,
}

/// What a checkout did.
#[derive(Debug, Clone, Serialize)]
pub struct CheckoutReport {
    /// The slug checked out.
    pub slug: SlugId,
    /// Its release directory.
    pub release: PathBuf,
    /// True when the release was already on disk (nothing was written).
    pub already_present: bool,
    /// The materialization, when one happened.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub materialized: Option<MaterializeReport>,
    /// Releases removed from disk by retention.
    pub pruned: Vec<SlugId>,
}

/// Materializes slug `id` as a release of the target at `target_root` (created if absent), unless it is
/// already there, then applies retention. Does not make it live: see [`activate`].
pub fn checkout(
    store: &Store,
    target_root: &Path,
    id: &SlugId,
    opts: &CheckoutOptions,
    layout: &dyn ReleaseLayout,
    bars: &dyn ProgressBars,
) -> Result<CheckoutReport> {
    let target = Target::open(target_root)?;
    let _lock = target.lock()?;
    checkout_locked(store, &target, id, opts, layout, bars)
}

fn checkout_locked(
    store: &Store,
    target: &Target,
    id: &SlugId,
    opts: &CheckoutOptions,
    layout: &dyn ReleaseLayout,
    bars: &dyn ProgressBars,
) -> Result<CheckoutReport> {
    retention::clean_leftovers(target)?;
    let already_present = target.has_release(id);
    let materialized = if already_present {
        None
    } else {
        let r = write_release(store, target, id, opts, layout, bars)?;
        let mut state = target.state()?;
        state.releases.insert(
            *id,
            target::ReleaseInfo {
                materialized: now_secs(),
                // `--no-sync`: never flushed on purpose.
                durable: opts.materialize.no_sync,
                mounts: Some(r.mounts.clone()),
            },
        );
        target.save_state(&state)?;
        Some(r)
    };
    let pruned = retention::prune(target, &opts.retention, &[*id])?;
    // Once registered, the store's retention reads the target's `current` itself, so switches need not
    // open the store.
    let mut batch = store.index().batch();
    targets::register(&mut batch, target.root(), target.current()?.unwrap_or(*id));
    batch.commit()?;
    Ok(CheckoutReport {
        slug: *id,
        release: target.release_dir(id),
        already_present,
        materialized,
        pruned,
    })
}

/// Writes the release of `id`: by changing a release that this checkout's retention is about to remove
/// into it when there is one ([`recycle`]), else as a new directory. Recycling that fails is reported in
/// [`MaterializeReport::recycle_failed`], and a new release is written instead.
fn write_release(
    store: &Store,
    target: &Target,
    id: &SlugId,
    opts: &CheckoutOptions,
    layout: &dyn ReleaseLayout,
    bars: &dyn ProgressBars,
) -> Result<MaterializeReport> {
    let m = &opts.materialize;
    let recyclable = if m.no_link || m.no_recycle {
        None
    } else {
        retention::recyclable(target, &opts.retention, id)?
    };
    let Some(old) = recyclable else {
        return materialize::materialize(store, target, id, m, layout, bars);
    };
    match recycle::recycle(store, target, &old, id, layout, bars) {
        Ok(r) => Ok(r),
        Err(e) => {
            let mut r = materialize::materialize(store, target, id, m, layout, bars)?;
            r.recycle_failed = Some(format!("{}: {e}", old.short(12)));
            Ok(r)
        }
    }
}

/// Makes the release of `id` live on the target at `target_root`. The release must be on disk (see
/// [`checkout`]).
pub fn activate(target_root: &Path, id: &SlugId, opts: &SwitchOptions) -> Result<SwitchReport> {
    let target = Target::existing(target_root)?;
    let _lock = target.lock()?;
    switch::switch_to(&target, id, SwitchKind::Activate, opts)
}

/// How to roll back.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct RollbackOptions {
    /// Where to.
    #[cfg_attr(feature = "clap", command(flatten))]
    #[serde(flatten)]
    pub to: RollbackTo,
    /// The switch.
    #[cfg_attr(feature = "clap", command(flatten))]
    #[serde(flatten)]
    pub switch: SwitchOptions,
    /// Re-materializing a pruned release.
    #[cfg_attr(feature = "clap", command(flatten))]
    #[serde(flatten)]
    pub checkout: CheckoutOptions,
}

/// What a rollback did.
#[derive(Debug, Clone, Serialize)]
pub struct RollbackReport {
    /// The switch.
    #[serde(flatten)]
    pub switch: SwitchReport,
    /// The checkout that brought a pruned release back, if one was needed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rematerialized: Option<CheckoutReport>,
}

/// Switches the target back to an earlier release, re-materializing it from the store when it is no
/// longer on disk. `open_store` is called only when the store is needed (a name the target does not know,
/// or a pruned release), so a rollback to a release on disk never waits for the store.
///
/// The store is opened before the target's lock is taken, never while it is held: a checkout holds
/// the store's lock and then takes the target's, so the other order could deadlock with it. When the
/// target, once locked, turns out to need the store, the lock is let go, the store opened, and the
/// rollback decided again under the lock.
pub fn rollback(
    target_root: &Path,
    opts: &RollbackOptions,
    open_store: &dyn Fn() -> Result<Store>,
    layout: &dyn ReleaseLayout,
    bars: &dyn ProgressBars,
) -> Result<RollbackReport> {
    let target = Target::existing(target_root)?;
    let mut store: Option<Store> = None;
    let (_lock, id) = loop {
        let lock = target.lock()?;
        let state = target.state()?;
        let id = rollback::resolve(&target, &state, &opts.to, store.as_ref())?;
        match id {
            Some(id) if store.is_some() || target.has_release(&id) => break (lock, id),
            _ => {
                drop(lock);
                store = Some(open_store()?);
            }
        }
    };
    let rematerialized = if target.has_release(&id) {
        None
    } else {
        let store = store.as_ref().expect("opened before the lock was taken");
        Some(checkout_locked(
            store,
            &target,
            &id,
            &opts.checkout,
            layout,
            bars,
        )?)
    };
    let switch = switch::switch_to(&target, &id, SwitchKind::Rollback, &opts.switch)?;
    Ok(RollbackReport {
        switch,
        rematerialized,
    })
}

/// Records in `store` that the target at `target_root` runs its current release
/// ([`targets::register`]), so that the store's retention never forgets a live slug. The switch
/// itself never waits for the store (it may be locked by a long snapshot or gc). [`checkout`] registers
/// its target already, and retention follows a registered target's `current` link; this is for targets
/// whose releases came from elsewhere. Returns the slug registered, `None` when nothing is live.
pub fn register_live(store: &Store, target_root: &Path) -> Result<Option<SlugId>> {
    let target = Target::existing(target_root)?;
    let Some(live) = target.current()? else {
        return Ok(None);
    };
    let mut batch = store.index().batch();
    targets::register(&mut batch, target.root(), live);
    batch.commit()?;
    Ok(Some(live))
}

/// Activates release `id` on the target at `target_root` ([`activate`]), then records the live slug
/// in `store` ([`register_live`]), for a caller that holds the store open anyway (a checkout that
/// activates). Once this returns `Ok` the switch is done; the second member says whether the store
/// recorded it (if not, activating again records it).
pub fn activate_and_register(
    store: &Store,
    target_root: &Path,
    id: &SlugId,
    opts: &SwitchOptions,
) -> Result<(SwitchReport, Result<()>)> {
    let switched = activate(target_root, id, opts)?;
    let registered = register_live(store, target_root).map(drop);
    Ok((switched, registered))
}

/// Resolves a slug name for the target at `target_root`: a release or past activation of the target when
/// it matches one (no store needed), else through the store `open_store` opens.
pub fn resolve_name(
    target_root: &Path,
    name: &str,
    open_store: &dyn Fn() -> Result<Store>,
) -> Result<SlugId> {
    let target = Target::existing(target_root)?;
    let state = target.state()?;
    match rollback::match_local(&target, &state, name)? {
        Some(id) => Ok(id),
        None => open_store()?.resolve(name),
    }
}

/// One release on disk.
#[derive(Debug, Clone, Serialize)]
pub struct ReleaseStatus {
    /// Its slug.
    pub slug: SlugId,
    /// Whether it is live.
    pub current: bool,
    /// Unix time it was materialized, when recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub materialized: Option<u64>,
    /// Unix time it was last made live, if ever.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_activated: Option<u64>,
}

/// The state of a target.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    /// The target directory.
    pub target: PathBuf,
    /// The live release.
    pub current: Option<SlugId>,
    /// Releases on disk, most recently used first.
    pub releases: Vec<ReleaseStatus>,
    /// Activation history, newest first.
    pub activations: Vec<Activation>,
    /// Leftovers of killed checkouts or removals (deleted by the next checkout).
    pub leftovers: Vec<PathBuf>,
}

/// Describes the target at `target_root` (read-only: takes no lock).
pub fn status(target_root: &Path) -> Result<StatusReport> {
    let target = Target::existing(target_root)?;
    let state = target.state()?;
    let current = target.current()?;
    let mut releases: Vec<ReleaseStatus> = target
        .releases()?
        .into_iter()
        .map(|slug| ReleaseStatus {
            slug,
            current: Some(slug) == current,
            materialized: state.releases.get(&slug).map(|r| r.materialized),
            last_activated: state.last_activated(&slug),
        })
        .collect();
    releases.sort_by_key(|r| {
        (
            std::cmp::Reverse(r.last_activated.max(r.materialized)),
            r.slug,
        )
    });
    let mut activations = state.activations;
    activations.reverse();
    Ok(StatusReport {
        target: target.root().to_path_buf(),
        current,
        releases,
        activations,
        leftovers: target.leftovers()?,
    })
}
