//! Small filesystem helpers shared by every module that publishes files.
//!
//! The rule everywhere: a file becomes visible under its final name only once its bytes are complete and
//! durable — write to a temporary name in the same directory, fsync, rename, fsync the directory
//! (`temp` holds that dance once, with what differs between callers as parameters).
//! `dir` holds the other habit of the crate's hot paths: work relative to an open directory
//! (`walk` walks whole trees that way, `remove` deletes them).

pub(crate) mod dir;
mod flock;
mod remove;
mod temp;
pub(crate) mod walk;

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

pub use flock::{flock, lock_file, Lock};
pub use remove::remove_tree;
pub(crate) use temp::{parent_dir, Durability, TempFile};

use crate::error::{Error, IoResultExt, Result};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A name unique to this process and call, for temporary files: `.<stem>.<pid>.<n>.tmp`.
pub fn temp_name(stem: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(".{stem}.{}.{n}.tmp", std::process::id())
}

/// The temporary sibling path for publishing `path`.
pub fn temp_sibling(path: &Path) -> PathBuf {
    let stem = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(temp_name(&stem))
}

/// Writes `bytes` to `path` atomically and durably.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_mode(path, bytes, 0o666)
}

/// [`write_atomic`] for a file only its owner may read (mode 0600 from its creation on: no moment
/// where another user could open it).
pub fn write_atomic_private(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_mode(path, bytes, 0o600)
}

fn write_atomic_mode(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let mut tmp = TempFile::create(path, mode, || temp_sibling(path))?;
    let tmp_path = tmp.path().to_path_buf();
    tmp.file().write_all(bytes).at(&tmp_path)?;
    tmp.persist()
}

/// Fsyncs a directory so renames into it survive a crash.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|f| f.sync_all()).at(dir)
}

/// Copies `src` to `dest` under a temporary name, fsyncs it and renames it over `dest`: a crash leaves
/// either the old `dest` or the complete copy. The copy keeps `src`'s mode plus the owner's write bit
/// (copies are made into writable places, often from read-only releases). The directory is not
/// fsynced: callers copying many files sync once.
pub fn copy_atomic(src: &Path, dest: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut from = File::open(src).at(src)?;
    let mode = from.metadata().at(src)?.permissions().mode();
    let mut tmp = TempFile::beside(dest)?;
    let tmp_path = tmp.path().to_path_buf();
    std::io::copy(&mut from, tmp.file()).at(src)?;
    tmp.file()
        .set_permissions(fs::Permissions::from_mode(mode | 0o200))
        .at(&tmp_path)?;
    tmp.persist_with(Durability::FileSynced)
}

/// The process's umask as Linux reports it in `/proc/self/status`, read once; `None` when unknown.
///
/// Reading it with `umask(2)` means setting it, which races with threads creating files; the `Umask:`
/// line of the status file reads it without changing it.
pub fn umask() -> Option<u32> {
    static UMASK: std::sync::OnceLock<Option<u32>> = std::sync::OnceLock::new();
    *UMASK.get_or_init(|| {
        let status = fs::read_to_string("/proc/self/status").ok()?;
        let line = status.lines().find_map(|l| l.strip_prefix("Umask:"))?;
        u32::from_str_radix(line.trim(), 8).ok()
    })
}

/// True when creating a file or directory with `mode` leaves it with exactly `mode` (the umask clears
/// none of its bits), so no `chmod(2)` is needed after creation.
pub fn mode_survives_umask(mode: u32) -> bool {
    umask().is_some_and(|m| mode & m == 0)
}

/// True when this process may create files in directories it cannot write to, i.e. it has
/// `CAP_DAC_OVERRIDE` (root usually has), read from `/proc/self/status`; false when unknown.
pub fn overrides_file_permissions() -> bool {
    static CAP: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *CAP.get_or_init(|| {
        const CAP_DAC_OVERRIDE: u32 = 1;
        fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|status| {
                let hex = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?;
                u64::from_str_radix(hex.trim(), 16).ok()
            })
            .is_some_and(|caps| caps & (1 << CAP_DAC_OVERRIDE) != 0)
    })
}

/// Flushes the filesystem holding `path` to disk (one call instead of an fsync per file).
pub fn syncfs(path: &Path) -> Result<()> {
    use std::os::fd::AsRawFd;
    let f = File::open(path).at(path)?;
    // SAFETY: syncfs on a descriptor we own.
    if unsafe { libc::syncfs(f.as_raw_fd()) } != 0 {
        return Err(Error::io(path, std::io::Error::last_os_error()));
    }
    Ok(())
}
