//! Opening the index under the store's lock, and the tuning that keeps a process living a fraction of
//! a second fast and its commits durable: flushing the write-ahead log into table files and compacting
//! level-0 files in the command that wrote them.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rocksdb::{ColumnFamilyDescriptor, DBRecoveryMode, Options, DB};

use super::{cf_options, Index, LockWait, CFS};
use crate::error::{Error, IndexError, Result};
use crate::store::lock::{is_lock_error, lock};

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
                crate::store::empty_tmp(&path.with_file_name("tmp"));
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
    pub(super) fn compact_piled_up(&self) -> Result<()> {
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
    pub(super) fn flush_logged(&self) -> Result<()> {
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
}

/// The error of a failed open: [`Error::IndexDamaged`] when RocksDB found damage, naming the damaged
/// file. RocksDB names a damaged table file or manifest in its message, but not a damaged write-ahead
/// log: then every log that holds records is named (a commit leaves none, so there is rarely more
/// than one).
fn open_error(path: &Path, e: rocksdb::Error) -> Error {
    if e.kind() != rocksdb::ErrorKind::Corruption {
        return Error::Index {
            path: path.to_path_buf(),
            source: IndexError::new(e),
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

/// A family with this many level-0 table files is compacted by the next commit.
const L0_COMPACT_AT: u64 = 8;

#[cfg(test)]
mod tests {
    use super::super::test_util::{id, loc, new_store};
    use super::*;
    use crate::store::{OpenOptions, Store};
    use rocksdb::WriteOptions;

    #[test]
    fn level0_files_are_compacted_by_a_commit_once_they_pile_up() {
        let (_dir, store) = new_store();
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
}
