//! The per-key lock: two builds filling the same key at once run the command once.
//!
//! The first run to take the lock of a key runs the step and records it; a second one waits for the
//! lock, then finds the record and restores it. The lock is a `flock` on `cache/locks/<key>` in the
//! store directory, taken without waiting and retried until a deadline, so a step that hangs makes
//! the others fail with [`Error::CacheBusy`] instead of waiting for ever; a killed holder releases it
//! with its last descriptor. It is not the store's lock: the store is closed while the command runs
//! (a `slug cache run` inside a deploy's build hook must not wait on the deploy's own store lock).

use std::fs::File;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::{Error, IoResultExt, Result};
use crate::fsutil::{lock_file, Lock};
use crate::id::ObjectId;

/// The lock of one key, held until dropped.
pub struct KeyLock {
    _file: File,
}

/// Takes the lock of `key` in the store at `store_root` if no other process holds it.
pub fn try_lock_key(store_root: &Path, key: &ObjectId) -> Result<Option<KeyLock>> {
    let dir = store_root.join("cache").join("locks");
    std::fs::create_dir_all(&dir).at(&dir)?;
    let path = dir.join(key.to_hex());
    Ok(lock_file(&path, Lock::ExclusiveNoWait)?.map(|file| KeyLock { _file: file }))
}

/// Takes the lock of `key` in the store at `store_root`, waiting at most `deadline`; `on_wait` is
/// called once if another process holds it.
pub fn lock_key(
    store_root: &Path,
    name: &str,
    key: &ObjectId,
    deadline: Duration,
    on_wait: &dyn Fn(),
) -> Result<KeyLock> {
    let start = Instant::now();
    let mut announced = false;
    loop {
        if let Some(lock) = try_lock_key(store_root, key)? {
            return Ok(lock);
        }
        if start.elapsed() >= deadline {
            return Err(Error::CacheBusy {
                name: name.to_owned(),
                key: key.short(12),
                waited: start.elapsed(),
            });
        }
        if !announced {
            on_wait();
            announced = true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
