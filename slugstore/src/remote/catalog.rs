//! What a remote holds: every object of every complete pack, learned from the packs' idx files.
//!
//! Push needs it to skip objects the remote has, pull to find where each object it lacks is. Both
//! list `packs/` once (one request per thousand keys on S3) and read the idx of every pack whose
//! pack and idx are both listed (a complete pack).
//! Idx files never change (they are named by their pack's hash), so each is downloaded once and kept
//! in the remote's cache directory; later runs fetch only the idx files of packs added since. The
//! listing stays authoritative: a cached idx whose key is no longer listed (a pack removed from the
//! remote) is not used, and a cached file that fails its checksum is fetched again. The cached files
//! are read while the listing is in flight (a round trip during which a core would otherwise idle).

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::thread;

use rayon::prelude::*;

use crate::error::{IoResultExt, Result};
use crate::fsutil::{Durability, TempFile};
use crate::id::ObjectId;
use crate::remote::backend::Backend;
use crate::remote::layout::{self, IdxEntry, PackIdx};
use crate::remote::transfer_pool;
use crate::store::pack::Codec;

/// The complete packs of a remote and the objects in them.
#[derive(Debug, Default)]
pub struct Catalog {
    packs: Vec<PackIdx>,
    /// Where each object is, built on first use: a push after a small change asks about a few
    /// thousand objects ([`Catalog::entries_of`]), not about every object of the remote.
    objects: OnceLock<foldhash::HashMap<ObjectId, (u32, u32)>>,
    /// Idx files downloaded by [`Catalog::load`] (the others came from the cache).
    pub fetched: u64,
}

impl Catalog {
    /// Lists the remote's packs and reads their idx files, from `cache_dir` when there and from the
    /// remote otherwise (saving them in `cache_dir`).
    pub fn load(backend: &dyn Backend, cache_dir: &Path) -> Result<Catalog> {
        let idx_dir = cache_dir.join("idx");
        fs::create_dir_all(&idx_dir).at(&idx_dir)?;
        let (keys, mut cached) = thread::scope(|s| {
            let listing = s.spawn(|| backend.list(layout::PACKS_DIR));
            let cached = read_cache(&idx_dir);
            (listing.join().expect("listing does not panic"), cached)
        });
        let keys = keys?;
        let packs: foldhash::HashSet<ObjectId> = keys
            .iter()
            .filter_map(|(key, _)| layout::pack_of_pack_key(key))
            .collect();
        // A pack is complete once both its pack and its idx are listed: push uploads them side by
        // side, and either may land first.
        let listed: Vec<ObjectId> = keys
            .iter()
            .filter_map(|(key, _)| layout::pack_of_idx_key(key))
            .filter(|id| packs.contains(id))
            .collect();
        let mut loaded: Vec<(PackIdx, bool)> = Vec::with_capacity(listed.len());
        let mut uncached = Vec::new();
        for pack in listed {
            match cached.remove(&pack) {
                Some(idx) => loaded.push((idx, false)),
                None => uncached.push(pack),
            }
        }
        if !uncached.is_empty() {
            let fetched: Vec<(PackIdx, bool)> = transfer_pool()?.install(|| {
                uncached
                    .par_iter()
                    .map(|pack| load_one(backend, &idx_dir, pack))
                    .collect::<Result<_>>()
            })?;
            loaded.extend(fetched);
        }
        let fetched = loaded.iter().filter(|(_, fetched)| *fetched).count() as u64;
        let packs = loaded.into_iter().map(|(idx, _)| idx).collect();
        Ok(Catalog::new(packs, fetched))
    }

    fn new(packs: Vec<PackIdx>, fetched: u64) -> Catalog {
        Catalog {
            packs,
            objects: OnceLock::new(),
            fetched,
        }
    }

    /// The object map, built from the packs on first use.
    fn objects(&self) -> &foldhash::HashMap<ObjectId, (u32, u32)> {
        self.objects.get_or_init(|| {
            let count = self.packs.iter().map(|idx| idx.entries.len()).sum();
            let mut objects =
                foldhash::HashMap::with_capacity_and_hasher(count, Default::default());
            for (p, idx) in self.packs.iter().enumerate() {
                for (i, e) in idx.entries.iter().enumerate() {
                    objects.entry(e.id).or_insert((p as u32, i as u32));
                }
            }
            objects
        })
    }

    /// Whether some complete pack holds object `id`.
    pub fn has(&self, id: &ObjectId) -> bool {
        self.objects().contains_key(id)
    }

    /// The pack holding `id` and its record there.
    pub fn find(&self, id: &ObjectId) -> Option<(&PackIdx, &IdxEntry)> {
        let &(p, i) = self.objects().get(id)?;
        let pack = &self.packs[p as usize];
        Some((pack, &pack.entries[i as usize]))
    }

    /// Every record of every complete pack.
    pub fn entries(&self) -> impl Iterator<Item = &IdxEntry> {
        self.packs.iter().flat_map(|idx| &idx.entries)
    }

    /// The record of each of `ids` that some complete pack holds, one pass over the packs without
    /// building the object map. An object stored whole is preferred to one stored as a patch.
    pub fn entries_of(
        &self,
        ids: &foldhash::HashSet<ObjectId>,
    ) -> foldhash::HashMap<ObjectId, IdxEntry> {
        let mut found = foldhash::HashMap::default();
        for e in self.entries() {
            if ids.contains(&e.id) {
                found
                    .entry(e.id)
                    .and_modify(|f: &mut IdxEntry| {
                        if f.codec == Codec::Patch {
                            *f = *e;
                        }
                    })
                    .or_insert(*e);
            }
        }
        found
    }

    /// Number of complete packs.
    pub fn pack_count(&self) -> usize {
        self.packs.len()
    }

    /// Total size of the complete packs.
    pub fn pack_bytes(&self) -> u64 {
        self.packs.iter().map(|p| p.pack_len).sum()
    }
}

/// The cache file of the idx of `pack`.
fn cache_path(idx_dir: &Path, pack: &ObjectId) -> PathBuf {
    idx_dir.join(format!("{}.idx", pack.to_hex()))
}

/// Saves an idx in the cache. Not fsynced: a torn cache file fails its checksum and is fetched again.
pub fn cache_idx(cache_dir: &Path, idx: &PackIdx, bytes: &[u8]) -> Result<()> {
    let idx_dir = cache_dir.join("idx");
    let path = cache_path(&idx_dir, &idx.pack);
    let mut tmp = TempFile::beside(&path)?;
    let tmp_path = tmp.path().to_path_buf();
    tmp.file().write_all(bytes).at(&tmp_path)?;
    tmp.persist_with(Durability::Unsynced)
}

/// Every idx file in the cache that reads and checks out, by pack (listed or not: the caller uses only
/// the listed ones). Files that do not are left to [`load_one`], which fetches them again.
fn read_cache(idx_dir: &Path) -> HashMap<ObjectId, PackIdx> {
    let Ok(dir) = fs::read_dir(idx_dir) else {
        return HashMap::new();
    };
    let packs: Vec<ObjectId> = dir
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.strip_suffix(".idx")?.parse().ok())
        .collect();
    packs
        .par_iter()
        .filter_map(|pack| {
            let path = cache_path(idx_dir, pack);
            let bytes = fs::read(&path).ok()?;
            let idx = PackIdx::decode(&bytes, pack, &path.display().to_string()).ok()?;
            Some((*pack, idx))
        })
        .collect()
}

/// Reads the idx of `pack` from the cache or the remote; the flag says whether it was downloaded.
fn load_one(backend: &dyn Backend, idx_dir: &Path, pack: &ObjectId) -> Result<(PackIdx, bool)> {
    let path = cache_path(idx_dir, pack);
    if let Ok(bytes) = fs::read(&path) {
        if let Ok(idx) = PackIdx::decode(&bytes, pack, &path.display().to_string()) {
            return Ok((idx, false));
        }
    }
    let key = layout::idx_key(pack);
    let what = format!("{}/{key}", backend.url());
    let bytes = backend.get(&key)?.ok_or_else(|| {
        crate::Error::format(&what, "listed but gone (was the remote pruned meanwhile?)")
    })?;
    let idx = PackIdx::decode(&bytes, pack, &what)?;
    cache_idx(
        idx_dir.parent().expect("idx dir has a parent"),
        &idx,
        &bytes,
    )?;
    Ok((idx, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: ObjectId, offset: u64, codec: Codec) -> IdxEntry {
        IdxEntry {
            id,
            offset,
            codec,
            raw_len: 10,
            stored_len: 10,
        }
    }

    fn pack(name: &[u8], entries: Vec<IdxEntry>) -> PackIdx {
        PackIdx {
            pack: ObjectId::hash(name),
            pack_len: 1000,
            entries,
        }
    }

    #[test]
    fn lookups_find_the_first_pack_listing_an_object() {
        let (a, b, c) = (
            ObjectId::hash(b"a"),
            ObjectId::hash(b"b"),
            ObjectId::hash(b"c"),
        );
        let catalog = Catalog::new(
            vec![
                pack(b"one", vec![entry(a, 12, Codec::Zstd)]),
                pack(
                    b"two",
                    vec![entry(b, 12, Codec::Raw), entry(a, 40, Codec::Raw)],
                ),
            ],
            0,
        );
        assert!(catalog.has(&a) && catalog.has(&b) && !catalog.has(&c));
        // The first pack listing an object is the one found.
        let (p, e) = catalog.find(&a).unwrap();
        assert_eq!((p.pack, e.codec), (ObjectId::hash(b"one"), Codec::Zstd));
        assert_eq!(catalog.entries().count(), 3);
    }

    #[test]
    fn entries_of_prefers_an_object_stored_whole_to_a_patch() {
        let (m, x) = (ObjectId::hash(b"manifest"), ObjectId::hash(b"x"));
        let catalog = Catalog::new(
            vec![
                pack(b"one", vec![entry(m, 12, Codec::Patch)]),
                pack(
                    b"two",
                    vec![entry(x, 12, Codec::Zstd), entry(m, 40, Codec::Zstd)],
                ),
            ],
            0,
        );
        let wanted = [m, ObjectId::hash(b"absent")].into_iter().collect();
        let found = catalog.entries_of(&wanted);
        assert_eq!(found.len(), 1);
        assert_eq!(found[&m].codec, Codec::Zstd);
        assert_eq!(found[&m].offset, 40);
    }
}
