//! Parallel directory walk.
//!
//! Build trees are wide (tens of thousands of directories) and their files small, so the walk itself is a
//! large share of a snapshot: every directory is read on a rayon task of its own. The walk never follows a
//! symlink, records directories (empty ones too) and symlinks as they are, skips sockets, FIFOs and device
//! nodes with a warning, and fails naming the path on anything it cannot read.

use std::ffi::CStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rayon::slice::ParallelSliceMut;

use crate::error::{Error, IoResultExt, Result};
use crate::fsutil::dir::{Dir, Kind, Stat};
use crate::fsutil::walk as fswalk;
use crate::id::ObjectId;
use crate::scan::{Excludes, Listings};
use crate::store::index::DirListing;

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
    /// The content hash, when the walk read the file (see [`walk_reading`]).
    pub id: Option<ObjectId>,
}

impl FileMeta {
    /// What the stat cache compares, from a regular file's status; not hashed yet.
    pub fn of(m: &Stat) -> FileMeta {
        FileMeta {
            size: m.size,
            mtime_ns: i128::from(m.mtime_ns),
            ctime_ns: i128::from(m.ctime_ns),
            ino: m.ino,
            executable: m.mode & 0o111 != 0,
            id: None,
        }
    }
}

/// Reads (hashes, stores) a file the walk found, while its directory is open: called with the
/// directory, the file's name in it, its path (for messages) and what the walk saw of it.
pub type ReadFile<'a> =
    dyn Fn(&Dir, &CStr, &dyn Fn() -> PathBuf, &FileMeta) -> Result<ObjectId> + Sync + 'a;

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
    /// Directories (relative, `b""` for the root) whose permission bits are not 0755, when the walk
    /// was asked to note them ([`WalkSpec::dir_modes`]); sorted.
    pub odd_dirs: Vec<Vec<u8>>,
}

/// What a walk leaves out, and what it notes besides the entries.
#[derive(Debug, Clone, Copy)]
pub struct WalkSpec<'a> {
    /// Paths left out, with everything beneath them.
    pub excludes: &'a Excludes,
    /// Note the directories whose permission bits are not 0755 (one `fstat` per directory, on the
    /// descriptor the walk has open anyway): a restore in place then changes the mode of those only,
    /// where it would otherwise `chmod` every directory.
    pub dir_modes: bool,
    /// Trust these listings for directories that did not change, and record the listings of the
    /// directories read (see [`Listings`]).
    pub listings: Option<&'a Listings>,
}

impl<'a> WalkSpec<'a> {
    /// A walk leaving out `excludes`, noting nothing else.
    pub fn new(excludes: &'a Excludes) -> Self {
        WalkSpec {
            excludes,
            dir_modes: false,
            listings: None,
        }
    }
}

/// Walks `root` in parallel.
pub fn walk(root: &Path, spec: WalkSpec<'_>) -> Result<WalkResult> {
    walk_with(root, spec, None)
}

/// Walks `root` in parallel and reads each regular file with `read` as it is found. A first snapshot
/// reads every file anyway: reading them in the walk opens each relative to its directory (no path
/// lookup from the root per file) and keeps both cores busy from the start, where a walk and then a
/// read leaves the second core idle whenever the walk runs out of directories.
pub fn walk_reading(root: &Path, spec: WalkSpec<'_>, read: &ReadFile<'_>) -> Result<WalkResult> {
    walk_with(root, spec, Some(read))
}

fn walk_with(root: &Path, spec: WalkSpec<'_>, read: Option<&ReadFile<'_>>) -> Result<WalkResult> {
    let meta = fs::symlink_metadata(root).at(root)?;
    if !meta.is_dir() {
        return Err(Error::NotADirectory(root.to_path_buf()));
    }
    let scan = Scan {
        root,
        root_dir: Dir::open(root).at(root)?,
        excludes: spec.excludes,
        dir_modes: spec.dir_modes,
        listings: spec.listings,
        read,
        warnings: Mutex::new(Vec::new()),
        odd_dirs: Mutex::new(Vec::new()),
    };
    let mut entries = fswalk::walk(root, &scan)?;
    // 130k paths with long common prefixes: worth both cores.
    entries.par_sort_unstable_by(|a, b| a.rel.cmp(&b.rel));
    let mut warnings = scan
        .warnings
        .into_inner()
        .unwrap_or_else(|p| p.into_inner());
    warnings.sort();
    let mut odd_dirs = scan
        .odd_dirs
        .into_inner()
        .unwrap_or_else(|p| p.into_inner());
    odd_dirs.sort();
    Ok(WalkResult {
        entries,
        warnings,
        odd_dirs,
    })
}

/// What a snapshot records of each directory.
struct Scan<'a> {
    root: &'a Path,
    root_dir: Dir,
    excludes: &'a Excludes,
    dir_modes: bool,
    listings: Option<&'a Listings>,
    read: Option<&'a ReadFile<'a>>,
    warnings: Mutex<Vec<String>>,
    odd_dirs: Mutex<Vec<Vec<u8>>>,
}

impl Scan<'_> {
    fn warn(&self, rel: &[u8]) {
        let warning = format!(
            "skipped special file {}",
            fswalk::join(self.root, rel).display()
        );
        let mut warnings = self.warnings.lock().unwrap_or_else(|p| p.into_inner());
        warnings.push(warning);
    }

    fn note_mode(&self, rel: &[u8], st: &Stat) {
        if self.dir_modes && st.mode & 0o7777 != 0o755 {
            let mut odd = self.odd_dirs.lock().unwrap_or_else(|p| p.into_inner());
            odd.push(rel.to_vec());
        }
    }

    /// Statuses by relative path, from the root's descriptor (`b""`: the root).
    fn lstat(&self, rel: &[u8]) -> std::io::Result<Stat> {
        match rel {
            b"" => self.root_dir.lstat(c"."),
            rel => self.root_dir.lstat(rel),
        }
    }

    /// The entries of an unchanged directory from its listing, its files statted by path; `None`
    /// (nothing recorded) when a listed file is gone or is no longer a file: the directory changed
    /// after its status was taken, and is read instead.
    fn listed_entries(
        &self,
        rel: &[u8],
        listing: &DirListing,
        out: &mut Vec<Walked>,
    ) -> Result<Option<Vec<Vec<u8>>>> {
        let start = out.len();
        let mut subdirs = Vec::new();
        let mut special = Vec::new();
        let excludes = self.excludes.within(rel);
        for e in listing.entries() {
            let child = fswalk::child(rel, e.name);
            if excludes && self.excludes.contains(&child) {
                continue;
            }
            let found = match e.kind {
                Kind::Dir => {
                    subdirs.push(e.name.to_vec());
                    Found::Dir
                }
                Kind::File => match self.lstat(&child) {
                    Ok(st) if st.is_file() => Found::File(FileMeta::of(&st)),
                    Ok(_) => {
                        out.truncate(start);
                        return Ok(None);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        out.truncate(start);
                        return Ok(None);
                    }
                    Err(e) => return Err(Error::io(fswalk::join(self.root, &child), e)),
                },
                Kind::Symlink => Found::Symlink(e.target.to_vec()),
                Kind::Special => {
                    special.push(child);
                    continue;
                }
            };
            out.push(Walked { rel: child, found });
        }
        for child in special {
            self.warn(&child);
        }
        Ok(Some(subdirs))
    }
}

impl fswalk::Visitor for Scan<'_> {
    type Out = Walked;

    fn visit_unopened(
        &self,
        rel: &[u8],
        out: &mut Vec<Walked>,
        descend: &mut dyn FnMut(&CStr),
    ) -> Result<bool> {
        let Some(recorded) = self.listings.and_then(|l| l.recorded(rel)) else {
            return Ok(false);
        };
        // A directory that is gone or not a directory any more is left to the read to report.
        let Ok(st) = self.lstat(rel) else {
            return Ok(false);
        };
        let Some(listing) = recorded.trusted(&st) else {
            return Ok(false);
        };
        let Some(subdirs) = self.listed_entries(rel, listing, out)? else {
            return Ok(false);
        };
        self.note_mode(rel, &st);
        for name in subdirs {
            let name = std::ffi::CString::new(name).expect("names hold no NUL");
            descend(&name);
        }
        Ok(true)
    }

    fn visit(
        &self,
        dir: &Dir,
        rel: &[u8],
        out: &mut Vec<Walked>,
        descend: &mut dyn FnMut(&CStr),
    ) -> Result<()> {
        // The status is taken before the entries are read: a change while they are read then
        // shows as new times next time, never as a stale listing that looks current.
        let st = match self.dir_modes || self.listings.is_some() {
            true => Some(dir.stat().at(fswalk::join(self.root, rel))?),
            false => None,
        };
        if let Some(st) = &st {
            self.note_mode(rel, st);
        }
        let mut listing = match (self.listings, &st) {
            (Some(l), Some(st)) if l.may_record(st) => Some(DirListing::builder(st)),
            _ => None,
        };
        let excludes = self.excludes.within(rel);
        dir.for_each(
            |name, kind| {
                let child = fswalk::child(rel, name.to_bytes());
                let excluded = excludes && self.excludes.contains(&child);
                let target = match kind {
                    Kind::Symlink if listing.is_some() || !excluded => {
                        Some(dir.read_link(name).at(fswalk::join(self.root, &child))?)
                    }
                    _ => None,
                };
                if let Some(l) = &mut listing {
                    l.push(name.to_bytes(), kind, target.as_deref().unwrap_or_default());
                }
                if excluded {
                    return Ok(());
                }
                let path = || fswalk::join(self.root, &child);
                let found = match kind {
                    Kind::Dir => {
                        descend(name);
                        Found::Dir
                    }
                    Kind::File => {
                        let mut meta = FileMeta::of(&dir.lstat(name).at(path())?);
                        if let Some(read) = self.read {
                            meta.id = Some(read(dir, name, &path, &meta)?);
                        }
                        Found::File(meta)
                    }
                    Kind::Symlink => Found::Symlink(target.unwrap_or_default()),
                    Kind::Special => {
                        self.warn(&child);
                        return Ok(());
                    }
                };
                out.push(Walked { rel: child, found });
                Ok(())
            },
            |e| Error::io(fswalk::join(self.root, rel), e),
        )?;
        if let Some(listings) = self.listings {
            listings.record(rel, listing.map(|l| l.finish()));
        }
        Ok(())
    }
}
