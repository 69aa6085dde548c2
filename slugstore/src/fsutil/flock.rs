//! `flock(2)` locks: the one kind of lock the crate takes on files (the store, a deploy target, its
//! deploys and crons, the static-compression cache).
//!
//! A `flock` belongs to its open file description: it excludes every other open, in this process or
//! another, and goes when the file is closed, also when the process dies, so a killed command never
//! leaves anything locked. POSIX record locks (`fcntl`) have neither property. Every lock goes
//! through [`flock`] so that "held elsewhere" (`Ok(false)`) and a wait interrupted by a signal (taken
//! again) are told apart from real errors in one place.

use std::fs::{File, OpenOptions};
use std::path::Path;

use rustix::fs::FlockOperation;
use rustix::io::Errno;

use crate::error::{Error, IoResultExt, Result};

/// Which lock to take, and whether to wait for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock {
    /// Exclusive, waiting for other holders.
    Exclusive,
    /// Exclusive, giving up at once when held elsewhere.
    ExclusiveNoWait,
    /// Shared, giving up at once when held exclusively elsewhere (to ask whether someone holds it).
    SharedNoWait,
}

/// Takes `lock` on `file` (opened from `path`, which errors name). `Ok(false)`: held elsewhere,
/// only for the kinds that do not wait.
pub fn flock(file: &File, path: &Path, lock: Lock) -> Result<bool> {
    let op = match lock {
        Lock::Exclusive => FlockOperation::LockExclusive,
        Lock::ExclusiveNoWait => FlockOperation::NonBlockingLockExclusive,
        Lock::SharedNoWait => FlockOperation::NonBlockingLockShared,
    };
    loop {
        match rustix::fs::flock(file, op) {
            Ok(()) => return Ok(true),
            Err(e) if e == Errno::WOULDBLOCK && lock != Lock::Exclusive => return Ok(false),
            Err(e) if e == Errno::INTR => continue,
            Err(e) => return Err(Error::io(path, e.into())),
        }
    }
}

/// Opens (creating if needed, never truncating) the lock file at `path` and takes `lock` on it;
/// `None` when a lock that does not wait is held elsewhere.
pub fn lock_file(path: &Path, lock: Lock) -> Result<Option<File>> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .at(path)?;
    Ok(flock(&file, path, lock)?.then_some(file))
}
