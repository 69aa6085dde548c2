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
//! | `objects` | object id (32 bytes)             | [`Location`](crate::store::Location) (57 bytes) |
//! | `slugs`   | slug id (32 bytes)               | [`SlugRecord`](crate::slug::SlugRecord) as JSON |
//! | `refs`    | ref name (UTF-8)                 | slug id (32 bytes)                     |
//! | `reflog`  | ref name, `0x00`, seq (u64 BE)   | [`RefLogEntry`] as JSON                |
//! | `stat`    | tree key (16 bytes), path bytes  | [`StatEntry`] (fixed 80 bytes)         |
//! | `stat`    | tree key, `0x00`, directory path | [`DirListing`] (see `listing`)         |
//! | `meta`    | UTF-8 name                       | UTF-8 value (see docs/format.md for the names) |
//!
//! A damaged index is never read past in silence: a write-ahead log with a damaged record makes the open
//! fail with [`Error::IndexDamaged`] naming the file, every table block is checked against its checksum
//! when read, and [`Index::check`] reads them all (`slug verify`).
//!
//! The store's lock is not RocksDB's: RocksDB locks its `LOCK` file only when opened for writing, with a
//! POSIX record lock a process loses when it closes any descriptor of the file. The index takes the
//! store's own `flock` (`store::lock`) before RocksDB opens and holds it until it closes, for reading as
//! for writing; the kernel drops it when its holder dies, so a killed `slug` never leaves the store locked.
//!
//! One file per job, each adding its part of [`Index`] (reads) and [`Batch`] (writes) for the families
//! it owns, so a family's key layout is read and written in one place: `open` (opening, the tuning
//! that keeps a short-lived process fast, flushing and compacting after a commit), `objects` (object
//! locations and slug records), `refs` (refs and their history), `stat` (the stat cache and its
//! entry codec), `listing` (directory listings in the stat cache), `meta` (named values and damage marks), `batch` (atomic batches and the ingestion of
//! long sorted runs as table files).

mod batch;
mod listing;
mod meta;
mod objects;
mod open;
mod refs;
mod stat;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rocksdb::{BlockBasedOptions, ColumnFamily, Options, DB};

pub use batch::{Batch, TABLE_MIN};
pub use listing::{DirListing, Listed, ListingBuilder};
pub use refs::RefLogEntry;
pub use stat::{tree_key, StatEntry, TreeKey};

use crate::error::{Error, IndexError, Result};
use crate::store::lock::StoreLock;

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

impl Index {
    fn cf(&self, name: &str) -> &ColumnFamily {
        self.db
            .cf_handle(name)
            .expect("column family created at open")
    }

    fn err(&self, e: rocksdb::Error) -> Error {
        Error::Index {
            path: self.path.clone(),
            source: IndexError::new(e),
        }
    }

    fn get(&self, cf: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.db.get_cf(self.cf(cf), key).map_err(|e| self.err(e))
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

    /// The index directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// What the tests of several families build their rows from.
#[cfg(test)]
mod test_util {
    use crate::id::ObjectId;
    use crate::store::pack::{Codec, Location};
    use crate::store::{OpenOptions, Store};

    /// A new store in a temporary directory (kept while the directory lives).
    pub(super) fn new_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::init(&dir.path().join("s"), &OpenOptions::default()).unwrap();
        (dir, store)
    }

    pub(super) fn loc(n: u64) -> Location {
        Location {
            pack: ObjectId::hash(b"pack"),
            offset: n,
            codec: Codec::Raw,
            raw_len: n,
            stored_len: n,
        }
    }

    pub(super) fn id(n: u64) -> ObjectId {
        ObjectId::hash(&n.to_le_bytes())
    }
}
