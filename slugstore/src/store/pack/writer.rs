//! Writing a pack: records appended under a temporary name in `tmp/`, the pack hashed as it is
//! written, then fsynced and renamed into `packs/` under that hash.

use std::fs::{self, File};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::{Codec, Location, RecordHeader, PACK_HEADER, RECORD_HEADER_LEN};
use crate::error::{Error, IoResultExt, Result};
use crate::id::ObjectId;

/// A record appended to a pack being written, before the pack has its final name.
#[derive(Debug, Clone, Copy)]
pub struct PendingRecord {
    /// The object.
    pub id: ObjectId,
    /// Record offset.
    pub offset: u64,
    /// Encoding.
    pub codec: Codec,
    /// Uncompressed length.
    pub raw_len: u64,
    /// Stored length.
    pub stored_len: u64,
}

impl PendingRecord {
    /// The record's location once its pack is named.
    pub fn located(&self, pack: ObjectId) -> Location {
        Location {
            pack,
            offset: self.offset,
            codec: self.codec,
            raw_len: self.raw_len,
            stored_len: self.stored_len,
        }
    }
}

/// Appends records to a new pack under a temporary name.
pub struct PackWriter {
    tmp_path: PathBuf,
    out: BufWriter<File>,
    hasher: blake3::Hasher,
    len: u64,
    /// Bytes already handed to the kernel for write-back.
    started_writeback: u64,
    records: Vec<PendingRecord>,
}

/// Write-back of a pack being written is started every this many bytes, so the fsync that publishes it
/// finds little left to write (the same idea as RocksDB's `bytes_per_sync`).
const WRITEBACK_EVERY: u64 = 8 << 20;

/// A pack made durable and renamed into place.
#[derive(Debug)]
pub struct FinishedPack {
    /// The pack id (BLAKE3 of its bytes).
    pub id: ObjectId,
    /// Its final path.
    pub path: PathBuf,
    /// Its size in bytes.
    pub len: u64,
    /// What it holds.
    pub records: Vec<PendingRecord>,
}

impl PackWriter {
    /// Starts a pack at `tmp_path` (which must not exist).
    pub fn create(tmp_path: PathBuf) -> Result<Self> {
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp_path)
            .at(&tmp_path)?;
        let mut w = PackWriter {
            out: BufWriter::with_capacity(1 << 20, file),
            tmp_path,
            hasher: blake3::Hasher::new(),
            len: 0,
            started_writeback: 0,
            records: Vec::new(),
        };
        w.write_all(PACK_HEADER)?;
        Ok(w)
    }

    fn write_all(&mut self, b: &[u8]) -> Result<()> {
        self.out.write_all(b).at(&self.tmp_path)?;
        self.hasher.update(b);
        self.len += b.len() as u64;
        if self.len - self.started_writeback >= WRITEBACK_EVERY {
            self.start_writeback()?;
        }
        Ok(())
    }

    /// Asks the kernel to start writing what was appended so far, without waiting for it.
    fn start_writeback(&mut self) -> Result<()> {
        use std::os::fd::AsRawFd;
        self.out.flush().at(&self.tmp_path)?;
        let (from, len) = (self.started_writeback, self.len - self.started_writeback);
        // SAFETY: plain syscall on an fd we own; it only schedules write-back of the given range.
        unsafe {
            libc::sync_file_range(
                self.out.get_ref().as_raw_fd(),
                from as libc::off64_t,
                len as libc::off64_t,
                libc::SYNC_FILE_RANGE_WRITE,
            );
        }
        self.started_writeback = self.len;
        Ok(())
    }

    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when only the header was written.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Appends one record holding `data` (already encoded with `codec`).
    pub fn append(&mut self, id: ObjectId, codec: Codec, raw_len: u64, data: &[u8]) -> Result<()> {
        let header = RecordHeader {
            id,
            codec,
            raw_len,
            stored_len: data.len() as u64,
        };
        let offset = self.len;
        self.write_all(&header.encode())?;
        self.write_all(data)?;
        self.records.push(PendingRecord {
            id,
            offset,
            codec,
            raw_len,
            stored_len: data.len() as u64,
        });
        Ok(())
    }

    /// Appends one record whose data is streamed from `reader` through `encode`, which must write the
    /// encoded bytes to its sink and return nothing else. Used for objects too large to hold in memory.
    pub fn append_stream(
        &mut self,
        id: ObjectId,
        codec: Codec,
        raw_len: u64,
        encode: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
    ) -> Result<()> {
        let offset = self.len;
        // Placeholder header; patched once the stored length is known.
        let mut header = RecordHeader {
            id,
            codec,
            raw_len,
            stored_len: 0,
        };
        self.out.write_all(&header.encode()).at(&self.tmp_path)?;
        let mut counter = CountingWriter {
            inner: &mut self.out,
            count: 0,
        };
        encode(&mut counter).at(&self.tmp_path)?;
        let stored_len = counter.count;
        header.stored_len = stored_len;
        self.out.flush().at(&self.tmp_path)?;
        let file = self.out.get_mut();
        file.seek(SeekFrom::Start(offset)).at(&self.tmp_path)?;
        file.write_all(&header.encode()).at(&self.tmp_path)?;
        file.seek(SeekFrom::End(0)).at(&self.tmp_path)?;
        // The streamed bytes bypassed the running hash: rehash the record from disk.
        let mut f = File::open(&self.tmp_path).at(&self.tmp_path)?;
        f.seek(SeekFrom::Start(offset)).at(&self.tmp_path)?;
        let mut take = f.take(RECORD_HEADER_LEN + stored_len);
        std::io::copy(&mut take, &mut HashWriter(&mut self.hasher)).at(&self.tmp_path)?;
        self.len += RECORD_HEADER_LEN + stored_len;
        self.records.push(PendingRecord {
            id,
            offset,
            codec,
            raw_len,
            stored_len,
        });
        Ok(())
    }

    /// Flushes, fsyncs, and renames the pack to `packs_dir/<id>.pack`. Returns `None` for an empty pack
    /// (which is deleted).
    pub fn finish(self, packs_dir: &Path) -> Result<Option<FinishedPack>> {
        self.finish_as(packs_dir, true)
    }

    /// Like [`PackWriter::finish`] but without the fsync: for a pack that only lives until it is
    /// uploaded (push), whose loss in a crash costs nothing but a rebuild.
    pub fn finish_transient(self, dir: &Path) -> Result<Option<FinishedPack>> {
        self.finish_as(dir, false)
    }

    fn finish_as(mut self, packs_dir: &Path, durable: bool) -> Result<Option<FinishedPack>> {
        if self.records.is_empty() {
            drop(self.out);
            fs::remove_file(&self.tmp_path).at(&self.tmp_path)?;
            return Ok(None);
        }
        self.out.flush().at(&self.tmp_path)?;
        let file = self
            .out
            .into_inner()
            .map_err(|e| Error::io(&self.tmp_path, e.into_error()))?;
        if durable {
            file.sync_all().at(&self.tmp_path)?;
        }
        drop(file);
        let id = ObjectId::from(self.hasher.finalize());
        let path = pack_path(packs_dir, &id);
        fs::rename(&self.tmp_path, &path).at(&path)?;
        Ok(Some(FinishedPack {
            id,
            path,
            len: self.len,
            records: self.records,
        }))
    }
}

/// The path of pack `id` in `packs_dir`.
pub fn pack_path(packs_dir: &Path, id: &ObjectId) -> PathBuf {
    packs_dir.join(format!("{}.pack", id.to_hex()))
}

struct CountingWriter<'a, W: Write> {
    inner: &'a mut W,
    count: u64,
}

impl<W: Write> Write for CountingWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

struct HashWriter<'a>(&'a mut blake3::Hasher);

impl Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
