//! Pack files: many objects appended into one file.
//!
//! A build tree holds ~100k small files. One file per object (git's loose objects) would make every snapshot
//! create 100k files, which costs more than hashing and compressing all of their bytes. Objects are therefore
//! appended to large pack files, written once under `tmp/`, fsynced, and renamed into `packs/` under the
//! BLAKE3 of their contents. Packs are immutable after the rename; the index (RocksDB) maps each object id to
//! its pack and offset, and is only updated once the pack is durable.
//!
//! Layout: a 12-byte header (`SLUGPACK`, format version as u32 LE) followed by records. Each record is
//! `id[32] codec[1] raw_len[u64 LE] stored_len[u64 LE] data[stored_len]`. Records are self-describing, so a
//! pack can be scanned without the index (to rebuild it or to import a pack from a remote).

use std::fs::{self, File};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, IoResultExt, Result};
use crate::id::ObjectId;

/// Magic bytes and version at the start of every pack.
pub const PACK_HEADER: &[u8; 12] = b"SLUGPACK\x01\x00\x00\x00";
/// Size of a record header.
pub const RECORD_HEADER_LEN: u64 = 32 + 1 + 8 + 8;

/// How an object's bytes are stored in its record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Codec {
    /// Stored as-is (compression did not pay).
    Raw = 0,
    /// A zstd frame.
    Zstd = 1,
    /// A base object's id, then a zstd frame compressed against that object's bytes. Only in remote
    /// packs (see `remote::patch`); decoding needs the base.
    Patch = 2,
}

impl Codec {
    /// Decodes the codec byte.
    pub fn from_u8(b: u8) -> Option<Codec> {
        match b {
            0 => Some(Codec::Raw),
            1 => Some(Codec::Zstd),
            2 => Some(Codec::Patch),
            _ => None,
        }
    }
}

/// Where an object lives: which pack, at which offset, how it is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// The pack's id (BLAKE3 of the pack file).
    pub pack: ObjectId,
    /// Offset of the record header in the pack.
    pub offset: u64,
    /// Encoding of the stored bytes.
    pub codec: Codec,
    /// Uncompressed length.
    pub raw_len: u64,
    /// Stored (possibly compressed) length.
    pub stored_len: u64,
}

impl Location {
    /// Encoded length in the index.
    pub const ENCODED_LEN: usize = 32 + 8 + 1 + 8 + 8;

    /// Offset of the first data byte.
    pub fn data_offset(&self) -> u64 {
        self.offset + RECORD_HEADER_LEN
    }

    /// Fixed-size binary encoding for the index.
    pub fn encode(&self) -> [u8; Self::ENCODED_LEN] {
        let mut b = [0u8; Self::ENCODED_LEN];
        b[..32].copy_from_slice(self.pack.as_bytes());
        b[32..40].copy_from_slice(&self.offset.to_le_bytes());
        b[40] = self.codec as u8;
        b[41..49].copy_from_slice(&self.raw_len.to_le_bytes());
        b[49..57].copy_from_slice(&self.stored_len.to_le_bytes());
        b
    }

    /// Decodes [`Location::encode`]'s output.
    pub fn decode(b: &[u8]) -> Result<Location> {
        let bad = || {
            Error::format(
                "index entry",
                format!("bad object location of {} bytes", b.len()),
            )
        };
        if b.len() != Self::ENCODED_LEN {
            return Err(bad());
        }
        let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap());
        Ok(Location {
            pack: ObjectId::from_slice(&b[..32]).ok_or_else(bad)?,
            offset: u64_at(32),
            codec: Codec::from_u8(b[40]).ok_or_else(bad)?,
            raw_len: u64_at(41),
            stored_len: u64_at(49),
        })
    }
}

/// A record header as read from a pack.
#[derive(Debug, Clone, Copy)]
pub struct RecordHeader {
    /// Object id the record claims.
    pub id: ObjectId,
    /// Encoding.
    pub codec: Codec,
    /// Uncompressed length.
    pub raw_len: u64,
    /// Stored length.
    pub stored_len: u64,
}

impl RecordHeader {
    fn encode(&self) -> [u8; RECORD_HEADER_LEN as usize] {
        let mut b = [0u8; RECORD_HEADER_LEN as usize];
        b[..32].copy_from_slice(self.id.as_bytes());
        b[32] = self.codec as u8;
        b[33..41].copy_from_slice(&self.raw_len.to_le_bytes());
        b[41..49].copy_from_slice(&self.stored_len.to_le_bytes());
        b
    }

    /// Parses a record header from the start of `b`.
    pub fn decode(b: &[u8]) -> Option<RecordHeader> {
        if b.len() < RECORD_HEADER_LEN as usize {
            return None;
        }
        Some(RecordHeader {
            id: ObjectId::from_slice(&b[..32])?,
            codec: Codec::from_u8(b[32])?,
            raw_len: u64::from_le_bytes(b[33..41].try_into().ok()?),
            stored_len: u64::from_le_bytes(b[41..49].try_into().ok()?),
        })
    }
}

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

/// Iterates the records of a pack held in memory (or mapped), for scans that do not use the index.
/// Yields `(header, record offset)`; stops after the first error.
pub fn records(pack: &[u8]) -> impl Iterator<Item = Result<(RecordHeader, u64)>> + '_ {
    let mut next: Option<u64> = Some(0);
    std::iter::from_fn(move || {
        let offset = next?;
        if offset == 0 {
            if !pack.starts_with(PACK_HEADER) {
                next = None;
                return Some(Err(Error::format("pack", "missing SLUGPACK header")));
            }
            next = Some(PACK_HEADER.len() as u64);
            return records_step(pack, PACK_HEADER.len() as u64, &mut next);
        }
        records_step(pack, offset, &mut next)
    })
}

fn records_step(
    pack: &[u8],
    offset: u64,
    next: &mut Option<u64>,
) -> Option<Result<(RecordHeader, u64)>> {
    if offset == pack.len() as u64 {
        *next = None;
        return None;
    }
    *next = None;
    let Some(h) = RecordHeader::decode(&pack[offset as usize..]) else {
        return Some(Err(Error::format(
            "pack",
            format!("truncated record header at offset {offset}"),
        )));
    };
    let end = offset
        .checked_add(RECORD_HEADER_LEN + h.stored_len)
        .filter(|&e| e <= pack.len() as u64);
    let Some(end) = end else {
        return Some(Err(Error::format(
            "pack",
            format!("record at offset {offset} runs past the end"),
        )));
    };
    *next = Some(end);
    Some(Ok((h, offset)))
}

/// An open, immutable pack read with positioned reads (`pread`).
///
/// Packs are not memory-mapped: a restore touches every page of every pack, and mapped pages count
/// toward the process's resident set, which would then grow with the store instead of staying bounded.
#[derive(Debug)]
pub struct PackFile {
    file: File,
    len: u64,
    path: PathBuf,
}

impl PackFile {
    /// Opens the pack at `path` and checks its header.
    pub fn open(path: PathBuf) -> Result<PackFile> {
        use std::os::unix::fs::FileExt;
        let file = File::open(&path).at(&path)?;
        let len = file.metadata().at(&path)?.len();
        let mut header = [0u8; PACK_HEADER.len()];
        // Object reads check their record headers and bytes; the pack header is checked here, once per
        // open, so damage to it is reported too instead of going unnoticed.
        if file.read_exact_at(&mut header, 0).is_err() || &header != PACK_HEADER {
            return Err(Error::format(
                path.display().to_string(),
                "damaged pack: missing SLUGPACK header",
            ));
        }
        Ok(PackFile { file, len, path })
    }

    /// The pack's size in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True for a pack holding nothing, not even a header (never the case for an opened pack).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Fills `buf` from `offset`.
    pub fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        use std::os::unix::fs::FileExt;
        self.file.read_exact_at(buf, offset).at(&self.path)
    }

    /// A reader of `len` bytes from `offset`, for streaming large records.
    pub fn reader(&self, offset: u64, len: u64) -> impl Read + '_ {
        PackReader {
            pack: self,
            pos: offset,
            end: offset + len,
        }
    }
}

struct PackReader<'a> {
    pack: &'a PackFile,
    pos: u64,
    end: u64,
}

impl Read for PackReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let want = buf.len().min((self.end - self.pos) as usize);
        if want == 0 {
            return Ok(0);
        }
        let n = self.pack.file.read_at(&mut buf[..want], self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}
