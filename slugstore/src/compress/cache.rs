//! Where each asset's compressed form is kept, so that the same bytes are never compressed twice.
//!
//! The key is (BLAKE3 id of the asset's bytes, level): the same asset in another build, another release
//! or under another name maps to the same entry. [`GzCache`] is deliberately two methods so any store can
//! provide it; [`DirGzCache`] keeps entries as files in a directory.
//!
//! Entries are not trusted blindly: the caller checks an entry's gzip trailer against the asset before
//! using it (see [`super::gzip::is_member_of`]) and replaces an entry that does not match.

use std::fs;
use std::path::{Path, PathBuf};

use super::atomic::{write_atomic, Attrs};
use super::gzip::Level;
use super::read::read_regular;
use crate::error::{Error, IoResultExt, Result};
use crate::id::ObjectId;

/// A map from (asset id, level) to the asset's gzip bytes, shared by the worker threads.
pub trait GzCache: Sync {
    /// The gzip bytes stored for `asset` at `level`, if any.
    fn get(&self, asset: &ObjectId, level: Level) -> Result<Option<Vec<u8>>>;
    /// Stores `gz` as the gzip form of `asset` at `level`, replacing any previous entry.
    fn put(&self, asset: &ObjectId, level: Level, gz: &[u8]) -> Result<()>;
}

/// A [`GzCache`] in a directory: one file per entry, `ab/abcd…-6.gz` (the asset's hex id, fanned out by
/// its first byte so no directory grows huge), each written atomically.
#[derive(Debug, Clone)]
pub struct DirGzCache {
    root: PathBuf,
}

impl DirGzCache {
    /// Opens the cache at `root`, creating the directory if needed.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        fs::create_dir_all(&root).at(&root)?;
        Ok(Self { root })
    }

    /// The cache directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file holding the entry for (`asset`, `level`).
    pub fn entry_path(&self, asset: &ObjectId, level: Level) -> PathBuf {
        let hex = asset.to_hex();
        self.root.join(&hex[..2]).join(format!("{hex}-{level}.gz"))
    }
}

impl GzCache for DirGzCache {
    fn get(&self, asset: &ObjectId, level: Level) -> Result<Option<Vec<u8>>> {
        Ok(read_regular(&self.entry_path(asset, level))?.map(|(bytes, _)| bytes))
    }

    fn put(&self, asset: &ObjectId, level: Level, gz: &[u8]) -> Result<()> {
        let path = self.entry_path(asset, level);
        let attrs = Attrs {
            mode: 0o644,
            modified: None,
        };
        match write_atomic(&path, gz, attrs) {
            // The fan-out directory is created on first use rather than checked on every put.
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                let dir = path.parent().expect("entry paths have a fan-out directory");
                fs::create_dir_all(dir).at(dir)?;
                write_atomic(&path, gz, attrs)
            }
            other => other,
        }
    }
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
        let reopened = DirGzCache::open(cache.root()).unwrap();
        assert_eq!(
            reopened.get(&a, four).unwrap().as_deref(),
            Some(&b"gz4"[..])
        );
    }
}
