//! A parallel directory walk over open descriptors, for the scans that read whole trees.
//!
//! Build trees are wide (tens of thousands of directories) with small files, so reading the directories
//! is a large share of a snapshot or of a compression rerun. Every directory is read on a rayon task of
//! its own, opened relative to its parent's descriptor (see [`super::dir`]). What to record, and which
//! subdirectories to enter, is the [`Visitor`]'s business; the walk does the opening, the scheduling,
//! the collecting and the first error.
//!
//! A visitor that knows a directory's entries without reading it (the snapshot's listing cache) says
//! so in [`Visitor::visit_unopened`]: that directory is then never opened, and its subdirectories are
//! opened from the root's descriptor by their relative path when they must be read.

use std::ffi::{CStr, CString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::dir::Dir;
use crate::error::{Error, IoResultExt, Result};

/// What a walk does in each directory.
pub trait Visitor: Sync {
    /// What it records.
    type Out: Send;

    /// Reads directory `dir`, at `rel` below the root (`/`-separated, empty for the root), appends what
    /// it records to `out`, and calls `descend` with the name of each subdirectory to walk.
    fn visit(
        &self,
        dir: &Dir,
        rel: &[u8],
        out: &mut Vec<Self::Out>,
        descend: &mut dyn FnMut(&CStr),
    ) -> Result<()>;

    /// Called before directory `rel` is opened: a visitor that can record it without reading it does
    /// so (as [`Visitor::visit`] would) and returns true; then the directory is not opened. Returns
    /// false, having recorded nothing and descended nowhere, to have it read.
    fn visit_unopened(
        &self,
        rel: &[u8],
        out: &mut Vec<Self::Out>,
        descend: &mut dyn FnMut(&CStr),
    ) -> Result<bool> {
        let _ = (rel, out, descend);
        Ok(false)
    }
}

/// Walks the directory `root` (which may be reached through a symlink) in parallel with `visitor`,
/// and returns everything it recorded, in no particular order. Stops at the first error.
pub fn walk<V: Visitor>(root: &Path, visitor: &V) -> Result<Vec<V::Out>> {
    let walk = Walk {
        root,
        root_dir: Arc::new(Dir::open(root).at(root)?),
        visitor,
        out: Mutex::new(Vec::new()),
        error: Mutex::new(None),
    };
    let top = Pending {
        parent: None,
        rel: Vec::new(),
    };
    rayon::scope(|s| walk.run(s, top));
    if let Some(e) = walk.error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    Ok(walk.out.into_inner().unwrap_or_else(|p| p.into_inner()))
}

/// `rel` below `root`, as a path (for messages and for callers that need whole paths).
pub fn join(root: &Path, rel: &[u8]) -> PathBuf {
    if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(std::ffi::OsStr::from_bytes(rel))
    }
}

/// `rel` extended by the entry `name`.
pub fn child(rel: &[u8], name: &[u8]) -> Vec<u8> {
    let mut child = Vec::with_capacity(rel.len() + 1 + name.len());
    if !rel.is_empty() {
        child.extend_from_slice(rel);
        child.push(b'/');
    }
    child.extend_from_slice(name);
    child
}

/// A directory waiting to be read: its parent if open and its name there, else it is opened from the
/// root by `rel`.
struct Pending {
    parent: Option<(Arc<Dir>, CString)>,
    rel: Vec<u8>,
}

struct Walk<'a, V: Visitor> {
    root: &'a Path,
    root_dir: Arc<Dir>,
    visitor: &'a V,
    out: Mutex<Vec<V::Out>>,
    error: Mutex<Option<Error>>,
}

impl<V: Visitor> Walk<'_, V> {
    fn run<'s>(&'s self, scope: &rayon::Scope<'s>, pending: Pending) {
        let lock_error = || self.error.lock().unwrap_or_else(|p| p.into_inner());
        if lock_error().is_some() {
            return;
        }
        if let Err(e) = self.read(scope, pending) {
            lock_error().get_or_insert(e);
        }
    }

    fn read<'s>(&'s self, scope: &rayon::Scope<'s>, pending: Pending) -> Result<()> {
        let Pending { parent, rel } = pending;
        let mut local = Vec::new();
        let known = self.visitor.visit_unopened(&rel, &mut local, &mut |name| {
            let sub = Pending {
                parent: None,
                rel: child(&rel, name.to_bytes()),
            };
            scope.spawn(move |s| self.run(s, sub));
        })?;
        if known {
            self.collect(local);
            return Ok(());
        }
        let dir = match &parent {
            Some((parent, name)) => parent.open_at(name.as_c_str()).map(Arc::new),
            None if rel.is_empty() => Ok(Arc::clone(&self.root_dir)),
            None => self.root_dir.open_beneath(rel.as_slice()).map(Arc::new),
        }
        .at(join(self.root, &rel))?;
        self.visitor.visit(&dir, &rel, &mut local, &mut |name| {
            let sub = Pending {
                parent: Some((Arc::clone(&dir), name.to_owned())),
                rel: child(&rel, name.to_bytes()),
            };
            scope.spawn(move |s| self.run(s, sub));
        })?;
        self.collect(local);
        Ok(())
    }

    fn collect(&self, mut local: Vec<V::Out>) {
        if !local.is_empty() {
            (self.out.lock().unwrap_or_else(|p| p.into_inner())).append(&mut local);
        }
    }
}
