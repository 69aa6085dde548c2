//! The store's lock: one process at a time works on a store.
//!
//! Held by [`Index`](super::Index) from before RocksDB opens until it closes, for reading as for
//! writing, so that a reader never sees a writer's half-done work nor empties `tmp/` under it.

use std::fs::{File, OpenOptions};
use std::path::Path;

use crate::error::{Error, Result};
use crate::fsutil::{self, Lock};

/// The store's lock while held: the locked file, or nothing on a read-only file system where the lock
/// file does not exist (and cannot be created), since no process can write to that store.
pub(super) struct StoreLock {
    _file: Option<File>,
}

/// Takes the store's lock without waiting: an exclusive `flock` on `lock` beside the index; `None`
/// when another process, or another open store in this one, holds it.
///
/// RocksDB locks its own `LOCK` file too, but only when opened for writing, and with a POSIX record
/// lock, which the process loses when it closes any descriptor of that file and which does not
/// exclude a second open in the same process. A `flock` belongs to its open file description: it
/// excludes every other open, in this process or another, and goes when its file is closed, also
/// when the process dies.
///
/// A command that only reads takes the same lock through a read-only descriptor when the file
/// system is mounted read-only (a `flock` does not need write access), so a store on a read-only
/// mount, or a copy made read-only on purpose, can still be listed, restored and verified.
pub(super) fn lock(path: &Path, read_only: bool) -> Result<Option<StoreLock>> {
    let file_path = path.with_file_name("lock");
    let opened = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&file_path);
    let file = match opened {
        Err(e) if read_only && e.kind() == std::io::ErrorKind::ReadOnlyFilesystem => {
            match File::open(&file_path) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Ok(Some(StoreLock { _file: None }))
                }
                Err(e) => return Err(Error::io(&file_path, e)),
            }
        }
        r => r.map_err(|e| Error::io(&file_path, e))?,
    };
    let locked = fsutil::flock(&file, &file_path, Lock::ExclusiveNoWait)?;
    Ok(locked.then_some(StoreLock { _file: Some(file) }))
}

pub(super) fn is_lock_error(e: &rocksdb::Error) -> bool {
    let s = e.to_string();
    s.contains("lock")
        && (s.contains("Resource temporarily unavailable") || s.contains("No locks available"))
}
