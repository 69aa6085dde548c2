//! Parallel directory walk.
//!
//! Build trees are wide (tens of thousands of directories) and their files small, so the walk itself is a
//! large share of a snapshot: every directory is read on a rayon task of its own. The walk never follows a
//! symlink, records directories (empty ones too) and symlinks as they are, skips sockets, FIFOs and device
//! nodes with a warning, and fails naming the path on anything it cannot read.

use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rayon::slice::ParallelSliceMut;

use crate::error::{Error, IoResultExt, Result};
use crate::fsutil::dir::{Dir, Kind};
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
    let root_dir = Pending {
        parent: None,
        rel: Vec::new(),
    };
    rayon::scope(|s| walk_dir(s, &shared, root_dir));
    if let Some(e) = shared.error.into_inner().expect("lock") {
        return Err(e);
    }
    let mut entries = shared.out.into_inner().expect("lock");
    // 130k paths with long common prefixes: worth both cores.
    entries.par_sort_unstable_by(|a, b| a.rel.cmp(&b.rel));
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

/// A directory waiting to be read: its parent, open, and its name there (the root has neither).
struct Pending {
    parent: Option<(Arc<Dir>, CString)>,
    rel: Vec<u8>,
}

fn walk_dir<'s>(scope: &rayon::Scope<'s>, shared: &'s Shared<'s>, pending: Pending) {
    if shared.error.lock().expect("lock").is_some() {
        return;
    }
    if let Err(e) = read_one_dir(scope, shared, pending) {
        shared.error.lock().expect("lock").get_or_insert(e);
    }
}

fn read_one_dir<'s>(
    scope: &rayon::Scope<'s>,
    shared: &'s Shared<'s>,
    pending: Pending,
) -> Result<()> {
    let Pending { parent, rel } = pending;
    let path = || abs(shared.root, &rel);
    let dir = match &parent {
        Some((parent, name)) => parent.open_at(name),
        None => Dir::open(shared.root),
    }
    .at(path())?;
    let dir = Arc::new(dir);
    let mut local = Vec::new();
    let listed = dir.for_each(
        |name, kind| {
            let name_bytes = name.to_bytes();
            let mut child = Vec::with_capacity(rel.len() + 1 + name_bytes.len());
            if !rel.is_empty() {
                child.extend_from_slice(&rel);
                child.push(b'/');
            }
            child.extend_from_slice(name_bytes);
            if shared.excludes.contains(&child) {
                return Ok(());
            }
            let found = match kind {
                Kind::Dir => {
                    let sub = Pending {
                        parent: Some((Arc::clone(&dir), name.to_owned())),
                        rel: child.clone(),
                    };
                    scope.spawn(move |s| walk_dir(s, shared, sub));
                    Found::Dir
                }
                Kind::File => {
                    let m = dir.lstat(name).at(abs(shared.root, &child))?;
                    Found::File(FileMeta {
                        size: m.size,
                        mtime_ns: i128::from(m.mtime_ns),
                        ctime_ns: i128::from(m.ctime_ns),
                        ino: m.ino,
                        executable: m.mode & 0o111 != 0,
                    })
                }
                Kind::Symlink => Found::Symlink(dir.read_link(name).at(abs(shared.root, &child))?),
                Kind::Special => {
                    shared.warnings.lock().expect("lock").push(format!(
                        "skipped special file {}",
                        abs(shared.root, &child).display()
                    ));
                    return Ok(());
                }
            };
            local.push(Walked { rel: child, found });
            Ok(())
        },
        |e| Error::io(path(), e),
    );
    listed?;
    shared.out.lock().expect("lock").append(&mut local);
    Ok(())
}
