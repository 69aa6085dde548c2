//! The store's index: a RocksDB database beside the packs.
//!
//! RocksDB holds everything small and mutable — where each object lives, slug records, refs and their
//! history, the stat cache — so each of those updates is one atomic, fsynced write batch. Packs hold the
//! bytes. A slug becomes visible in the same batch that indexes its objects, after their packs are durable,
//! which is what makes a killed snapshot harmless: it leaves at most an unreferenced pack.
//!
//! Column families and their keys:
//!
//! | family    | key                              | value                                  |
//! |-----------|----------------------------------|----------------------------------------|
//! | `objects` | object id (32 bytes)             | [`Location`] (57 bytes)                |
//! | `slugs`   | slug id (32 bytes)               | [`SlugRecord`] as JSON                 |
//! | `refs`    | ref name (UTF-8)                 | slug id (32 bytes)                     |
//! | `reflog`  | ref name, `0x00`, seq (u64 BE)   | [`RefLogEntry`] as JSON                |
//! | `stat`    | tree key (16 bytes), path bytes  | [`StatEntry`] (fixed 72 bytes)         |
//! | `meta`    | UTF-8 name                       | UTF-8 value (`format` = `1`, `target:…`, `damaged/<id>`) |
//!
//! A damaged index is never read past in silence: a write-ahead log with a damaged record makes the open
//! fail with [`Error::IndexDamaged`] naming the file, every table block is checked against its checksum
//! when read, and [`Index::check`] reads them all (`slug verify`).
//!
//! RocksDB also gives the store its lock: only one process can open the database at a time, the lock is an
//! `fcntl` lock the kernel drops when its holder dies, so a killed `slug` never leaves the store locked.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rocksdb::{
    BlockBasedOptions, ColumnFamily, ColumnFamilyDescriptor, DBRecoveryMode, Direction,
    IngestExternalFileOptions, IteratorMode, Options, SstFileWriter, WriteBatch, WriteOptions, DB,
};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::id::{ObjectId, SlugId};
use crate::slug::SlugRecord;
use crate::store::lock::{is_lock_error, lock, StoreLock};
use crate::store::pack::Location;

const CFS: &[&str] = &["objects", "slugs", "refs", "reflog", "stat", "meta"];

/// The options of column family `cf`, also used for the table files ingested into it.
///
/// `objects` is read by point lookups of hashes (is this object stored? where?), whose keys are
/// random: every table file of the family spans the whole key range, so without a filter each lookup
/// reads a block of every file. A bloom filter (10 bits per key, ~1% false positives) lets a lookup
/// skip the files that cannot hold the key. The other families are scanned by prefix or small.
fn cf_options(cf: &str) -> Options {
    let mut opts = Options::default();
    // Compactions run in the commands that write, not in the background (see `Index::compact_piled_up`).
    opts.set_disable_auto_compactions(true);
    if cf == "objects" {
        let mut table = BlockBasedOptions::default();
        table.set_bloom_filter(10.0, false);
        opts.set_block_based_table_factory(&table);
    }
    opts
}

/// One change of a ref, kept so `production` has a history to roll back along.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RefLogEntry {
    /// Ref name.
    pub name: String,
    /// The slug the ref was set to.
    pub slug: SlugId,
    /// The slug it pointed at before, if any.
    pub previous: Option<SlugId>,
    /// Unix time of the change, in seconds.
    pub time: u64,
    /// Why (the snapshot message, or the command that moved it).
    pub message: Option<String>,
}

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

/// How to behave when another process holds the store.
pub struct LockWait<'a> {
    /// Give up after this long (`None`: wait forever).
    pub timeout: Option<Duration>,
    /// Called once when the store is found locked, before waiting.
    pub on_wait: &'a dyn Fn(&Path),
}

/// The RocksDB index of a store.
pub struct Index {
    db: DB,
    path: PathBuf,
    /// The store's `tmp/`, where table files are written before ingestion.
    tmp: PathBuf,
    /// The store's lock (see `store::lock`), held while the index is open.
    _lock: StoreLock,
}

/// How the index is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    ReadWrite,
    /// For commands that only read. RocksDB then writes nothing at open (no new manifest, options
    /// file, log or fsync): ~3 ms instead of ~11 ms here. Writes fail.
    ReadOnly,
}

impl Index {
    /// Opens (creating if needed) the index at `path`, waiting for another process's lock as `wait` says.
    pub fn open(path: &Path, wait: &LockWait<'_>) -> Result<Index> {
        Index::open_mode(path, wait, Mode::ReadWrite)
    }

    /// Opens the existing index at `path` for reading only, holding the same lock as a writer (so
    /// commands still run one at a time on a store), waiting for it as `wait` says.
    pub fn open_read_only(path: &Path, wait: &LockWait<'_>) -> Result<Index> {
        Index::open_mode(path, wait, Mode::ReadOnly)
    }

    fn open_mode(path: &Path, wait: &LockWait<'_>, mode: Mode) -> Result<Index> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_write_buffer_size(16 << 20);
        opts.set_max_write_buffer_number(2);
        opts.set_keep_log_file_num(2);
        opts.increase_parallelism(2);
        // Every command opens the index, so opening is on the path of each one: open the table files
        // on this thread (the default starts 16 threads per column family for a few dozen files) and
        // skip the statistics pass over them.
        opts.set_max_file_opening_threads(1);
        opts.set_skip_stats_update_on_db_open(true);
        // Open table files when first read, not all of them at open (RocksDB's default, -1): `slug refs`
        // reads one column family, a snapshot three.
        opts.set_max_open_files(512);
        opts.set_skip_checking_sst_file_sizes_on_db_open(true);
        // The info log dumps every option of every column family at each open (~95 KB of formatted
        // text), and the statistics threads wake up for nothing in a process that lives for a second:
        // together a third of the cost of opening.
        //
        // Fatal messages only: RocksDB's info log aborts the process (a debug assertion, kept
        // in the distribution's library) when it writes a message after a write of it failed, which is
        // what a full disk does to every later open. The errors reach the caller as statuses anyway.
        opts.set_log_level(rocksdb::LogLevel::Fatal);
        // The write-ahead log is replayed at open. RocksDB's default (point in time) stops at the first
        // damaged record and silently drops it and everything after it: a committed slug would vanish.
        // This mode refuses to open instead (see `open_error`), and only forgives a record cut
        // short at the very end of the last log, which is a write that never returned: a commit
        // returns only after its record is synced, and then flushes it to table files.
        opts.set_wal_recovery_mode(DBRecoveryMode::TolerateCorruptedTailRecords);
        opts.set_stats_dump_period_sec(0);
        opts.set_stats_persist_period_sec(0);
        let start = Instant::now();
        let mut announced = false;
        loop {
            let cfs = CFS
                .iter()
                .map(|n| ColumnFamilyDescriptor::new(*n, cf_options(n)));
            // `None`: another process (or another open of this store) holds the lock.
            let opened = lock(path, mode == Mode::ReadOnly)?.and_then(|lock| {
                // Before RocksDB writes anything: on a full disk, a snapshot that failed left its
                // partial pack there, and removing it is what lets the next command work.
                super::empty_tmp(&path.with_file_name("tmp"));
                let db = match mode {
                    Mode::ReadWrite => DB::open_cf_descriptors(&opts, path, cfs),
                    Mode::ReadOnly => DB::open_cf_descriptors_read_only(&opts, path, cfs, false),
                };
                match db {
                    // RocksDB's own lock, held by a process that does not take the store's.
                    Err(e) if is_lock_error(&e) => None,
                    r => Some(r.map(|db| (db, lock))),
                }
            });
            match opened {
                Some(Ok((db, lock))) => {
                    return Ok(Index {
                        db,
                        path: path.to_path_buf(),
                        tmp: path.with_file_name("tmp"),
                        _lock: lock,
                    })
                }
                None => {
                    if wait.timeout.is_some_and(|t| start.elapsed() >= t) {
                        return Err(Error::Locked {
                            path: path.to_path_buf(),
                            waited: start.elapsed(),
                        });
                    }
                    if !announced {
                        (wait.on_wait)(path);
                        announced = true;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                Some(Err(e)) => return Err(open_error(path, e)),
            }
        }
    }

    /// Compacts each column family whose level-0 files reached [`L0_COMPACT_AT`], in this process.
    ///
    /// Every commit flushes what it wrote into a level-0 table file of each family it touched
    /// ([`Index::flush_logged`]). RocksDB would compact them in the background once
    /// four pile up, but a command lives for a fraction of a second: a background compaction started
    /// at open is cancelled, its work lost, when the command closes the index. Level-0 files then pile
    /// up for good while every command pays for a compaction it never finishes, and reads slow down
    /// (a re-snapshot's scan of the stat cache merges every file; seen: 0.47 s -> 0.7 s after a few
    /// dozen snapshots). So background compaction is off, and a commit that leaves
    /// [`L0_COMPACT_AT`] level-0 files in a family compacts that family before returning.
    fn compact_piled_up(&self) -> Result<()> {
        for name in CFS {
            let cf = self.cf(name);
            let level0 = self
                .db
                .property_int_value_cf(cf, "rocksdb.num-files-at-level0")
                .map_err(|e| self.err(e))?
                .unwrap_or(0);
            if level0 >= L0_COMPACT_AT {
                self.db.compact_range_cf(cf, None::<&[u8]>, None::<&[u8]>);
            }
        }
        Ok(())
    }

    /// Moves what the write-ahead log holds into table files, family by family.
    ///
    /// A committed change must not rest in the log alone: a damaged log record looks like the torn
    /// tail of a write that never returned when the damage is in its length, and RocksDB then drops
    /// it without a word. Table files carry a checksum per block that every read checks. Flushing also
    /// spares the next command replaying the log, which it would flush at open all the same: the work
    /// mostly moves (each family is flushed on its own here, a few more fsyncs than one recovery).
    fn flush_logged(&self) -> Result<()> {
        for name in CFS {
            let cf = self.cf(name);
            let logged = self
                .db
                .property_int_value_cf(cf, "rocksdb.num-entries-active-mem-table")
                .map_err(|e| self.err(e))?
                .unwrap_or(1);
            if logged > 0 {
                self.db.flush_cf(cf).map_err(|e| self.err(e))?;
            }
        }
        Ok(())
    }

    fn cf(&self, name: &str) -> &ColumnFamily {
        self.db
            .cf_handle(name)
            .expect("column family created at open")
    }

    fn err(&self, e: rocksdb::Error) -> Error {
        Error::Index {
            path: self.path.clone(),
            source: e,
        }
    }

    fn get(&self, cf: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.db.get_cf(self.cf(cf), key).map_err(|e| self.err(e))
    }

    /// Where object `id` is stored, if indexed.
    pub fn object(&self, id: &ObjectId) -> Result<Option<Location>> {
        self.get("objects", id.as_bytes())?
            .map(|v| Location::decode(&v))
            .transpose()
    }

    /// Where each of `ids` is stored (`None` where not indexed), in the order given. When the ids are
    /// a large part of the index (a first push of a slug), the index is read through once; otherwise
    /// they are looked up in one batch, in key order. One `get` per id took 0.65-0.8 s for the 90k
    /// objects of a slug, the batch 0.3 s, the pass ~30 ms.
    pub fn objects_of(&self, ids: &[ObjectId]) -> Result<Vec<Option<Location>>> {
        let cf = self.cf("objects");
        let indexed = self
            .db
            .property_int_value_cf(cf, "rocksdb.estimate-num-keys")
            .map_err(|e| self.err(e))?
            .unwrap_or(u64::MAX);
        let mut out = vec![None; ids.len()];
        if ids.len() >= 4096 && (ids.len() as u64).saturating_mul(8) >= indexed {
            // Each distinct id at its first position; repeats are copied from there at the end.
            let mut first: foldhash::HashMap<&ObjectId, usize> = Default::default();
            for (i, id) in ids.iter().enumerate() {
                first.entry(id).or_insert(i);
            }
            let mut it = self.db.raw_iterator_cf(cf);
            it.seek_to_first();
            while let (Some(k), Some(v)) = (it.key(), it.value()) {
                if let Some(&i) = ObjectId::from_slice(k).and_then(|id| first.get(&id)) {
                    out[i] = Some(Location::decode(v)?);
                }
                it.next();
            }
            it.status().map_err(|e| self.err(e))?;
            for (i, id) in ids.iter().enumerate() {
                out[i] = out[first[id]];
            }
            return Ok(out);
        }
        let mut order: Vec<usize> = (0..ids.len()).collect();
        order.sort_unstable_by_key(|&i| ids[i]);
        let keys = order.iter().map(|&i| ids[i].as_bytes());
        let found = self.db.batched_multi_get_cf(cf, keys, true);
        for (&i, value) in order.iter().zip(found) {
            if let Some(v) = value.map_err(|e| self.err(e))? {
                out[i] = Some(Location::decode(&v)?);
            }
        }
        Ok(out)
    }

    /// True if object `id` is indexed.
    pub fn has_object(&self, id: &ObjectId) -> Result<bool> {
        Ok(self
            .db
            .get_pinned_cf(self.cf("objects"), id.as_bytes())
            .map_err(|e| self.err(e))?
            .is_some())
    }

    /// Every indexed object, in id order.
    pub fn objects(&self) -> impl Iterator<Item = Result<(ObjectId, Location)>> + '_ {
        self.db
            .iterator_cf(self.cf("objects"), IteratorMode::Start)
            .map(move |kv| {
                let (k, v) = kv.map_err(|e| self.err(e))?;
                let id = ObjectId::from_slice(&k)
                    .ok_or_else(|| Error::format("index", "bad object key"))?;
                Ok((id, Location::decode(&v)?))
            })
    }

    /// The record of slug `id`.
    pub fn slug(&self, id: &SlugId) -> Result<Option<SlugRecord>> {
        self.get("slugs", id.object().as_bytes())?
            .map(|v| {
                serde_json::from_slice(&v)
                    .map_err(|e| Error::format(format!("slug record {id}"), e.to_string()))
            })
            .transpose()
    }

    /// Every slug record, in id order.
    pub fn slugs(&self) -> Result<Vec<SlugRecord>> {
        self.db
            .iterator_cf(self.cf("slugs"), IteratorMode::Start)
            .map(|kv| {
                let (_, v) = kv.map_err(|e| self.err(e))?;
                serde_json::from_slice(&v).map_err(|e| Error::format("slug record", e.to_string()))
            })
            .collect()
    }

    /// The slug a ref points at.
    pub fn get_ref(&self, name: &str) -> Result<Option<SlugId>> {
        Ok(self
            .get("refs", name.as_bytes())?
            .and_then(|v| ObjectId::from_slice(&v))
            .map(SlugId))
    }

    /// Every ref, sorted by name.
    pub fn refs(&self) -> Result<Vec<(String, SlugId)>> {
        self.db
            .iterator_cf(self.cf("refs"), IteratorMode::Start)
            .map(|kv| {
                let (k, v) = kv.map_err(|e| self.err(e))?;
                let id = ObjectId::from_slice(&v)
                    .ok_or_else(|| Error::format("index", "bad ref value"))?;
                Ok((String::from_utf8_lossy(&k).into_owned(), SlugId(id)))
            })
            .collect()
    }

    /// The history of a ref, oldest first.
    pub fn ref_log(&self, name: &str) -> Result<Vec<RefLogEntry>> {
        let prefix = reflog_prefix(name);
        self.db
            .iterator_cf(
                self.cf("reflog"),
                IteratorMode::From(&prefix, Direction::Forward),
            )
            .map(|kv| kv.map_err(|e| self.err(e)))
            .take_while(|kv| kv.as_ref().map_or(true, |(k, _)| k.starts_with(&prefix)))
            .map(|kv| {
                let (_, v) = kv?;
                serde_json::from_slice(&v)
                    .map_err(|e| Error::format("ref log entry", e.to_string()))
            })
            .collect()
    }

    fn next_reflog_seq(&self, name: &str) -> Result<u64> {
        let prefix = reflog_prefix(name);
        let mut end = prefix.clone();
        end.extend_from_slice(&[0xff; 8]);
        let mut it = self.db.iterator_cf(
            self.cf("reflog"),
            IteratorMode::From(&end, Direction::Reverse),
        );
        match it.next() {
            Some(kv) => {
                let (k, _) = kv.map_err(|e| self.err(e))?;
                if k.starts_with(&prefix) && k.len() == prefix.len() + 8 {
                    Ok(u64::from_be_bytes(k[prefix.len()..].try_into().unwrap()) + 1)
                } else {
                    Ok(0)
                }
            }
            None => Ok(0),
        }
    }

    /// True when the stat cache holds nothing for `tree` (its first snapshot, or after a gc).
    pub fn stat_cache_empty(&self, tree: &TreeKey) -> Result<bool> {
        let mut it = self.db.raw_iterator_cf(self.cf("stat"));
        it.seek(tree);
        let empty = !it.key().is_some_and(|k| k.starts_with(tree));
        it.status().map_err(|e| self.err(e))?;
        Ok(empty)
    }

    /// The stat-cache entries of one tree, sorted by path bytes. Read with a raw iterator: the cache
    /// of a 100k-file tree is read on every snapshot, and the boxed key and value the plain iterator
    /// allocates per entry cost more than the read itself.
    pub fn stat_entries(&self, tree: &TreeKey) -> Result<Vec<(Vec<u8>, StatEntry)>> {
        let mut out = Vec::new();
        // One sequential pass over a few MB: read ahead, stop at the end of the tree's prefix, and
        // keep the blocks out of the block cache (nothing reads them again).
        let mut ro = rocksdb::ReadOptions::default();
        ro.fill_cache(false);
        ro.set_readahead_size(2 << 20);
        if let Some(end) = prefix_end(tree) {
            ro.set_iterate_upper_bound(end);
        }
        let mut it = self.db.raw_iterator_cf_opt(self.cf("stat"), ro);
        it.seek(tree);
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            let Some(path) = k.strip_prefix(&tree[..]) else {
                break;
            };
            let e = StatEntry::decode(v)
                .ok_or_else(|| Error::format("index", "bad stat-cache entry"))?;
            out.push((path.to_vec(), e));
            it.next();
        }
        it.status().map_err(|e| self.err(e))?;
        Ok(out)
    }

    /// A value of the `meta` family.
    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .get("meta", key.as_bytes())?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// Every `meta` entry whose name starts with `prefix`, sorted by name.
    pub fn meta_with_prefix(&self, prefix: &str) -> Result<Vec<(String, String)>> {
        self.db
            .iterator_cf(
                self.cf("meta"),
                IteratorMode::From(prefix.as_bytes(), Direction::Forward),
            )
            .map(|kv| kv.map_err(|e| self.err(e)))
            .take_while(|kv| {
                kv.as_ref()
                    .map_or(true, |(k, _)| k.starts_with(prefix.as_bytes()))
            })
            .map(|kv| {
                let (k, v) = kv?;
                Ok((
                    String::from_utf8_lossy(&k).into_owned(),
                    String::from_utf8_lossy(&v).into_owned(),
                ))
            })
            .collect()
    }

    /// The objects `slug verify` marked damaged ([`Batch::mark_damaged`]): the next write of their
    /// content stores it anew instead of deduplicating against the damaged copy.
    pub fn damaged_objects(&self) -> Result<foldhash::HashSet<ObjectId>> {
        self.meta_with_prefix(DAMAGED)?
            .into_iter()
            .map(|(k, _)| {
                let hex = &k[DAMAGED.len()..];
                hex.parse::<ObjectId>()
                    .map_err(|_| Error::format("index", format!("bad damage mark `{k}`")))
            })
            .collect()
    }

    /// Every stat-cache entry of every tree, as `(tree, path, entry)`.
    pub fn all_stat_entries(
        &self,
    ) -> impl Iterator<Item = Result<(TreeKey, Vec<u8>, StatEntry)>> + '_ {
        self.db
            .iterator_cf(self.cf("stat"), IteratorMode::Start)
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

    /// Reads every entry of every family through, each table block checked against its checksum, and
    /// returns what is damaged: one line per damaged family, RocksDB's message naming the file. The
    /// other reads check the blocks they touch, but a family nothing reads (the ref history, the stat
    /// cache of another tree) could hold damage nobody notices.
    pub fn check(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for name in CFS {
            let mut ro = rocksdb::ReadOptions::default();
            ro.set_verify_checksums(true);
            ro.fill_cache(false);
            ro.set_readahead_size(2 << 20);
            let mut it = self.db.raw_iterator_cf_opt(self.cf(name), ro);
            it.seek_to_first();
            while it.valid() {
                it.next();
            }
            if let Err(e) = it.status() {
                problems.push(format!("family `{name}`: {e}"));
            }
        }
        problems
    }

    /// Starts an atomic batch of changes.
    pub fn batch(&self) -> Batch<'_> {
        Batch {
            index: self,
            inner: WriteBatch::default(),
            tables: Vec::new(),
        }
    }

    /// The index directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The error of a failed open: [`Error::IndexDamaged`] when RocksDB found damage, naming the damaged
/// file. RocksDB names a damaged table file or manifest in its message, but not a damaged write-ahead
/// log: then every log that holds records is named (a commit leaves none, so there is rarely more
/// than one).
fn open_error(path: &Path, e: rocksdb::Error) -> Error {
    if e.kind() != rocksdb::ErrorKind::Corruption {
        return Error::Index {
            path: path.to_path_buf(),
            source: e,
        };
    }
    let detail = e.into_string();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .collect();
    entries.sort();
    let name = |p: &PathBuf| p.file_name().map(|n| n.to_string_lossy().into_owned());
    let named: Vec<PathBuf> = entries
        .iter()
        .filter(|p| name(p).is_some_and(|n| detail.contains(&n)))
        .cloned()
        .collect();
    let files = if named.is_empty() {
        entries
            .into_iter()
            .filter(|p| name(p).is_some_and(|n| n.ends_with(".log")))
            .filter(|p| p.metadata().is_ok_and(|m| m.len() > 0))
            .collect()
    } else {
        named
    };
    Error::IndexDamaged {
        path: path.to_path_buf(),
        files,
        detail,
    }
}

fn reflog_prefix(name: &str) -> Vec<u8> {
    let mut p = name.as_bytes().to_vec();
    p.push(0);
    p
}

/// Changes applied to the index durably by [`Batch::commit`]: first the bulk runs added with
/// [`Batch::put_objects`] and [`Batch::put_stats`] (each ingested atomically), then everything else
/// in one atomic write.
pub struct Batch<'a> {
    index: &'a Index,
    inner: WriteBatch,
    /// Table files of bulk runs, ingested before `inner` is written.
    tables: Vec<Table>,
}

/// Runs of at least this many sorted entries reach the index as a table file that RocksDB adopts whole
/// (ingestion), not through the write-ahead log and memtable. A cold snapshot indexes ~180k entries:
/// logged, inserted, then flushed, that took 0.35-0.45 s of a 3.2 s snapshot; written as two tables,
/// a few tens of ms.
pub const TABLE_MIN: usize = 4096;

/// A sorted table file waiting in the store's `tmp/` to be ingested into column family `cf`.
struct Table {
    cf: &'static str,
    path: PathBuf,
}

impl Drop for Table {
    fn drop(&mut self) {
        // Ingestion links the file into the index; whatever happened, the temporary name goes.
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Batch<'_> {
    /// Records where an object lives.
    pub fn put_object(&mut self, id: &ObjectId, loc: &Location) {
        self.inner
            .put_cf(self.index.cf("objects"), id.as_bytes(), loc.encode());
    }

    /// Records where many objects live; `objects` must be sorted by id, without duplicates. A long run is
    /// written as a table now and ingested by [`Batch::commit`] before the rest of the batch, so it must
    /// be harmless on its own: the packs it points into must already be durable.
    pub fn put_objects(&mut self, objects: &[(ObjectId, Location)]) -> Result<()> {
        if objects.len() < TABLE_MIN {
            for (id, loc) in objects {
                self.put_object(id, loc);
            }
            return Ok(());
        }
        let rows = objects
            .iter()
            .map(|(id, loc)| (*id.as_bytes(), loc.encode()));
        self.put_table("objects", rows)
    }

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

    fn put_table<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &mut self,
        cf: &'static str,
        rows: impl Iterator<Item = (K, V)>,
    ) -> Result<()> {
        let table = Table {
            cf,
            path: self.index.tmp.join(crate::fsutil::temp_name("table")),
        };
        let opts = cf_options(cf);
        let mut w = SstFileWriter::create(&opts);
        let err = |e: rocksdb::Error| Error::Index {
            path: table.path.clone(),
            source: e,
        };
        w.open(&table.path).map_err(err)?;
        for (k, v) in rows {
            w.put(k, v).map_err(err)?;
        }
        // Finishing syncs the file.
        w.finish().map_err(err)?;
        self.tables.push(table);
        Ok(())
    }

    /// Forgets an object (garbage collection).
    pub fn delete_object(&mut self, id: &ObjectId) {
        self.inner
            .delete_cf(self.index.cf("objects"), id.as_bytes());
    }

    /// Records a slug.
    pub fn put_slug(&mut self, rec: &SlugRecord) {
        let v = serde_json::to_vec(rec).expect("slug records serialize");
        self.inner
            .put_cf(self.index.cf("slugs"), rec.id.object().as_bytes(), v);
    }

    /// Forgets a slug (prune).
    pub fn delete_slug(&mut self, id: &SlugId) {
        self.inner
            .delete_cf(self.index.cf("slugs"), id.object().as_bytes());
    }

    /// Points ref `name` at `slug` and appends the change to the ref's history.
    pub fn set_ref(&mut self, name: &str, slug: SlugId, message: Option<String>) -> Result<()> {
        let previous = self.index.get_ref(name)?;
        let seq = self.index.next_reflog_seq(name)?;
        let entry = RefLogEntry {
            name: name.to_string(),
            slug,
            previous,
            time: crate::slug::now_secs(),
            message,
        };
        let mut key = reflog_prefix(name);
        key.extend_from_slice(&seq.to_be_bytes());
        self.inner.put_cf(
            self.index.cf("reflog"),
            key,
            serde_json::to_vec(&entry).expect("serializes"),
        );
        self.inner.put_cf(
            self.index.cf("refs"),
            name.as_bytes(),
            slug.object().as_bytes(),
        );
        Ok(())
    }

    /// Deletes ref `name` (its history stays).
    pub fn delete_ref(&mut self, name: &str) {
        self.inner.delete_cf(self.index.cf("refs"), name.as_bytes());
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

    /// Sets a `meta` value.
    pub fn put_meta(&mut self, key: &str, value: &str) {
        self.inner
            .put_cf(self.index.cf("meta"), key.as_bytes(), value.as_bytes());
    }

    /// Removes a `meta` value.
    pub fn delete_meta(&mut self, key: &str) {
        self.inner.delete_cf(self.index.cf("meta"), key.as_bytes());
    }

    /// Marks object `id` damaged (`problem` says how), so that the next write of its content replaces
    /// the stored copy; see [`Index::damaged_objects`].
    pub fn mark_damaged(&mut self, id: &ObjectId, problem: &str) {
        self.put_meta(&damage_key(id), problem);
    }

    /// Removes the damage mark of object `id`: a good copy replaced it, or it verified.
    pub fn unmark_damaged(&mut self, id: &ObjectId) {
        self.delete_meta(&damage_key(id));
    }

    /// True when the batch holds no change.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty() && self.tables.is_empty()
    }

    /// Applies the batch: the bulk runs first, each ingested atomically and durably, then the other
    /// changes atomically, with the write-ahead log fsynced, and last flushed into table files, so
    /// that what a returned commit wrote never rests in the log alone (a damaged log record can look
    /// like the torn tail of a write that never returned; table blocks carry checksums).
    pub fn commit(self) -> Result<()> {
        let mut ingest = IngestExternalFileOptions::default();
        ingest.set_move_files(true);
        for t in &self.tables {
            self.index
                .db
                .ingest_external_file_cf_opts(self.index.cf(t.cf), &ingest, vec![&t.path])
                .map_err(|e| self.index.err(e))?;
        }
        let mut wo = WriteOptions::default();
        wo.set_sync(true);
        self.index
            .db
            .write_opt(self.inner, &wo)
            .map_err(|e| self.index.err(e))?;
        // From here the batch is committed: durable in the synced log. A flush that fails (a full
        // disk) leaves it there for the next open to replay and flush, so the commit still stands
        // and is reported as done; what would fail is tidying, which waits for the next commit.
        if self.index.flush_logged().is_err() {
            return Ok(());
        }
        self.index.compact_piled_up()
    }
}

/// A family with this many level-0 table files is compacted by the next commit.
const L0_COMPACT_AT: u64 = 8;

/// The `meta` names of damage marks: this prefix, then the object id in hex.
const DAMAGED: &str = "damaged/";

fn damage_key(id: &ObjectId) -> String {
    format!("{DAMAGED}{}", id.to_hex())
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
    use super::*;
    use crate::store::pack::Codec;
    use crate::store::{OpenOptions, Store};

    fn loc(n: u64) -> Location {
        Location {
            pack: ObjectId::hash(b"pack"),
            offset: n,
            codec: Codec::Raw,
            raw_len: n,
            stored_len: n,
        }
    }

    fn id(n: u64) -> ObjectId {
        ObjectId::hash(&n.to_le_bytes())
    }

    #[test]
    fn bulk_runs_are_ingested_and_batched_lookups_agree_with_single_gets() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::init(&dir.path().join("s"), &OpenOptions::default()).unwrap();
        let index = store.index();
        // Long enough to go in as a table...
        let mut objects: Vec<(ObjectId, Location)> = (0..5000).map(|n| (id(n), loc(n))).collect();
        objects.sort_unstable_by_key(|(id, _)| *id);
        let mut batch = index.batch();
        batch.put_objects(&objects).unwrap();
        batch.commit().unwrap();
        // ...and a short run through the log.
        let small = ObjectId::hash(b"small");
        let mut batch = index.batch();
        batch.put_objects(&[(small, loc(7))]).unwrap();
        batch.commit().unwrap();
        assert!(fs_empty(&store.tmp_dir()), "no table file is left in tmp/");
        for (id, want) in &objects {
            assert_eq!(index.object(id).unwrap(), Some(*want));
        }

        // A few ids are looked up in a batch; most of the index, by reading it through. Both keep the
        // order asked, repeat duplicates and give None for absent ids.
        let absent = ObjectId::hash(b"absent");
        for n in [3, 4500] {
            let mut ids: Vec<ObjectId> = objects.iter().rev().take(n).map(|(id, _)| *id).collect();
            ids.extend([absent, ids[0], small]);
            let got = index.objects_of(&ids).unwrap();
            let want: Vec<Option<Location>> =
                ids.iter().map(|id| index.object(id).unwrap()).collect();
            assert_eq!(got, want, "{n} ids");
            assert_eq!(got[n], None);
            assert_eq!(got[n + 1], got[0]);
            assert_eq!(got[n + 2], Some(loc(7)));
        }
    }

    #[test]
    fn level0_files_are_compacted_by_a_commit_once_they_pile_up() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::init(&dir.path().join("s"), &OpenOptions::default()).unwrap();
        let index = store.index();
        let level0 = || {
            index
                .db
                .property_int_value_cf(index.cf("meta"), "rocksdb.num-files-at-level0")
                .unwrap()
                .unwrap()
        };
        let mut most = 0;
        for n in 0..2 * L0_COMPACT_AT {
            let mut batch = index.batch();
            batch.put_meta(&format!("k{n:02}"), &n.to_string());
            // Each commit flushes its changes into a level-0 file of the family.
            batch.commit().unwrap();
            most = most.max(level0());
        }
        // Sixteen files were written; the one that made eight was compacted with the others.
        assert_eq!(
            most,
            L0_COMPACT_AT - 1,
            "the files never piled up to the threshold, or were not compacted there"
        );
        for n in 0..2 * L0_COMPACT_AT {
            assert_eq!(
                index.meta(&format!("k{n:02}")).unwrap(),
                Some(n.to_string())
            );
        }
    }

    #[test]
    fn stat_entries_of_a_tree_stop_at_its_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::init(&dir.path().join("s"), &OpenOptions::default()).unwrap();
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
        batch.put_stats(&b, &[(b"".to_vec(), entry(2))]).unwrap();
        batch.commit().unwrap();
        assert_eq!(
            index.stat_entries(&a).unwrap(),
            vec![(b"x".to_vec(), entry(1))]
        );
        assert_eq!(
            index.stat_entries(&b).unwrap(),
            vec![(b"".to_vec(), entry(2))]
        );
        assert_eq!(prefix_end(&[1, 0xff]), Some(vec![2]));
        assert_eq!(prefix_end(&[0xff, 0xff]), None);
    }

    #[test]
    fn a_long_run_of_stat_entries_is_ingested_and_read_back_sorted() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::init(&dir.path().join("s"), &OpenOptions::default()).unwrap();
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

    /// The index's write-ahead logs that hold records.
    fn logs_with_records(index: &Path) -> Vec<PathBuf> {
        let mut logs: Vec<PathBuf> = std::fs::read_dir(index)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "log"))
            .filter(|p| p.metadata().unwrap().len() > 0)
            .collect();
        logs.sort();
        logs
    }

    #[test]
    fn a_commit_leaves_nothing_in_the_log_alone() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("s");
        let store = Store::init(&root, &OpenOptions::default()).unwrap();
        for n in 0..3 {
            let mut batch = store.index().batch();
            batch.put_meta(&format!("k{n}"), "v");
            batch.put_object(&id(n), &loc(n));
            batch.commit().unwrap();
            assert_eq!(
                logs_with_records(&root.join("index")),
                Vec::<PathBuf>::new()
            );
        }
    }

    #[test]
    fn a_damaged_log_refuses_to_open_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("s");
        let store = Store::init(&root, &OpenOptions::default()).unwrap();
        let mut batch = store.index().batch();
        batch.put_meta("committed", "flushed");
        batch.commit().unwrap();
        // A commit whose process died between the synced write and the flush: its records are in
        // the log alone.
        let mut wo = WriteOptions::default();
        wo.set_sync(true);
        let index = store.index();
        let value = vec![b'x'; 300];
        index
            .db
            .put_cf_opt(index.cf("meta"), b"in-the-log", &value, &wo)
            .unwrap();
        drop(store);
        let logs = logs_with_records(&root.join("index"));
        assert_eq!(logs.len(), 1, "{logs:?}");
        // Undamaged, the log is replayed whole.
        let store = Store::open(&root, &OpenOptions::default()).unwrap();
        assert_eq!(
            store.index().meta("in-the-log").unwrap(),
            Some("x".repeat(300))
        );
        drop(store);

        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("s");
        let store = Store::init(&root, &OpenOptions::default()).unwrap();
        let index = store.index();
        index
            .db
            .put_cf_opt(index.cf("meta"), b"in-the-log", &value, &wo)
            .unwrap();
        drop(store);
        let log = logs_with_records(&root.join("index")).pop().unwrap();
        let mut bytes = std::fs::read(&log).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x10;
        std::fs::write(&log, bytes).unwrap();
        for read_only in [true, false] {
            let opts = OpenOptions {
                read_only,
                ..OpenOptions::default()
            };
            match Store::open(&root, &opts) {
                Err(Error::IndexDamaged { files, detail, .. }) => {
                    assert_eq!(files, vec![log.clone()], "{detail}");
                    assert!(detail.contains("Corruption"), "{detail}");
                }
                Err(e) => panic!("read_only {read_only}: another error: {e}"),
                Ok(s) => panic!(
                    "read_only {read_only}: opened, the record {}",
                    match s.index().meta("in-the-log").unwrap() {
                        Some(_) => "still there",
                        None => "silently dropped",
                    }
                ),
            }
        }
        // Refusing changed nothing: the damaged log is still there for a person to look at.
        assert!(log.exists());
    }

    fn fs_empty(dir: &Path) -> bool {
        std::fs::read_dir(dir).unwrap().next().is_none()
    }
}
