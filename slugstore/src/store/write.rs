//! Writing objects: dedupe, compress, append to packs — from many threads at once.
//!
//! An object already in the store is not stored again, unless `slug verify` marked it damaged
//! ([`Store::is_damaged`]): then the good bytes at hand are stored anew, and committing the writer's
//! [`Staged`] points the index at the new copy and drops the mark. Otherwise a snapshot of the same
//! content would deduplicate against the damaged copy, and its slug would be born broken.
//!
//! Workers call [`ObjectWriter::add`] in parallel. Compression runs on the calling thread (that is where
//! the CPU time goes), and so does the append: a worker takes an open pack nobody is writing to (or
//! starts one), appends without holding any lock, and puts it back, so workers never wait for each
//! other's writes. A pack that reaches [`PACK_TARGET`] is finished (fsync, rename) by the worker that
//! filled it. Objects larger than
//! [`IN_MEMORY_LIMIT`](super::read::IN_MEMORY_LIMIT) are streamed from their file into a pack of their
//! own, so memory stays bounded whatever the tree holds.

use foldhash::HashSet;
use std::cell::RefCell;
use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde::Serialize;

use crate::error::{Error, IoResultExt, Result};
use crate::fsutil;
use crate::id::ObjectId;
use crate::store::index::Batch;
use crate::store::pack::{Codec, FinishedPack, Location, PackWriter};
use crate::store::{Compression, Store};

/// A pack is closed once it grows past this size.
pub const PACK_TARGET: u64 = 64 << 20;

thread_local! {
    static COMPRESSOR: RefCell<Option<(i32, zstd::bulk::Compressor<'static>)>> = const { RefCell::new(None) };
    static OUT_BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// What a writer added.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct WriteStats {
    /// Objects newly stored.
    pub new_objects: u64,
    /// Their uncompressed bytes.
    pub new_bytes: u64,
    /// Bytes they take in packs.
    pub stored_bytes: u64,
}

/// Adds objects to a store; see the module docs.
pub struct ObjectWriter<'s> {
    store: &'s Store,
    compression: Compression,
    /// Open packs no worker is appending to.
    idle: Mutex<Vec<PackWriter>>,
    finished: Mutex<Vec<FinishedPack>>,
    pending: Mutex<HashSet<ObjectId>>,
    /// Store objects the index already has (see [`ObjectWriter::replacing`]).
    replace: bool,
    new_objects: AtomicU64,
    new_bytes: AtomicU64,
    stored_bytes: AtomicU64,
}

/// Objects written and durable in their packs, waiting to be indexed by [`Staged::stage`] + commit.
#[derive(Debug)]
pub struct Staged {
    /// Each new object and where it is.
    pub objects: Vec<(ObjectId, Location)>,
    /// The objects among them that were marked damaged: their new copy replaces the damaged one.
    pub healed: Vec<ObjectId>,
    /// The packs written.
    pub packs: Vec<ObjectId>,
    /// Counts.
    pub stats: WriteStats,
}

impl Staged {
    /// Adds the index entries of the staged objects to `batch`, and drops the damage marks of those
    /// that replace a damaged copy.
    pub fn stage(&self, batch: &mut Batch<'_>) -> Result<()> {
        for id in &self.healed {
            batch.unmark_damaged(id);
        }
        batch.put_objects(&self.objects)
    }
}

impl<'s> ObjectWriter<'s> {
    pub(crate) fn new(store: &'s Store, compression: Compression) -> Self {
        ObjectWriter {
            store,
            compression,
            idle: Mutex::new(Vec::new()),
            finished: Mutex::new(Vec::new()),
            pending: Mutex::new(HashSet::default()),
            replace: false,
            new_objects: AtomicU64::new(0),
            new_bytes: AtomicU64::new(0),
            stored_bytes: AtomicU64::new(0),
        }
    }

    /// A writer that stores objects even when the index already has them, so that committing its
    /// [`Staged`] entries points the index at the new copies. Repair uses it to replace damaged objects
    /// with good copies fetched from a remote.
    pub fn replacing(mut self) -> Self {
        self.replace = true;
        self
    }

    /// True when `id` is in the store (and not marked damaged) or already added by this writer.
    pub fn has(&self, id: &ObjectId) -> Result<bool> {
        Ok(self.pending.lock().expect("lock").contains(id) || self.store.has_sound_object(id)?)
    }

    /// Claims `id` for this writer: false when it is stored (and not marked damaged) or claimed
    /// already.
    fn claim(&self, id: &ObjectId) -> Result<bool> {
        if !self.replace && self.store.has_sound_object(id)? {
            return Ok(false);
        }
        Ok(self.pending.lock().expect("lock").insert(*id))
    }

    /// Hashes and stores `data`; returns its id and whether it was new.
    pub fn add(&self, data: &[u8]) -> Result<(ObjectId, bool)> {
        let id = ObjectId::hash(data);
        Ok((id, self.add_with_id_at(id, data, self.compression)?))
    }

    /// Stores `data` compressed at zstd `level` instead of the store's; returns its id and whether it
    /// was new. For a manifest: several MB written on every snapshot and on its critical path, where
    /// level 1 compresses about twice as fast as 3 for a few percent more bytes (its hashes do not
    /// compress at any level).
    pub fn add_at_level(&self, data: &[u8], level: i32) -> Result<(ObjectId, bool)> {
        let id = ObjectId::hash(data);
        Ok((id, self.add_with_id_at(id, data, Compression::Zstd(level))?))
    }

    /// Stores `data`, whose hash the caller computed as `id`; returns whether it was new.
    pub fn add_with_id(&self, id: ObjectId, data: &[u8]) -> Result<bool> {
        self.add_with_id_at(id, data, self.compression)
    }

    fn add_with_id_at(&self, id: ObjectId, data: &[u8], compression: Compression) -> Result<bool> {
        if !self.claim(&id)? {
            return Ok(false);
        }
        self.encode_append(id, data, compression)?;
        Ok(true)
    }

    /// As [`ObjectWriter::add_relocated`], for an object whose raw bytes are `data`: compressed at this
    /// writer's setting first (kept raw when that saves too little). Garbage collection uses it to
    /// compress objects stored with compression off. The caller must have verified `data`.
    pub fn add_relocated_compressing(&self, id: ObjectId, data: &[u8]) -> Result<bool> {
        if !self.claim_relocated(id) {
            return Ok(false);
        }
        self.encode_append(id, data, self.compression)?;
        Ok(true)
    }

    /// Compresses `data` per `compression` (see [`encode`]) and appends it.
    fn encode_append(&self, id: ObjectId, data: &[u8], compression: Compression) -> Result<()> {
        OUT_BUF.with(|buf| -> Result<()> {
            let mut buf = buf.borrow_mut();
            let (codec, stored) = encode(compression, data, &mut buf);
            self.append(id, codec, data.len() as u64, stored)
        })
    }

    /// Claims `id` for a relocation, whatever the index says: false when this writer has it already.
    fn claim_relocated(&self, id: ObjectId) -> bool {
        self.pending.lock().expect("lock").insert(id)
    }

    /// Stores object `id` from bytes already encoded with `codec` (copied from another pack, a remote's
    /// included), without compressing them again; returns whether it was new. The caller must have
    /// checked that `stored` decodes to `raw_len` bytes hashing to `id`
    /// ([`decode_verified`](crate::store::decode_verified)).
    pub fn add_encoded(
        &self,
        id: ObjectId,
        codec: Codec,
        raw_len: u64,
        stored: &[u8],
    ) -> Result<bool> {
        if !self.claim(&id)? {
            return Ok(false);
        }
        self.append(id, codec, raw_len, stored)?;
        Ok(true)
    }

    /// Appends an object that is already encoded (`stored` is its record data as found in another
    /// pack), without consulting the index: garbage collection uses it to move live objects out of a
    /// pack it is about to delete. The caller must have verified the object.
    pub fn add_relocated(
        &self,
        id: ObjectId,
        codec: Codec,
        raw_len: u64,
        stored: &[u8],
    ) -> Result<bool> {
        if !self.claim_relocated(id) {
            return Ok(false);
        }
        self.append(id, codec, raw_len, stored)?;
        Ok(true)
    }

    /// [`ObjectWriter::add_relocated`] for a record too large to hold in memory: its stored bytes are
    /// copied from `stored` (a reader of exactly the record's bytes) into a pack of their own.
    pub fn add_relocated_stream(
        &self,
        id: ObjectId,
        codec: Codec,
        raw_len: u64,
        stored: &mut dyn Read,
    ) -> Result<bool> {
        if !self.claim_relocated(id) {
            return Ok(false);
        }
        let mut w = self.new_pack()?;
        w.append_stream(id, codec, raw_len, |sink| {
            std::io::copy(stored, sink).map(|_| ())
        })?;
        let written = w.len();
        self.finish_pack(w)?;
        self.count(raw_len, written);
        Ok(true)
    }

    fn append(&self, id: ObjectId, codec: Codec, raw_len: u64, stored: &[u8]) -> Result<()> {
        let idle = self.idle.lock().expect("lock").pop();
        let mut w = match idle {
            Some(w) => w,
            None => self.new_pack()?,
        };
        // On error the pack is dropped with its temporary file, which the store's next open removes.
        w.append(id, codec, raw_len, stored)?;
        self.count(raw_len, stored.len() as u64);
        if w.len() >= PACK_TARGET {
            self.finish_pack(w)
        } else {
            self.idle.lock().expect("lock").push(w);
            Ok(())
        }
    }

    fn count(&self, raw: u64, stored: u64) {
        self.new_objects.fetch_add(1, Ordering::Relaxed);
        self.new_bytes.fetch_add(raw, Ordering::Relaxed);
        self.stored_bytes.fetch_add(stored, Ordering::Relaxed);
    }

    fn new_pack(&self) -> Result<PackWriter> {
        PackWriter::create(self.store.tmp_dir().join(fsutil::temp_name("pack")))
    }

    fn finish_pack(&self, w: PackWriter) -> Result<()> {
        if let Some(p) = w.finish(&self.store.packs_dir())? {
            self.finished.lock().expect("lock").push(p);
        }
        Ok(())
    }

    /// Stores the content of the large file at `path`, whose hash the caller computed as `id`, streaming
    /// it through zstd into a pack of its own. Fails, storing nothing, if the file no longer hashes to `id`.
    pub fn add_file_streaming(&self, id: ObjectId, path: &Path, len: u64) -> Result<bool> {
        if !self.claim(&id)? {
            return Ok(false);
        }
        let file = File::open(path).at(path)?;
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let mut w = self.new_pack()?;
        let mut hasher = blake3::Hasher::new();
        let mut seen = 0u64;
        let level = self.compression.level();
        let codec = if level.is_some() {
            Codec::Zstd
        } else {
            Codec::Raw
        };
        w.append_stream(id, codec, len, |sink| {
            let mut copy = |out: &mut dyn Write| -> std::io::Result<()> {
                let mut buf = vec![0u8; 1 << 20];
                loop {
                    let n = reader.read(&mut buf)?;
                    if n == 0 {
                        return Ok(());
                    }
                    hasher.update(&buf[..n]);
                    seen += n as u64;
                    out.write_all(&buf[..n])?;
                }
            };
            match level {
                Some(level) => {
                    let mut enc = zstd::stream::Encoder::new(sink, level)?;
                    copy(&mut enc)?;
                    enc.finish()?;
                }
                None => copy(sink)?,
            }
            Ok(())
        })?;
        if seen != len || ObjectId::from(hasher.finalize()) != id {
            return Err(Error::FileChanged {
                path: path.to_path_buf(),
                during: "stored",
            });
        }
        let stored = w.len();
        self.finish_pack(w)?;
        self.count(len, stored);
        Ok(true)
    }

    /// Counts so far.
    pub fn stats(&self) -> WriteStats {
        WriteStats {
            new_objects: self.new_objects.load(Ordering::Relaxed),
            new_bytes: self.new_bytes.load(Ordering::Relaxed),
            stored_bytes: self.stored_bytes.load(Ordering::Relaxed),
        }
    }

    /// Makes every written pack durable and returns the index entries to commit.
    pub fn finish(self) -> Result<Staged> {
        let stats = self.stats();
        for w in std::mem::take(&mut *self.idle.lock().expect("lock")) {
            self.finish_pack(w)?;
        }
        let finished = self.finished.into_inner().expect("lock");
        if !finished.is_empty() {
            fsutil::sync_dir(&self.store.packs_dir())?;
        }
        let mut objects = Vec::new();
        let mut packs = Vec::new();
        for p in finished {
            packs.push(p.id);
            objects.extend(p.records.iter().map(|r| (r.id, r.located(p.id))));
        }
        // In key order: a long run is written as a sorted table ([`Batch::put_objects`]), a short one
        // goes into the memtable, each entry next to the previous one.
        objects.sort_unstable_by_key(|(id, _)| *id);
        let healed = objects
            .iter()
            .map(|(id, _)| *id)
            .filter(|id| self.store.is_damaged(id))
            .collect();
        Ok(Staged {
            objects,
            healed,
            packs,
            stats,
        })
    }
}

/// The bytes `data` would take stored at zstd `level`: compressed, or raw when that saves under 1/32
/// (the writer's rule).
pub fn stored_size(level: i32, data: &[u8]) -> usize {
    OUT_BUF.with(|buf| {
        encode(Compression::Zstd(level), data, &mut buf.borrow_mut())
            .1
            .len()
    })
}

/// How `data` is stored per `compression`: zstd-compressed into `buf`, or raw (`data` itself) when
/// compression is off or saves under 1/32 of the size.
fn encode<'a>(compression: Compression, data: &'a [u8], buf: &'a mut Vec<u8>) -> (Codec, &'a [u8]) {
    match compression.level().and_then(|l| compress(l, data, buf)) {
        Some(n) if n + n / 32 < data.len() => (Codec::Zstd, &buf[..n]),
        _ => (Codec::Raw, data),
    }
}

/// Compresses `data` into `buf`; returns the compressed length, or `None` if zstd failed.
fn compress(level: i32, data: &[u8], buf: &mut Vec<u8>) -> Option<usize> {
    COMPRESSOR.with(|c| {
        let mut c = c.borrow_mut();
        if c.as_ref().map(|(l, _)| *l) != Some(level) {
            *c = Some((level, zstd::bulk::Compressor::new(level).ok()?));
        }
        let (_, comp) = c.as_mut().expect("just set");
        buf.clear();
        buf.reserve(zstd::zstd_safe::compress_bound(data.len()));
        comp.compress_to_buffer(data, buf).ok()
    })
}
