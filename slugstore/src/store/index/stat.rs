//! The stat cache: per scanned tree, what each file's metadata was when its hash was last computed,
//! so that a re-snapshot hashes only the files that changed.
//!
//! Keys are the tree's 16-byte key then the path bytes, so one tree's entries are one prefix, read in
//! path order; each value is a [`StatEntry`] in a fixed 80-byte little-endian layout. The tree's
//! directory listings (`listing`) come first in its prefix: their keys put a `0x00` byte before the
//! path, which no file's path starts with.

use std::path::Path;

use rocksdb::IteratorMode;

use super::listing::{listing_key, DirListing};
use super::{Batch, Index, TABLE_MIN};
use crate::error::{Error, Result};
use crate::id::ObjectId;

/// What the stat cache remembers of one file: if size, times and inode still match, the file's bytes are
/// assumed unchanged and its hash is reused without reading it (git's index and restic's parent snapshot
/// make the same bet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatEntry {
    /// File size.
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: i128,
    /// Status-change time, nanoseconds since the epoch.
    pub ctime_ns: i128,
    /// Inode number.
    pub ino: u64,
    /// The content hash recorded when the entry was written.
    pub id: ObjectId,
}

impl StatEntry {
    const LEN: usize = 8 + 16 + 16 + 8 + 32;

    fn encode(&self) -> [u8; Self::LEN] {
        let mut b = [0u8; Self::LEN];
        b[..8].copy_from_slice(&self.size.to_le_bytes());
        b[8..24].copy_from_slice(&self.mtime_ns.to_le_bytes());
        b[24..40].copy_from_slice(&self.ctime_ns.to_le_bytes());
        b[40..48].copy_from_slice(&self.ino.to_le_bytes());
        b[48..80].copy_from_slice(self.id.as_bytes());
        b
    }

    fn decode(b: &[u8]) -> Option<StatEntry> {
        if b.len() != Self::LEN {
            return None;
        }
        Some(StatEntry {
            size: u64::from_le_bytes(b[..8].try_into().ok()?),
            mtime_ns: i128::from_le_bytes(b[8..24].try_into().ok()?),
            ctime_ns: i128::from_le_bytes(b[24..40].try_into().ok()?),
            ino: u64::from_le_bytes(b[40..48].try_into().ok()?),
            id: ObjectId::from_slice(&b[48..80])?,
        })
    }
}

/// Identifies a scanned tree in the stat cache: the first 16 bytes of BLAKE3 of its canonical path.
pub type TreeKey = [u8; 16];

/// Computes the stat-cache key of a tree root.
pub fn tree_key(root: &Path) -> TreeKey {
    use std::os::unix::ffi::OsStrExt;
    let h = blake3::hash(root.as_os_str().as_bytes());
    h.as_bytes()[..16].try_into().unwrap()
}

impl Index {
    /// True when the stat cache holds nothing for `tree` (its first snapshot, or after a gc).
    pub fn stat_cache_empty(&self, tree: &TreeKey) -> Result<bool> {
        let mut it = self.db.raw_iterator_cf(self.cf("stat"));
        it.seek(tree);
        let empty = !it.key().is_some_and(|k| k.starts_with(tree));
        it.status().map_err(|e| self.err(e))?;
        Ok(empty)
    }

    /// The stat-cache entries of one tree's files, sorted by path bytes.
    pub fn stat_entries(&self, tree: &TreeKey) -> Result<Vec<(Vec<u8>, StatEntry)>> {
        let mut from = tree.to_vec();
        from.push(1);
        let mut out = Vec::new();
        self.read_stat_range(&from, prefix_end(tree), |path, v| {
            let e = StatEntry::decode(v)
                .ok_or_else(|| Error::format("index", "bad stat-cache entry"))?;
            out.push((path.to_vec(), e));
            Ok(())
        })?;
        Ok(out)
    }

    /// The directory listings of one tree, sorted by path bytes.
    pub fn listings(&self, tree: &TreeKey) -> Result<Vec<(Vec<u8>, DirListing)>> {
        let from = listing_key(tree, b"");
        let mut to = tree.to_vec();
        to.push(1);
        let mut out = Vec::new();
        self.read_stat_range(&from, Some(to), |key, v| {
            out.push((key[1..].to_vec(), DirListing::decode(v)?));
            Ok(())
        })?;
        Ok(out)
    }

    /// Calls `f` with each key of the `stat` family in `[from, to)` (without its 16-byte tree key)
    /// and its value. Read with a raw iterator: the cache of a 100k-file tree is read on every
    /// snapshot, and the boxed key and value the plain iterator allocates per entry cost more than
    /// the read itself.
    fn read_stat_range(
        &self,
        from: &[u8],
        to: Option<Vec<u8>>,
        mut f: impl FnMut(&[u8], &[u8]) -> Result<()>,
    ) -> Result<()> {
        // One sequential pass over a few MB: read ahead, stop at the end of the range, and keep the
        // blocks out of the block cache (nothing reads them again).
        let mut ro = rocksdb::ReadOptions::default();
        ro.fill_cache(false);
        ro.set_readahead_size(2 << 20);
        if let Some(to) = to {
            ro.set_iterate_upper_bound(to);
        }
        let mut it = self.db.raw_iterator_cf_opt(self.cf("stat"), ro);
        it.seek(from);
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            f(&k[16..], v)?;
            it.next();
        }
        it.status().map_err(|e| self.err(e))
    }

    /// Every file's stat-cache entry of every tree, as `(tree, path, entry)` (directory listings
    /// are left out: they name no object).
    pub fn all_stat_entries(
        &self,
    ) -> impl Iterator<Item = Result<(TreeKey, Vec<u8>, StatEntry)>> + '_ {
        self.db
            .iterator_cf(self.cf("stat"), IteratorMode::Start)
            .filter(|kv| !kv.as_ref().is_ok_and(|(k, _)| k.get(16) == Some(&0)))
            .map(move |kv| {
                let (k, v) = kv.map_err(|e| self.err(e))?;
                let bad = || Error::format("index", "bad stat-cache entry");
                let tree: TreeKey = k
                    .get(..16)
                    .and_then(|t| t.try_into().ok())
                    .ok_or_else(bad)?;
                let e = StatEntry::decode(&v).ok_or_else(bad)?;
                Ok((tree, k[16..].to_vec(), e))
            })
    }
}

impl Batch<'_> {
    /// Writes many stat-cache entries of `tree`; `entries` must be sorted by path, without duplicates,
    /// and name objects that are indexed (or put earlier in this batch): see [`Batch::put_objects`].
    pub fn put_stats(&mut self, tree: &TreeKey, entries: &[(Vec<u8>, StatEntry)]) -> Result<()> {
        if entries.len() < TABLE_MIN {
            for (path, e) in entries {
                self.put_stat(tree, path, e);
            }
            return Ok(());
        }
        let rows = entries
            .iter()
            .map(|(path, e)| (stat_key(tree, path), e.encode()));
        self.put_table("stat", rows)
    }

    /// Writes a stat-cache entry.
    pub fn put_stat(&mut self, tree: &TreeKey, path: &[u8], e: &StatEntry) {
        self.inner
            .put_cf(self.index.cf("stat"), stat_key(tree, path), e.encode());
    }

    /// Removes a stat-cache entry.
    pub fn delete_stat(&mut self, tree: &TreeKey, path: &[u8]) {
        self.inner
            .delete_cf(self.index.cf("stat"), stat_key(tree, path));
    }

    /// Drops the whole stat cache (after objects were deleted, cached hashes may name absent objects).
    pub fn clear_stat_cache(&mut self) {
        self.inner
            .delete_range_cf(self.index.cf("stat"), &[0u8; 0][..], &[0xffu8; 17][..]);
    }
}

/// The first key after every key that starts with `prefix`, if there is one.
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

fn stat_key(tree: &TreeKey, path: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(16 + path.len());
    k.extend_from_slice(tree);
    k.extend_from_slice(path);
    k
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{id, new_store};
    use super::*;

    #[test]
    fn stat_entries_of_a_tree_stop_at_its_prefix() {
        let (_dir, store) = new_store();
        let index = store.index();
        // Neighbouring tree keys, the first ending in 0xff: the bound must carry into the byte before.
        let mut a = [0u8; 16];
        a[14] = 1;
        a[15] = 0xff;
        let mut b = a;
        b[14] = 2;
        b[15] = 0;
        let entry = |n: u64| StatEntry {
            size: n,
            mtime_ns: 1,
            ctime_ns: 2,
            ino: n,
            id: id(n),
        };
        let mut batch = index.batch();
        batch.put_stats(&a, &[(b"x".to_vec(), entry(1))]).unwrap();
        batch.put_stats(&b, &[(b"y".to_vec(), entry(2))]).unwrap();
        batch.commit().unwrap();
        assert_eq!(
            index.stat_entries(&a).unwrap(),
            vec![(b"x".to_vec(), entry(1))]
        );
        assert_eq!(
            index.stat_entries(&b).unwrap(),
            vec![(b"y".to_vec(), entry(2))]
        );
        assert_eq!(prefix_end(&[1, 0xff]), Some(vec![2]));
        assert_eq!(prefix_end(&[0xff, 0xff]), None);
    }

    #[test]
    fn a_long_run_of_stat_entries_is_ingested_and_read_back_sorted() {
        let (_dir, store) = new_store();
        let index = store.index();
        let tree = tree_key(Path::new("/srv/build"));
        let mut entries: Vec<(Vec<u8>, StatEntry)> = (0..5000u64)
            .map(|n| {
                let e = StatEntry {
                    size: n,
                    mtime_ns: i128::from(n) * 7,
                    ctime_ns: -1,
                    ino: n + 1,
                    id: id(n),
                };
                (format!("dir/{n:05}").into_bytes(), e)
            })
            .collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut batch = index.batch();
        batch.put_stats(&tree, &entries).unwrap();
        batch.delete_stat(&tree, b"dir/00001");
        batch.commit().unwrap();
        let mut want = entries.clone();
        want.remove(1);
        assert_eq!(index.stat_entries(&tree).unwrap(), want);
        assert!(!index.stat_cache_empty(&tree).unwrap());
        assert!(index
            .stat_cache_empty(&tree_key(Path::new("/elsewhere")))
            .unwrap());
    }
}
