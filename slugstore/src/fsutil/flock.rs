//! Whole-file advisory locks (`flock(2)`) on a lock file, created when absent.
//!
//! A `flock` belongs to its open file and dies with the process that holds it: a killed `slug` never
//! leaves a target or a job locked, which a lock file whose mere existence meant "locked" would. So
//! waiting for one always has a way out: the holder ends, or is killed, and the lock is free.

use std::fs::{File, OpenOptions};
use std::os::unix::io::AsRawFd;
use std::path::Path;

use crate::error::{Error, IoResultExt, Result};

/// Whether to wait for a lock another process holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Return `None` at once.
    No,
    /// Wait until the holder releases it (or ends).
    Yes,
}

/// Takes the exclusive lock of `path` (created if absent): the open file holding it, or `None` when
/// another process holds it and `wait` is [`Wait::No`].
pub fn exclusive(path: &Path, wait: Wait) -> Result<Option<File>> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .at(path)?;
    let op = match wait {
        Wait::No => libc::LOCK_EX | libc::LOCK_NB,
        Wait::Yes => libc::LOCK_EX,
    };
    loop {
        // SAFETY: flock on a file descriptor we own; the lock is released when `file` is closed.
        if unsafe { libc::flock(file.as_raw_fd(), op) } == 0 {
            return Ok(Some(file));
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EWOULDBLOCK) if wait == Wait::No => return Ok(None),
            _ => return Err(Error::io(path, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_is_refused_without_waiting_and_free_once_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".lock");
        let held = exclusive(&path, Wait::Yes).unwrap().unwrap();
        assert!(exclusive(&path, Wait::No).unwrap().is_none());
        drop(held);
        assert!(exclusive(&path, Wait::No).unwrap().is_some());
    }
}
