//! Where each asset's compressed form is kept, so that the same bytes are never compressed twice.
//!
//! The key is (BLAKE3 id of the asset's bytes, level): the same asset in another build, another release
//! or under another name maps to the same entry. [`GzCache`] is deliberately two methods so any store can
//! provide it; [`DirGzCache`] keeps the entries in one append-only pack file.
//!
//! Why one pack rather than a file per entry: a run looks up every asset, and a cold run stores almost
//! every one. Per-entry files cost an open and close per lookup and a file creation per store, and on
//! ext4 creating thousands of inodes right after a tree was deleted (every build replaces its tree) is
//! slower than compressing the bytes. The pack is scanned once when the cache is opened (headers only,
//! the compressed bytes are skipped), lookups are one positioned read, and a store is one positioned
//! write at the end.
//!
//! Each record is a checked header (magic, asset id, level, length, CRC-32 of those) followed by the
//! gzip bytes. Nothing is fsynced: the entries are derived data. A crash can leave a torn or zeroed last
//! record; the scan stops at the first header that does not check out and the file is cut there. Entries
//! are not trusted blindly either: the caller checks an entry's gzip trailer against the asset before
//! using it (see [`super::gzip::is_member_of`]) and stores a fresh entry, which supersedes the bad one.
//! The pack is `flock(2)`ed while a cache is open, so two processes never append at once. It only grows
//! while in use; [`DirGzCache::retain`] (run by `slug gc`) rewrites it with the entries still wanted.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, ErrorKind, Read, Seek};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};

use super::atomic::{write_atomic, Attrs};
use super::gzip::Level;
use super::read::read_regular;
use super::seen::Seen;
use crate::error::{Error, IoResultExt, Result};
use crate::fsutil::{self, Lock};
use crate::id::ObjectId;

mod compact;
pub use compact::Compacted;

/// A map from (asset id, level) to the asset's gzip bytes, shared by the worker threads.
pub trait GzCache: Sync {
    /// The gzip bytes stored for `asset` at `level`, if any.
    fn get(&self, asset: &ObjectId, level: Level) -> Result<Option<Vec<u8>>>;
    /// Stores `gz` as the gzip form of `asset` at `level`, replacing any previous entry.
    fn put(&self, asset: &ObjectId, level: Level, gz: &[u8]) -> Result<()>;
    /// What the last run over `dir` recorded ([`mod@super::seen`]); `None` (the default) when this cache
    /// keeps no such record, and every asset is read.
    fn seen(&self, dir: &Path) -> Result<Option<Seen>> {
        let _ = dir;
        Ok(None)
    }
    /// Keeps `seen` as the record of the run over `dir` that just ended. The default keeps nothing.
    fn keep_seen(&self, dir: &Path, seen: &Seen) -> Result<()> {
        let _ = (dir, seen);
        Ok(())
    }
}

/// Name of the pack file in the cache directory.
pub const PACK_NAME: &str = "gz.pack";
/// Directory, in the cache directory, of the records of past runs ([`Seen`]), one file per directory
/// compressed, named by the BLAKE3 hash of its canonical path.
pub const SEEN_DIR: &str = "seen";

/// Start of every record.
const MAGIC: [u8; 4] = *b"SGZ1";
/// Record header: magic, asset id, level, length of the gzip bytes (u32 LE), CRC-32 of the preceding
/// fields (u32 LE).
const HEADER_LEN: usize = 4 + 32 + 1 + 4 + 4;

/// Where each entry's bytes are in the pack, by (asset, level).
type Index = HashMap<(ObjectId, Level), Span>;

/// Where an entry's bytes are in the pack.
#[derive(Debug, Clone, Copy)]
struct Span {
    offset: u64,
    len: u32,
}

/// A [`GzCache`] in a directory, as one append-only pack file (see the module docs).
#[derive(Debug)]
pub struct DirGzCache {
    root: PathBuf,
    pack_path: PathBuf,
    pack: File,
    index: RwLock<Index>,
    /// End of the last good record, where the next one goes.
    end: Mutex<u64>,
}

impl DirGzCache {
    /// Opens the cache at `root`, creating the directory and pack if needed.
    ///
    /// Holds the pack's lock until dropped: an open elsewhere (another process, or a second open in
    /// this one) waits until then.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        Self::open_with(root.into(), true).map(|c| c.expect("a waiting open always locks"))
    }

    /// As [`DirGzCache::open`], but `None` at once when another open holds the pack.
    pub fn try_open(root: impl Into<PathBuf>) -> Result<Option<Self>> {
        Self::open_with(root.into(), false)
    }

    fn open_with(root: PathBuf, wait: bool) -> Result<Option<Self>> {
        fs::create_dir_all(&root).at(&root)?;
        let pack_path = root.join(PACK_NAME);
        let Some(pack) = open_locked(&pack_path, wait)? else {
            return Ok(None);
        };
        let (index, end) = scan(&pack).at(&pack_path)?;
        if pack.metadata().at(&pack_path)?.len() != end {
            pack.set_len(end).at(&pack_path)?;
        }
        Ok(Some(Self {
            root,
            pack_path,
            pack,
            index: RwLock::new(index),
            end: Mutex::new(end),
        }))
    }

    /// The cache directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The pack file holding the entries.
    pub fn pack_path(&self) -> &Path {
        &self.pack_path
    }

    /// Number of entries (an entry stored again counts once).
    pub fn len(&self) -> usize {
        self.index.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl GzCache for DirGzCache {
    fn get(&self, asset: &ObjectId, level: Level) -> Result<Option<Vec<u8>>> {
        let span = self
            .index
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(*asset, level))
            .copied();
        let Some(span) = span else {
            return Ok(None);
        };
        let mut bytes = vec![0; span.len as usize];
        self.pack
            .read_exact_at(&mut bytes, span.offset)
            .at(&self.pack_path)?;
        Ok(Some(bytes))
    }

    fn put(&self, asset: &ObjectId, level: Level, gz: &[u8]) -> Result<()> {
        let len = u32::try_from(gz.len()).map_err(|_| Error::GzipEntryTooLarge {
            pack: self.pack_path.clone(),
            size: gz.len(),
        })?;
        let mut record = Vec::with_capacity(HEADER_LEN + gz.len());
        record.extend_from_slice(&header(asset, level, len));
        record.extend_from_slice(gz);
        let mut end = self.end.lock().unwrap_or_else(|p| p.into_inner());
        self.pack.write_all_at(&record, *end).at(&self.pack_path)?;
        let span = Span {
            offset: *end + HEADER_LEN as u64,
            len,
        };
        *end += record.len() as u64;
        self.index
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert((*asset, level), span);
        Ok(())
    }

    fn seen(&self, dir: &Path) -> Result<Option<Seen>> {
        let path = self.seen_path(dir)?;
        Ok(read_regular(&path)?.and_then(|(bytes, _)| Seen::decode(&bytes)))
    }

    fn keep_seen(&self, dir: &Path, seen: &Seen) -> Result<()> {
        let path = self.seen_path(dir)?;
        let parent = path.parent().expect("under the cache root");
        fs::create_dir_all(parent).at(parent)?;
        let attrs = Attrs {
            mode: 0o644,
            modified: None,
        };
        write_atomic(&path, &seen.encode(), attrs)
    }
}

impl DirGzCache {
    /// Where the record of runs over `dir` is kept.
    fn seen_path(&self, dir: &Path) -> Result<PathBuf> {
        let canonical = fs::canonicalize(dir).at(dir)?;
        let hash = blake3::hash(canonical.as_os_str().as_encoded_bytes());
        Ok(self.root.join(SEEN_DIR).join(&hash.to_hex()[..32]))
    }
}

/// Opens and locks the pack at `path`, waiting for the lock or (`wait` false) giving `None` when it is
/// held. A compaction may have renamed a new pack over the path while this waited for the lock: then
/// the locked file is the old one, and the new one is opened instead.
fn open_locked(path: &Path, wait: bool) -> Result<Option<File>> {
    let how = if wait {
        Lock::Exclusive
    } else {
        Lock::ExclusiveNoWait
    };
    loop {
        let pack = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .at(path)?;
        // Released when `pack` is closed.
        if !fsutil::flock(&pack, path, how)? {
            return Ok(None);
        }
        let locked = pack.metadata().at(path)?;
        match fs::metadata(path) {
            Ok(now) if now.ino() == locked.ino() && now.dev() == locked.dev() => {
                return Ok(Some(pack))
            }
            Ok(_) => continue,
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io(path, e)),
        }
    }
}

/// The header of a record for (`asset`, `level`) with `len` bytes of gzip.
fn header(asset: &ObjectId, level: Level, len: u32) -> [u8; HEADER_LEN] {
    let mut h = [0; HEADER_LEN];
    h[..4].copy_from_slice(&MAGIC);
    h[4..36].copy_from_slice(asset.as_bytes());
    h[36] = level.get() as u8;
    h[37..41].copy_from_slice(&len.to_le_bytes());
    let crc = libdeflater::crc32(&h[..41]);
    h[41..].copy_from_slice(&crc.to_le_bytes());
    h
}

/// The (asset, level, length) of a header, if it checks out.
fn parse_header(h: &[u8; HEADER_LEN]) -> Option<(ObjectId, Level, u32)> {
    let crc = u32::from_le_bytes(h[41..].try_into().expect("4 bytes"));
    if h[..4] != MAGIC || crc != libdeflater::crc32(&h[..41]) {
        return None;
    }
    let id = ObjectId::from_slice(&h[4..36])?;
    let level = Level::new(u32::from(h[36])).ok()?;
    let len = u32::from_le_bytes(h[37..41].try_into().expect("4 bytes"));
    Some((id, level, len))
}

/// Reads the headers of `pack` from the start: the index of its entries (later records win) and the end
/// of the last whole record with a good header.
fn scan(pack: &File) -> std::io::Result<(Index, u64)> {
    let size = pack.metadata()?.len();
    let mut reader = BufReader::with_capacity(1 << 16, pack);
    reader.rewind()?;
    let mut index = HashMap::new();
    let mut pos = 0u64;
    let mut h = [0; HEADER_LEN];
    loop {
        match reader.read_exact(&mut h) {
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => break,
            other => other?,
        }
        let Some((id, level, len)) = parse_header(&h) else {
            break;
        };
        let offset = pos + HEADER_LEN as u64;
        if offset + u64::from(len) > size {
            break;
        }
        index.insert((id, level), Span { offset, len });
        reader.seek_relative(i64::from(len))?;
        pos = offset + u64::from(len);
    }
    Ok((index, pos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_kept_per_asset_and_level() {
        let dir = tempfile::tempdir().unwrap();
        let cache = DirGzCache::open(dir.path().join("gz")).unwrap();
        let a = ObjectId::hash(b"a");
        let (six, four) = (Level::BUILD_DEFAULT, Level::DEPLOY_DEFAULT);
        assert_eq!(cache.get(&a, six).unwrap(), None);
        cache.put(&a, six, b"gz6").unwrap();
        cache.put(&a, four, b"gz4").unwrap();
        assert_eq!(cache.get(&a, six).unwrap().as_deref(), Some(&b"gz6"[..]));
        assert_eq!(cache.get(&a, four).unwrap().as_deref(), Some(&b"gz4"[..]));
        assert_eq!(cache.get(&ObjectId::hash(b"b"), six).unwrap(), None);
        cache.put(&a, six, b"again").unwrap();
        assert_eq!(cache.get(&a, six).unwrap().as_deref(), Some(&b"again"[..]));
        let root = cache.root().to_path_buf();
        drop(cache);
        let reopened = DirGzCache::open(root).unwrap();
        assert_eq!(reopened.len(), 2);
        assert_eq!(
            reopened.get(&a, four).unwrap().as_deref(),
            Some(&b"gz4"[..])
        );
        assert_eq!(
            reopened.get(&a, six).unwrap().as_deref(),
            Some(&b"again"[..])
        );
    }

    #[test]
    fn a_torn_last_record_is_dropped_and_the_pack_stays_usable() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, c) = (
            ObjectId::hash(b"a"),
            ObjectId::hash(b"b"),
            ObjectId::hash(b"c"),
        );
        let six = Level::BUILD_DEFAULT;
        let cache = DirGzCache::open(dir.path()).unwrap();
        cache.put(&a, six, b"first entry").unwrap();
        cache.put(&b, six, b"second entry").unwrap();
        let pack = cache.pack_path().to_path_buf();
        drop(cache);
        // A crash in the middle of the second record's bytes, then garbage where a header was expected.
        let full = fs::read(&pack).unwrap();
        fs::write(&pack, &full[..full.len() - 3]).unwrap();
        let cache = DirGzCache::open(dir.path()).unwrap();
        assert_eq!(cache.get(&b, six).unwrap(), None);
        cache.put(&c, six, b"third").unwrap();
        drop(cache);
        let mut bytes = fs::read(&pack).unwrap();
        bytes.extend_from_slice(&[0; HEADER_LEN + 5]);
        fs::write(&pack, bytes).unwrap();

        let cache = DirGzCache::open(dir.path()).unwrap();
        assert_eq!(
            cache.get(&a, six).unwrap().as_deref(),
            Some(&b"first entry"[..])
        );
        assert_eq!(cache.get(&c, six).unwrap().as_deref(), Some(&b"third"[..]));
        assert_eq!(cache.len(), 2);
        assert_eq!(
            fs::metadata(&pack).unwrap().len(),
            (2 * HEADER_LEN + b"first entry".len() + b"third".len()) as u64,
            "the zeroed tail was cut off"
        );
    }
}
