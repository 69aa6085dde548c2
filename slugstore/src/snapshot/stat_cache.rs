//! The snapshot's side of the stat cache: which walked files keep their recorded hash unread, and
//! what the snapshot's commit writes back.
//!
//! A file is trusted unread when its size, times and inode all match the cached entry (git's index
//! and restic's parent snapshot make the same bet). A file modified shortly before the scan
//! ([`Racy`]) is never written to the cache, so a change in the same timestamp tick is read next time.

use rayon::prelude::*;

use crate::error::Result;
use crate::id::ObjectId;
use crate::scan::{FileMeta, Found, ListingChanges, Racy, Walked};
use crate::store::index::{StatEntry, TreeKey};

fn matches_stat(m: &FileMeta, e: &StatEntry) -> bool {
    m.size == e.size && m.mtime_ns == e.mtime_ns && m.ctime_ns == e.ctime_ns && m.ino == e.ino
}

/// The tree's stat cache lined up with the walk: the cached entry of each walked path (if any), and the
/// cached paths the walk no longer has. Read once, used to skip unchanged files and to write back only
/// what changed.
pub(super) struct CachedStats {
    prev: Vec<Option<StatEntry>>,
    vanished: Vec<Vec<u8>>,
}

impl CachedStats {
    /// Merge-joins the walk with the tree's stat cache; both are sorted by path bytes. 130k long
    /// paths compared one by one take a while: the walk is cut in a few ranges joined in parallel,
    /// each with the part of the cache that falls in it.
    pub(super) fn new(cached: Vec<(Vec<u8>, StatEntry)>, entries: &[Walked]) -> CachedStats {
        const RANGE: usize = 16 * 1024;
        let mut prev = vec![None; entries.len()];
        // The cache's entries before each range's first path go to the range before it.
        let bounds: Vec<usize> = (0..entries.len().div_ceil(RANGE).max(1))
            .map(|r| match r {
                0 => 0,
                r => cached.partition_point(|(p, _)| *p < entries[r * RANGE].rel),
            })
            .chain([cached.len()])
            .collect();
        let vanished = prev
            .par_chunks_mut(RANGE)
            .zip(entries.par_chunks(RANGE))
            .enumerate()
            .map(|(r, (prev, entries))| {
                let mut vanished = Vec::new();
                let mut i = 0;
                for (path, cached) in &cached[bounds[r]..bounds[r + 1]] {
                    while i < entries.len() && entries[i].rel < *path {
                        i += 1;
                    }
                    if i < entries.len() && entries[i].rel == *path {
                        prev[i] = Some(*cached);
                    } else {
                        vanished.push(path.clone());
                    }
                }
                vanished
            })
            .flatten()
            .collect();
        CachedStats { prev, vanished }
    }

    /// The known content hash of entry `i`, if its stat still matches.
    pub(super) fn id(&self, i: usize, w: &Walked) -> Option<ObjectId> {
        match (&w.found, &self.prev[i]) {
            (Found::File(m), Some(e)) if matches_stat(m, e) => Some(e.id),
            _ => None,
        }
    }

    /// The changes to this tree's cache: the entries that changed, and the paths to forget (vanished,
    /// or no longer a file). Files modified shortly before the scan ([`Racy`]) are left out, so they
    /// are read again next time.
    pub(super) fn changes(&self, entries: &[Walked], racy: Racy) -> StatChanges {
        let mut out = StatChanges {
            delete: self.vanished.clone(),
            ..StatChanges::default()
        };
        for (w, prev) in entries.iter().zip(&self.prev) {
            match &w.found {
                Found::File(m @ FileMeta { id: Some(id), .. })
                    if racy.settled(m.mtime_ns, m.ctime_ns) =>
                {
                    let e = stat_entry(m, *id);
                    if *prev != Some(e) {
                        out.put.push((w.rel.clone(), e));
                    }
                }
                _ if prev.is_some() => out.delete.push(w.rel.clone()),
                _ => {}
            }
        }
        out
    }
}

/// The stat-cache entry of a file that was hashed to `id`.
pub(super) fn stat_entry(m: &FileMeta, id: ObjectId) -> StatEntry {
    StatEntry {
        size: m.size,
        mtime_ns: m.mtime_ns,
        ctime_ns: m.ctime_ns,
        ino: m.ino,
        id,
    }
}

/// Stat-cache changes, written in the snapshot's commit batch.
#[derive(Default)]
pub(super) struct StatChanges {
    /// Entries to write, sorted by path.
    pub(super) put: Vec<(Vec<u8>, StatEntry)>,
    pub(super) delete: Vec<Vec<u8>>,
    /// The directory listings read and gone.
    pub(super) listings: ListingChanges,
}

impl StatChanges {
    pub(super) fn write(&self, tkey: &TreeKey, batch: &mut crate::store::Batch<'_>) -> Result<()> {
        for p in &self.delete {
            batch.delete_stat(tkey, p);
        }
        for p in &self.listings.delete {
            batch.delete_listing(tkey, p);
        }
        batch.put_listings(tkey, &self.listings.put)?;
        // In walk order: sorted by path.
        batch.put_stats(tkey, &self.put)
    }
}
