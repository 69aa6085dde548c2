//! Restore: write a slug's tree into a directory, bit-exact.
//!
//! Directories first (in path order, so parents precede children), then files in parallel, then
//! symlinks. Every object is verified against its hash *before* its bytes reach the destination (large
//! objects go to a temporary sibling that is renamed only once verified), so a damaged store makes a
//! restore fail naming the object and path instead of writing wrong bytes.

use std::cell::RefCell;
use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;

use crate::error::{Error, IoResultExt, Result};
use crate::fsutil::dir::Dir;
use crate::fsutil::{self, Durability, TempFile};
use crate::id::{ObjectId, SlugId};
use crate::progress::ProgressBars;
use crate::slug::{Entry, EntryKind, Manifest, TreeStats};
use crate::store::{Store, IN_MEMORY_LIMIT};

/// How to restore.
#[derive(Debug, Clone, Default, Serialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct RestoreOptions {
    /// Restore into a directory that is not empty, replacing what the slug has at the same paths.
    #[cfg_attr(feature = "clap", arg(long))]
    pub force: bool,
}

/// What a restore wrote.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    /// The slug restored.
    pub slug: SlugId,
    /// Entry counts.
    #[serde(flatten)]
    pub tree: TreeStats,
    /// Wall time in seconds.
    pub seconds: f64,
}

/// Restores slug `id` into `dest`, which must be absent or empty unless `opts.force`.
pub fn restore(
    store: &Store,
    id: &SlugId,
    dest: &Path,
    opts: &RestoreOptions,
    bars: &dyn ProgressBars,
) -> Result<RestoreReport> {
    let started = Instant::now();
    let manifest = store.manifest(id)?;
    prepare_dest(dest, opts.force)?;
    write_tree(store, &manifest, dest, opts.force, bars)?;
    Ok(RestoreReport {
        slug: *id,
        tree: manifest.stats(),
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn prepare_dest(dest: &Path, force: bool) -> Result<()> {
    match fs::read_dir(dest) {
        Ok(mut rd) => {
            if !force && rd.next().is_some() {
                return Err(Error::NotEmpty(dest.to_path_buf()));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => fs::create_dir_all(dest).at(dest),
        Err(e) => Err(Error::io(dest, e)),
    }
}

/// Writes every entry of `manifest` under `dest` (which exists). With `replace`, whatever stands at an
/// entry's path is removed first (never written through).
pub fn write_tree(
    store: &Store,
    manifest: &Manifest,
    dest: &Path,
    replace: bool,
    bars: &dyn ProgressBars,
) -> Result<()> {
    let entries = manifest.entries();
    for e in entries.iter().filter(|e| e.kind == EntryKind::Dir) {
        let p = dest.join(e.os_path());
        let exists = match fs::symlink_metadata(&p) {
            Ok(m) if replace && m.is_dir() => true,
            Ok(_) if replace => {
                fs::remove_file(&p).at(&p)?;
                false
            }
            _ => false,
        };
        if !exists {
            fs::create_dir(&p).at(&p)?;
        }
        // create(2) applies the umask; the slug records the mode the directory must have.
        fs::set_permissions(&p, fs::Permissions::from_mode(e.mode())).at(&p)?;
    }
    let bar = bars.bytes("restoring");
    bar.set_length(manifest.stats().bytes);
    entries.par_iter().try_for_each(|e| -> Result<()> {
        if let EntryKind::File { size, id, .. } = &e.kind {
            let p = dest.join(e.os_path());
            if replace {
                remove_non_dir(&p)?;
            }
            write_file(store, id, *size, e, &p)?;
            bar.inc(*size);
        }
        Ok(())
    })?;
    bar.finish();
    for e in entries {
        if let EntryKind::Symlink { target } = &e.kind {
            let p = dest.join(e.os_path());
            if replace {
                remove_non_dir(&p)?;
            }
            use std::os::unix::ffi::OsStrExt;
            std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(target), &p).at(&p)?;
        }
    }
    Ok(())
}

fn remove_non_dir(p: &Path) -> Result<()> {
    match fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(p).at(p),
        Ok(_) => fs::remove_file(p).at(p),
        Err(_) => Ok(()),
    }
}

thread_local! {
    static BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Where a file is written: its path, and optionally the open directory and the name to create it by
/// there (one component for the kernel to resolve instead of the whole path, which then only names the
/// file in errors).
#[derive(Clone, Copy)]
pub struct Dest<'a> {
    /// The file's path.
    pub path: &'a Path,
    /// Its directory, open, and its name there.
    pub at: Option<(&'a Dir, &'a [u8])>,
}

impl<'a> From<&'a Path> for Dest<'a> {
    fn from(path: &'a Path) -> Self {
        Dest { path, at: None }
    }
}

fn create(dest: Dest<'_>, mode: u32) -> Result<File> {
    let path = dest.path;
    let f = match dest.at {
        Some((dir, name)) => dir.create_file(name, mode).at(path)?,
        None => OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(path)
            .at(path)?,
    };
    // The umask may have narrowed the mode given to open(2); when it cannot have, skip the fchmod(2).
    if !fsutil::mode_survives_umask(mode) {
        f.set_permissions(fs::Permissions::from_mode(mode))
            .at(path)?;
    }
    Ok(f)
}

/// Writes one file from the store, verified before it becomes visible under its name.
pub fn write_file(
    store: &Store,
    id: &ObjectId,
    size: u64,
    entry: &Entry,
    path: &Path,
) -> Result<()> {
    write_file_mode(store, id, size, entry, path.into(), entry.mode())
}

/// [`write_file`] with explicit permission bits (releases are written read-only).
pub fn write_file_mode(
    store: &Store,
    id: &ObjectId,
    size: u64,
    entry: &Entry,
    dest: Dest<'_>,
    mode: u32,
) -> Result<()> {
    let path = dest.path;
    let named = |e: Error| match e {
        Error::Corrupt { id, detail } => Error::Corrupt {
            id,
            detail: format!("{detail} (needed for `{}`)", entry.display_path()),
        },
        Error::MissingObject(id) => Error::Corrupt {
            id,
            detail: format!("missing (needed for `{}`)", entry.display_path()),
        },
        e => e,
    };
    if size > IN_MEMORY_LIMIT {
        // Not fsynced, like the small files below: a caller that needs the tree durable flushes it once.
        let mut tmp = TempFile::create(path, mode, || fsutil::temp_sibling(path))?;
        let tmp_path = tmp.path().to_path_buf();
        if !fsutil::mode_survives_umask(mode) {
            tmp.file()
                .set_permissions(fs::Permissions::from_mode(mode))
                .at(&tmp_path)?;
        }
        let mut w = BufWriter::with_capacity(1 << 20, tmp.file());
        store.stream_object(id, &mut w).map_err(named)?;
        w.flush().at(&tmp_path)?;
        drop(w);
        return tmp.persist_with(Durability::Unsynced);
    }
    BUF.with(|buf| {
        let mut buf = buf.borrow_mut();
        store.read_object_into(id, &mut buf).map_err(named)?;
        let mut f = create(dest, mode)?;
        f.write_all(&buf).at(path)
    })
}
