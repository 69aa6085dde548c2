//! Repair: replace damaged or missing objects with good copies fetched from remotes.
//!
//! [`verify`](super::verify) names what is damaged; [`repair`] fetches each such object from the first
//! remote that has it (decoded and hashed before it is stored, as in every pull), copies the objects of
//! every damaged pack that still verify into new packs, and commits all the new locations in one index
//! batch. Only then are the damaged packs deleted. A kill at any moment leaves a store no worse than
//! before: until the commit the index names the old copies and the new packs are orphans (gc removes
//! them); after it the damaged packs are the orphans.
//!
//! A damaged pack is kept while it holds an object that is still damaged (no remote had it), so the
//! store never loses bytes that a later repair, or a person, could still use.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::fsutil;
use crate::gc::repack::move_verified;
use crate::id::ObjectId;
use crate::progress::ProgressBars;
use crate::remote::backend::Backend;
use crate::remote::catalog::Catalog;
use crate::remote::fetch::Fetcher;
use crate::remote::layout::{IdxEntry, PackIdx};
use crate::store::pack::pack_path;
use crate::store::Store;

use super::VerifyReport;

/// Repairs from the remotes called `from`, tried in that order (every configured remote, in name
/// order, when `from` is empty): [`repair`] with each remote opened by
/// [`remote::open_all`](crate::remote::open_all).
pub fn repair_from(
    store: &Store,
    report: &VerifyReport,
    from: &[String],
    bars: &dyn ProgressBars,
) -> Result<RepairReport> {
    let remotes = crate::remote::open_all(store, from)?;
    let sources: Vec<RepairSource<'_>> = remotes
        .iter()
        .map(|r| RepairSource {
            name: r.remote.name.clone(),
            backend: r.backend.as_ref(),
            cache_dir: r.cache_dir.clone(),
        })
        .collect();
    repair(store, report, &sources, bars)
}

/// A remote to fetch good copies from.
pub struct RepairSource<'a> {
    /// The remote's name, for the report.
    pub name: String,
    /// Where it is.
    pub backend: &'a dyn Backend,
    /// Where its pack idx files are cached locally.
    pub cache_dir: PathBuf,
}

/// An object replaced by a good copy.
#[derive(Debug, Clone, Serialize)]
pub struct Repaired {
    /// The object.
    pub id: ObjectId,
    /// The remote it came from.
    pub remote: String,
}

/// What a repair did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RepairReport {
    /// Objects replaced by good copies.
    pub repaired: Vec<Repaired>,
    /// Damaged or missing objects no remote had; still damaged.
    pub unrepaired: Vec<ObjectId>,
    /// Good objects copied out of damaged packs.
    pub objects_moved: u64,
    /// Damaged packs deleted once nothing indexed pointed into them.
    pub packs_removed: Vec<ObjectId>,
    /// Damaged packs kept because they still hold an unrepaired object.
    pub packs_kept: Vec<ObjectId>,
    /// Bytes downloaded.
    pub bytes_fetched: u64,
}

impl RepairReport {
    /// True when nothing is left damaged.
    pub fn complete(&self) -> bool {
        self.unrepaired.is_empty() && self.packs_kept.is_empty()
    }
}

/// Repairs what `report` (from a verify of `store`) found damaged, fetching from `sources` in order.
pub fn repair(
    store: &Store,
    report: &VerifyReport,
    sources: &[RepairSource<'_>],
    bars: &dyn ProgressBars,
) -> Result<RepairReport> {
    let mut r = RepairReport::default();
    let mut needed: BTreeSet<ObjectId> = report.bad.iter().map(|b| b.id).collect();
    let mut damaged_packs: BTreeSet<ObjectId> = report.bad_packs.iter().map(|p| p.pack).collect();
    for id in &needed {
        if let Some(loc) = store.index().object(id)? {
            damaged_packs.insert(loc.pack);
        }
    }
    if needed.is_empty() && damaged_packs.is_empty() {
        return Ok(r);
    }

    let writer = store.writer().replacing();
    for source in sources {
        if needed.is_empty() {
            break;
        }
        let catalog = Catalog::load(source.backend, &source.cache_dir)?;
        let wanted: Vec<(&PackIdx, IdxEntry)> = needed
            .iter()
            .filter_map(|id| catalog.find(id).map(|(p, e)| (p, *e)))
            .collect();
        if wanted.is_empty() {
            continue;
        }
        let fetch = Fetcher::new(source.backend, &catalog, &writer, store);
        fetch.many(wanted.iter().copied(), bars)?;
        r.bytes_fetched += fetch.totals().0;
        for (_, e) in &wanted {
            needed.remove(&e.id);
            r.repaired.push(Repaired {
                id: e.id,
                remote: source.name.clone(),
            });
        }
    }
    let repaired: BTreeSet<ObjectId> = r.repaired.iter().map(|x| x.id).collect();

    // Copy what still verifies out of the damaged packs; a pack holding anything else is kept.
    let mut in_damaged: BTreeMap<ObjectId, Vec<ObjectId>> = BTreeMap::new();
    for item in store.index().objects() {
        let (id, loc) = item?;
        if damaged_packs.contains(&loc.pack) && !repaired.contains(&id) {
            in_damaged.entry(loc.pack).or_default().push(id);
        }
    }
    let mut kept = BTreeSet::new();
    let bar = bars.counter("rescuing");
    bar.set_length(in_damaged.values().map(|v| v.len() as u64).sum());
    for (pack, ids) in &in_damaged {
        for id in ids {
            bar.inc(1);
            let moved = !needed.contains(id) && move_verified(store, &writer, id, false)?.is_none();
            if moved {
                r.objects_moved += 1;
            } else {
                kept.insert(*pack);
                needed.insert(*id);
            }
        }
    }
    bar.finish();

    let staged = writer.finish()?;
    let mut batch = store.index().batch();
    staged.stage(&mut batch)?;
    if !batch.is_empty() {
        batch.commit()?;
    }

    store.forget_packs();
    let written: BTreeSet<ObjectId> = staged.packs.iter().copied().collect();
    for pack in damaged_packs {
        if written.contains(&pack) {
            continue; // rewritten whole under the same name, so it is good again
        }
        if kept.contains(&pack) {
            r.packs_kept.push(pack);
            continue;
        }
        let path = pack_path(&store.packs_dir(), &pack);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(Error::io(&path, e)),
            _ => r.packs_removed.push(pack),
        }
    }
    if !r.packs_removed.is_empty() {
        fsutil::sync_dir(&store.packs_dir())?;
    }
    r.unrepaired = needed.into_iter().collect();
    Ok(r)
}
