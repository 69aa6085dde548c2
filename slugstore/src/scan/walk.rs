//! Parallel directory walk.
//!
//! Build trees are wide (tens of thousands of directories) and their files small, so the walk itself is a
//! large share of a snapshot: every directory is read on a rayon task of its own. The walk never follows a
//! symlink, records directories (empty ones too) and symlinks as they are, skips sockets, FIFOs and device
//! nodes with a warning, and fails naming the path on anything it cannot read.

use std::ffi::OsString;
use std::fs;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{Error, IoResultExt, Result};
use crate::scan::Excludes;

/// A regular file found by the walk, with what the stat cache compares.
#[derive(Debug, Clone)]
pub struct FileMeta {
    /// Size in bytes.
    pub size: u64,
    /// Modification time, ns since the epoch.
    pub mtime_ns: i128,
    /// Status-change time, ns since the epoch.
    pub ctime_ns: i128,
    /// Inode.
    pub ino: u64,
    /// Any execute bit set.
    pub executable: bool,
}

/// What the walk found at a path.
#[derive(Debug, Clone)]
pub enum Found {
    /// A directory.
    Dir,
    /// A regular file.
    File(FileMeta),
    /// A symlink and its target.
    Symlink(Vec<u8>),
}

/// A walked path, relative to the root, `/`-separated.
#[derive(Debug, Clone)]
pub struct Walked {
    /// Relative path bytes.
    pub rel: Vec<u8>,
    /// What is there.
    pub found: Found,
}

/// The result of a walk.
#[derive(Debug, Default)]
pub struct WalkResult {
    /// Every entry, sorted by path bytes.
    pub entries: Vec<Walked>,
    /// Paths skipped with a reason (special files).
    pub warnings: Vec<String>,
}

struct Shared<'a> {
    root: &'a Path,
    excludes: &'a Excludes,
    out: Mutex<Vec<Walked>>,
    warnings: Mutex<Vec<String>>,
    error: Mutex<Option<Error>>,
}

/// Walks `root` in parallel.
pub fn walk(root: &Path, excludes: &Excludes) -> Result<WalkResult> {
    let meta = fs::symlink_metadata(root).at(root)?;
    if !meta.is_dir() {
        return Err(Error::Invalid(format!(
            "{} is not a directory",
            root.display()
        )));
    }
    let shared = Shared {
        root,
        excludes,
        out: Mutex::new(Vec::new()),
        warnings: Mutex::new(Vec::new()),
        error: Mutex::new(None),
    };
    rayon::scope(|s| walk_dir(s, &shared, Vec::new()));
    if let Some(e) = shared.error.into_inner().expect("lock") {
        return Err(e);
    }
    let mut entries = shared.out.into_inner().expect("lock");
    entries.sort_unstable_by(|a, b| a.rel.cmp(&b.rel));
    let mut warnings = shared.warnings.into_inner().expect("lock");
    warnings.sort();
    Ok(WalkResult { entries, warnings })
}

fn abs(root: &Path, rel: &[u8]) -> PathBuf {
    if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(std::ffi::OsStr::from_bytes(rel))
    }
}

fn walk_dir<'s>(scope: &rayon::Scope<'s>, shared: &'s Shared<'s>, rel: Vec<u8>) {
    if shared.error.lock().expect("lock").is_some() {
        return;
    }
    if let Err(e) = read_one_dir(scope, shared, &rel) {
        shared.error.lock().expect("lock").get_or_insert(e);
    }
}

fn read_one_dir<'s>(scope: &rayon::Scope<'s>, shared: &'s Shared<'s>, rel: &[u8]) -> Result<()> {
    let dir = abs(shared.root, rel);
    let mut local = Vec::new();
    for entry in fs::read_dir(&dir).at(&dir)? {
        let entry = entry.at(&dir)?;
        let name: OsString = entry.file_name();
        let mut child = Vec::with_capacity(rel.len() + 1 + name.len());
        if !rel.is_empty() {
            child.extend_from_slice(rel);
            child.push(b'/');
        }
        child.extend_from_slice(&name.into_vec());
        if shared.excludes.contains(&child) {
            continue;
        }
        let path = entry.path();
        let ft = entry.file_type().at(&path)?;
        if ft.is_dir() {
            local.push(Walked {
                rel: child.clone(),
                found: Found::Dir,
            });
            scope.spawn(move |s| walk_dir(s, shared, child));
        } else if ft.is_file() {
            // Relative to the open directory (fstatat), not a fresh lookup of the whole path.
            let m = entry.metadata().at(&path)?;
            let meta = FileMeta {
                size: m.len(),
                mtime_ns: m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128,
                ctime_ns: m.ctime() as i128 * 1_000_000_000 + m.ctime_nsec() as i128,
                ino: m.ino(),
                executable: m.mode() & 0o111 != 0,
            };
            local.push(Walked {
                rel: child,
                found: Found::File(meta),
            });
        } else if ft.is_symlink() {
            let target = fs::read_link(&path).at(&path)?;
            local.push(Walked {
                rel: child,
                found: Found::Symlink(target.into_os_string().into_vec()),
            });
        } else {
            shared
                .warnings
                .lock()
                .expect("lock")
                .push(format!("skipped special file {}", path.display()));
        }
    }
    shared.out.lock().expect("lock").append(&mut local);
    Ok(())
}
