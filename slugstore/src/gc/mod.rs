//! Garbage collection: delete what no remaining slug needs.
//!
//! 1. Compute the live set: every remaining slug's manifest and the contents it names.
//! 2. Plan per pack (see [`plan`]): keep, repack (live bytes under the threshold), delete (nothing live),
//!    or delete as an orphan (no index entry names it).
//! 3. Copy the live records of packs to repack into new packs, which are fsynced and renamed.
//! 4. One index batch: the new locations, the deletion of every dead object, and the deletion of the
//!    stat-cache entries that name a dead object (a snapshot trusting such an entry would record a
//!    content the store no longer has).
//! 5. Only then unlink the old packs, and fsync the directory.
//!
//! The static-compression cache (`gz/gz.pack`, [`crate::compress::cache`]) is compacted too, keeping the
//! entries whose asset is live: it is derived data, rewritten on its own (temporary file, rename).
//!
//! A kill between any two steps leaves a store that opens and verifies: before step 4 the new packs are
//! unreferenced and the old ones still hold everything the index names; after it the old packs are
//! unreferenced. Either way the leftovers are orphans, which the next gc deletes.
//!
//! Concurrency: gc holds the store lock (RocksDB's `LOCK`) from open to end, like every writer, so a
//! snapshot either committed before gc computed the live set (and its slug is live) or starts after gc
//! is done (and deduplicates only against objects that survived). No grace period is needed because no
//! object is ever indexed outside the lock.

mod live;
pub mod plan;
pub mod recompress;
pub(crate) mod repack;

use std::collections::HashSet;

use serde::Serialize;

use crate::compress::cache::PACK_NAME;
use crate::compress::{Compacted, DirGzCache};
use crate::error::{Error, Result};
use crate::fsutil;
use crate::id::ObjectId;
use crate::store::pack::{pack_path, PACK_HEADER};
use crate::store::PACK_TARGET;
use crate::store::{Compression, Store};

pub use live::live_objects;
use plan::{Action, Plan};

/// How to collect.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct GcOptions {
    /// Repack a pack when less than this percentage of its bytes is live (100: any dead byte).
    #[cfg_attr(
        feature = "clap",
        arg(long, value_name = "PERCENT", default_value_t = 50.0)
    )]
    pub repack_below: f64,
    /// Report what would be freed, change nothing.
    #[cfg_attr(feature = "clap", arg(long))]
    pub dry_run: bool,
    /// Also rewrite the packs whose objects were stored uncompressed (`--compression off`) and would
    /// compress, at the level `--compression` gives (default 3).
    #[cfg_attr(feature = "clap", arg(long))]
    pub recompress: bool,
}

impl Default for GcOptions {
    fn default() -> Self {
        GcOptions {
            repack_below: 50.0,
            dry_run: false,
            recompress: false,
        }
    }
}

/// What a gc freed (or would free, with `dry_run`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct GcReport {
    /// Objects some slug needs.
    pub live_objects: u64,
    /// Indexed objects no slug needs, dropped from the index.
    pub objects_freed: u64,
    /// Packs deleted because nothing in them was live.
    pub packs_deleted: u64,
    /// Packs rewritten (their live records moved to new packs).
    pub packs_repacked: u64,
    /// Pack files no index entry named, deleted.
    pub orphan_packs: u64,
    /// New packs written.
    pub packs_written: u64,
    /// Live objects moved to new packs.
    pub objects_moved: u64,
    /// Objects stored raw that were compressed when moved (`recompress`); with `dry_run`, the raw
    /// objects of the packs that would be rewritten.
    pub objects_recompressed: u64,
    /// Pack bytes before.
    pub bytes_before: u64,
    /// Pack bytes after (an estimate with `dry_run`).
    pub bytes_after: u64,
    /// Stat-cache entries dropped because they named a freed object.
    pub stat_entries_dropped: u64,
    /// Objects that failed verification while being moved (their packs were kept).
    pub problems: Vec<String>,
    /// The static-compression cache's compaction, when the store has one and no other process was
    /// using it (a build compressing, `slug compress-static`): then it is left for the next gc.
    pub gz_cache: Option<Compacted>,
    /// True when nothing was changed on purpose.
    pub dry_run: bool,
}

impl GcReport {
    /// Pack bytes freed.
    pub fn bytes_freed(&self) -> u64 {
        self.bytes_before.saturating_sub(self.bytes_after)
    }
}

/// Collects garbage in `store`; see the module docs for the order of steps.
pub fn gc(store: &Store, opts: &GcOptions) -> Result<GcReport> {
    if !(0.0..=100.0).contains(&opts.repack_below) {
        return Err(Error::BadValue {
            what: "--repack-below".into(),
            value: opts.repack_below.to_string(),
            why: "not a percentage".into(),
        });
    }
    let level = match (opts.recompress, store.compression()) {
        (false, _) => None,
        (true, Compression::Zstd(level)) => Some(level),
        (true, Compression::Off) => {
            return Err(Error::BadValue {
                what: "--recompress".into(),
                value: "with `--compression off`".into(),
                why: "a contradiction: give the level to compress at, or none for 3".into(),
            })
        }
    };
    let live = live_objects(store)?;
    let mut plan = Plan::make(store, &live, opts.repack_below / 100.0)?;
    let saving = match level {
        Some(level) => recompress::mark(store, &mut plan, level)?,
        None => 0,
    };
    let mut r = GcReport {
        live_objects: live.len() as u64,
        dry_run: opts.dry_run,
        gz_cache: compact_gz_cache(store, &live, opts.dry_run)?,
        ..GcReport::default()
    };
    let dead: Vec<ObjectId> = plan
        .packs
        .values()
        .flat_map(|(p, _)| p.dead.iter().copied())
        .collect();
    r.objects_freed = dead.len() as u64;
    r.bytes_before = plan.packs.values().map(|(p, _)| p.size).sum();
    r.packs_deleted = plan.with(Action::Delete).count() as u64;
    r.orphan_packs = plan.with(Action::Orphan).count() as u64;
    if opts.dry_run {
        r.packs_repacked = plan.with(Action::Repack).count() as u64;
        r.objects_moved = plan
            .with(Action::Repack)
            .map(|(_, p)| p.live.len() as u64)
            .sum();
        if level.is_some() {
            r.objects_recompressed = plan
                .with(Action::Repack)
                .flat_map(|(_, p)| &p.live)
                .filter(|(_, loc)| recompress::compressible(loc.codec, loc.raw_len))
                .count() as u64;
        }
        let kept: u64 = plan.with(Action::Keep).map(|(_, p)| p.size).sum();
        let moved: u64 = plan
            .with(Action::Repack)
            .map(|(_, p)| p.live_bytes)
            .sum::<u64>()
            .saturating_sub(saving);
        // The new packs' headers; a pack is closed once it passes PACK_TARGET.
        let new_packs = if moved == 0 {
            0
        } else {
            1 + moved / PACK_TARGET
        };
        r.bytes_after = kept + moved + new_packs * PACK_HEADER.len() as u64;
        r.stat_entries_dropped = stale_stat_entries(store, &dead)?.len() as u64;
        return Ok(r);
    }

    // Step 3: new packs, durable before anything refers to them.
    let copied = repack::copy_live(store, &plan, level.is_some())?;
    r.problems = copied.problems;
    r.objects_recompressed = copied.recompressed;
    r.packs_written = copied.staged.packs.len() as u64;
    r.objects_moved = copied.staged.objects.len() as u64;

    // Step 4: one atomic, fsynced index batch.
    let stale = stale_stat_entries(store, &dead)?;
    r.stat_entries_dropped = stale.len() as u64;
    let mut batch = store.index().batch();
    copied.staged.stage(&mut batch)?;
    for id in &dead {
        batch.delete_object(id);
        // A deleted object is no longer damaged: its mark would only make snapshots walk.
        if store.is_damaged(id) {
            batch.unmark_damaged(id);
        }
    }
    for (tree, path) in &stale {
        batch.delete_stat(tree, path);
    }
    if !batch.is_empty() {
        batch.commit()?;
    }

    // Step 5: the old packs are now unreferenced.
    store.forget_packs();
    let written: HashSet<ObjectId> = copied.staged.packs.iter().copied().collect();
    let mut removed = false;
    for (id, (_, action)) in &plan.packs {
        let remove = match action {
            Action::Delete | Action::Orphan => true,
            Action::Repack => !copied.kept.contains(id),
            Action::Keep => false,
        };
        // A new pack can have the name of an orphan (the same records copied by a gc killed earlier).
        if remove && !written.contains(id) {
            if *action == Action::Repack {
                r.packs_repacked += 1;
            }
            let path = pack_path(&store.packs_dir(), id);
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(Error::io(&path, e))
                }
                _ => removed = true,
            }
        }
    }
    if removed {
        fsutil::sync_dir(&store.packs_dir())?;
    }
    r.bytes_after = plan::pack_files(&store.packs_dir())?
        .iter()
        .map(|(_, size)| size)
        .sum();
    Ok(r)
}

/// Keeps the entries of the store's static-compression cache whose asset is `live` (see the module docs).
fn compact_gz_cache(
    store: &Store,
    live: &HashSet<ObjectId>,
    dry_run: bool,
) -> Result<Option<Compacted>> {
    let dir = crate::compress::cache_dir(store.root());
    if !dir.join(PACK_NAME).exists() {
        return Ok(None);
    }
    // Never wait for a compression run: the cache is derived data, and the next gc compacts it.
    match DirGzCache::try_open(dir)? {
        Some(cache) => cache
            .retain(|asset| live.contains(asset), dry_run)
            .map(Some),
        None => Ok(None),
    }
}

/// Stat-cache entries whose recorded content is one of `dead`.
fn stale_stat_entries(store: &Store, dead: &[ObjectId]) -> Result<Vec<([u8; 16], Vec<u8>)>> {
    if dead.is_empty() {
        return Ok(Vec::new());
    }
    let dead: HashSet<&ObjectId> = dead.iter().collect();
    let mut out = Vec::new();
    for kv in store.index().all_stat_entries() {
        let (tree, path, e) = kv?;
        if dead.contains(&e.id) {
            out.push((tree, path));
        }
    }
    Ok(out)
}
