//! Deciding what happens to each pack: keep, repack, delete.
//!
//! A pack's *live bytes* are the records of live objects (header plus stored data). A pack with none is
//! deleted; a pack whose live bytes are under the repack threshold has its live records copied into a new
//! pack and is then deleted; other packs stay (their dead records are only forgotten by the index). Pack
//! files that no index entry names — left by a writer killed before its index batch, or by a gc killed
//! after its own — are deleted too: every writer holds the store lock, so while gc holds it no pack can be
//! on its way to being indexed.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::path::Path;

use crate::error::{IoResultExt, Result};
use crate::id::ObjectId;
use crate::store::pack::{PACK_HEADER, RECORD_HEADER_LEN};
use crate::store::{Location, Store};

/// One pack as gc sees it.
#[derive(Debug, Default)]
pub struct PackUse {
    /// File size (0 when the file is missing).
    pub size: u64,
    /// True when the file exists.
    pub present: bool,
    /// Live objects in it, by offset.
    pub live: Vec<(ObjectId, Location)>,
    /// Bytes of the live records.
    pub live_bytes: u64,
    /// Indexed objects in it that nothing needs.
    pub dead: Vec<ObjectId>,
}

/// What to do with a pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Leave it.
    Keep,
    /// Copy its live records into a new pack, then delete it.
    Repack,
    /// Delete it: nothing in it is live.
    Delete,
    /// Delete it: no index entry names it.
    Orphan,
}

/// Every pack on disk or in the index, with its use and the action chosen.
pub struct Plan {
    /// Per pack.
    pub packs: BTreeMap<ObjectId, (PackUse, Action)>,
}

impl Plan {
    /// Looks at the index and the packs directory; `repack_below` is a fraction of live bytes (0..=1).
    pub fn make(store: &Store, live: &HashSet<ObjectId>, repack_below: f64) -> Result<Plan> {
        let mut packs: BTreeMap<ObjectId, PackUse> = BTreeMap::new();
        for kv in store.index().objects() {
            let (id, loc) = kv?;
            let p = packs.entry(loc.pack).or_default();
            if live.contains(&id) {
                p.live.push((id, loc));
                p.live_bytes += RECORD_HEADER_LEN + loc.stored_len;
            } else {
                p.dead.push(id);
            }
        }
        let mut orphans = Vec::new();
        for (id, size) in pack_files(&store.packs_dir())? {
            match packs.get_mut(&id) {
                Some(p) => {
                    p.size = size;
                    p.present = true;
                }
                None => orphans.push((id, size)),
            }
        }
        let mut out: BTreeMap<ObjectId, (PackUse, Action)> = packs
            .into_iter()
            .map(|(id, mut p)| {
                p.live.sort_by_key(|(_, loc)| loc.offset);
                let used = p.live_bytes + PACK_HEADER.len() as u64;
                let action = if !p.present {
                    // Missing file: nothing to copy from or delete; verify reports what it breaks.
                    Action::Keep
                } else if p.live.is_empty() {
                    Action::Delete
                } else if used < p.size && (used as f64) < repack_below * p.size as f64 {
                    Action::Repack
                } else {
                    Action::Keep
                };
                (id, (p, action))
            })
            .collect();
        for (id, size) in orphans {
            let p = PackUse {
                size,
                present: true,
                ..PackUse::default()
            };
            out.insert(id, (p, Action::Orphan));
        }
        Ok(Plan { packs: out })
    }

    /// The packs given `action`.
    pub fn with(&self, action: Action) -> impl Iterator<Item = (&ObjectId, &PackUse)> {
        self.packs
            .iter()
            .filter(move |(_, (_, a))| *a == action)
            .map(|(id, (p, _))| (id, p))
    }
}

/// Every `<hex id>.pack` file in `dir` with its size; other names are left alone.
pub fn pack_files(dir: &Path) -> Result<Vec<(ObjectId, u64)>> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).at(dir)? {
        let e = e.at(dir)?;
        let name = e.file_name();
        let Some(id) = name
            .to_str()
            .and_then(|n| n.strip_suffix(".pack"))
            .and_then(|h| h.parse::<ObjectId>().ok())
        else {
            continue;
        };
        let len = e.metadata().at(e.path())?.len();
        out.push((id, len));
    }
    Ok(out)
}
