//! Compaction: the pack keeps only the entries still worth having.
//!
//! The pack is append-only, so it grows with every asset version ever compressed. Entries are worth
//! keeping while their asset is still in the store (a later build of a kept release's tree, or a
//! promotion's deploy-time compression, meets those bytes again); `slug gc` compacts the cache with the
//! store's live objects after it collected the store.
//!
//! The kept records are copied, in pack order, into a temporary file beside the pack, which is fsynced
//! and renamed over it while the pack's lock is held: a crash leaves the old pack or the new one, and
//! at worst a temporary file, which the next compaction deletes. A cache opened by another process that
//! waited for the lock notices the rename and opens the new pack ([`DirGzCache::open`]).

use std::fs;
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

use serde::Serialize;

use super::{header, DirGzCache, PACK_NAME};
use crate::error::{IoResultExt, Result};
use crate::fsutil::TempFile;
use crate::id::ObjectId;

/// What a compaction did (or would do).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Compacted {
    /// Entries kept.
    pub kept: u64,
    /// Entries dropped.
    pub dropped: u64,
    /// Pack bytes before.
    pub bytes_before: u64,
    /// Pack bytes after.
    pub bytes_after: u64,
}

impl DirGzCache {
    /// Rewrites the pack with only the entries whose asset `keep` accepts (the newest entry of each
    /// asset and level). With `dry_run`, counts and changes nothing. Consumes the cache: its lock is
    /// held throughout and released at the end.
    pub fn retain(self, keep: impl Fn(&ObjectId) -> bool, dry_run: bool) -> Result<Compacted> {
        let index = self.index.read().unwrap_or_else(|p| p.into_inner()).clone();
        let bytes_before = *self.end.lock().unwrap_or_else(|p| p.into_inner());
        let mut spans: Vec<_> = index.into_iter().collect();
        spans.sort_by_key(|(_, span)| span.offset);
        let total = spans.len() as u64;
        spans.retain(|((asset, _), _)| keep(asset));
        let bytes_after: u64 = spans
            .iter()
            .map(|(_, s)| super::HEADER_LEN as u64 + u64::from(s.len))
            .sum();
        let report = Compacted {
            kept: spans.len() as u64,
            dropped: total - spans.len() as u64,
            bytes_before,
            bytes_after,
        };
        if dry_run || (report.dropped == 0 && bytes_after == bytes_before) {
            return Ok(report);
        }
        remove_temporaries(&self.root)?;
        let mut tmp = TempFile::beside(&self.pack_path)?;
        let tmp_path = tmp.path().to_path_buf();
        let mut out = BufWriter::with_capacity(1 << 16, tmp.file());
        let mut buf = Vec::new();
        for ((asset, level), span) in &spans {
            buf.resize(span.len as usize, 0);
            self.pack
                .read_exact_at(&mut buf, span.offset)
                .at(&self.pack_path)?;
            out.write_all(&header(asset, *level, span.len))
                .at(&tmp_path)?;
            out.write_all(&buf).at(&tmp_path)?;
        }
        out.flush().at(&tmp_path)?;
        drop(out);
        tmp.persist()?;
        Ok(report)
    }
}

/// Deletes what killed compactions left (`.gz.pack.*.tmp`); call with the pack's lock held.
fn remove_temporaries(root: &Path) -> Result<()> {
    let prefix = format!(".{PACK_NAME}.");
    for entry in fs::read_dir(root).at(root)? {
        let entry = entry.at(root)?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(&prefix) && name.ends_with(".tmp") {
            let path = entry.path();
            fs::remove_file(&path).at(&path)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compress::{GzCache, Level};

    #[test]
    fn only_kept_assets_survive_and_the_pack_shrinks() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, c) = (
            ObjectId::hash(b"a"),
            ObjectId::hash(b"b"),
            ObjectId::hash(b"c"),
        );
        let (six, four) = (Level::BUILD_DEFAULT, Level::DEPLOY_DEFAULT);
        let cache = DirGzCache::open(dir.path()).unwrap();
        cache.put(&a, six, b"a at six").unwrap();
        cache.put(&b, six, b"b, dropped").unwrap();
        cache.put(&a, four, b"a at four").unwrap();
        cache.put(&a, six, b"a at six, newer").unwrap();
        cache.put(&c, six, b"c").unwrap();
        let pack = cache.pack_path().to_path_buf();
        let before = fs::metadata(&pack).unwrap().len();
        fs::write(dir.path().join(".gz.pack.1.2.tmp"), b"left by a kill").unwrap();

        drop(cache);
        let dry = DirGzCache::open(dir.path())
            .unwrap()
            .retain(|id| *id != b, true)
            .unwrap();
        assert_eq!((dry.kept, dry.dropped), (3, 1));
        assert_eq!(
            fs::metadata(&pack).unwrap().len(),
            before,
            "a dry run writes nothing"
        );

        let r = DirGzCache::open(dir.path())
            .unwrap()
            .retain(|id| *id != b, false)
            .unwrap();
        assert_eq!((r.kept, r.dropped, r.bytes_before), (3, 1, before));
        assert_eq!(fs::metadata(&pack).unwrap().len(), r.bytes_after);
        assert!(r.bytes_after < before);
        assert!(!dir.path().join(".gz.pack.1.2.tmp").exists());

        let cache = DirGzCache::open(dir.path()).unwrap();
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.get(&b, six).unwrap(), None);
        assert_eq!(
            cache.get(&a, six).unwrap().as_deref(),
            Some(&b"a at six, newer"[..])
        );
        assert_eq!(
            cache.get(&a, four).unwrap().as_deref(),
            Some(&b"a at four"[..])
        );
        assert_eq!(cache.get(&c, six).unwrap().as_deref(), Some(&b"c"[..]));
    }

    #[test]
    fn a_compaction_never_waits_for_a_cache_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let in_use = DirGzCache::open(dir.path()).unwrap();
        assert!(DirGzCache::try_open(dir.path()).unwrap().is_none());
        drop(in_use);
        assert!(DirGzCache::try_open(dir.path()).unwrap().is_some());
    }
}
