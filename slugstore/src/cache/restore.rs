//! Putting a record's outputs back in place, exactly as recorded, touching only what differs.
//!
//! Each output becomes exactly the recorded tree: entries that are not part of it are removed,
//! files that differ (content or executable bit) are replaced, and files already in place and equal
//! are left alone. What is in place is learnt by scanning the output like a snapshot does, through
//! the stat cache, so a warm hit on an unchanged build directory reads no file. Files are written as
//! new, private, writable files (mode 0644 or 0755), never hardlinks into the store or a release:
//! later steps edit earlier outputs (`composer dump-autoload` rewrites `vendor/composer`), and a
//! hardlink would let them write into every other copy.

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

// Maps keyed by the paths of a whole output tree: foldhash, as everywhere paths are hashed (SipHash
// showed in the profile of a warm hit).
use foldhash::HashMap;
use rayon::prelude::*;
use serde::Serialize;

use super::inputs::{store_excluded, Workdir};
use super::outputs::entries_under;
use super::record::Record;
use crate::error::{IoResultExt, Result};
use crate::id::ObjectId;
use crate::slug::{Entry, EntryKind, Manifest};
use crate::snapshot::{scan_tree, TreeScan};
use crate::store::{ObjectWriter, Store};

/// What a restore of outputs did.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Restored {
    /// Files written.
    pub written: u64,
    /// Files left alone because they were in place and equal.
    pub kept: u64,
    /// Paths removed because the record does not have them (or has something else there).
    pub removed: u64,
}

/// Brings every output of `rec` to its recorded state under `wd`.
pub fn restore_outputs(store: &Store, wd: &Workdir, rec: &Record) -> Result<Restored> {
    let manifest = store.manifest(&rec.slug)?;
    let writer = store.writer();
    let mut scans = Vec::new();
    let mut done = Restored::default();
    for rel in &rec.outputs {
        let abs = wd.cwd.join(rel);
        if let Some(parent) = abs.parent() {
            fs::create_dir_all(parent).at(parent)?;
        }
        let want: Vec<&Entry> = entries_under(&manifest, rel).collect();
        let Some(top) = want.first() else {
            return Err(crate::Error::format(
                format!("cache record {}", rec.key.short(12)),
                format!("its tree has no output `{rel}`"),
            ));
        };
        // What is in place, by path relative to the cwd.
        let mut have: HashMap<Vec<u8>, EntryKind> = HashMap::default();
        match fs::symlink_metadata(&abs) {
            Ok(m) if m.is_dir() && top.kind == EntryKind::Dir => {
                have.insert(top.path.clone(), EntryKind::Dir);
                scans.push(scan_in_place(store, &writer, &abs, &top.path, &mut have)?);
            }
            Ok(m) if m.is_file() && matches!(top.kind, EntryKind::File { .. }) => {
                let bytes = fs::read(&abs).at(&abs)?;
                have.insert(
                    top.path.clone(),
                    EntryKind::File {
                        size: bytes.len() as u64,
                        id: ObjectId::hash(&bytes),
                        executable: m.permissions().mode() & 0o111 != 0,
                    },
                );
            }
            Ok(_) => {
                remove_any(&abs)?;
                done.removed += 1;
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(crate::Error::io(&abs, e)),
        }
        done.removed += remove_extra(&wd.cwd, &want, &have)?;
        let r = write_missing(store, &wd.cwd, &want, &have)?;
        done.written += r.written;
        done.kept += r.kept;
    }
    let staged = writer.finish()?;
    let mut batch = store.index().batch();
    staged.stage(&mut batch)?;
    for s in &scans {
        s.stage(&mut batch)?;
    }
    batch.commit()?;
    Ok(done)
}

/// Brings the directory `dir` to exactly the tree `manifest`: every entry of it, nothing else (the
/// store excepted, when it lies inside). Only what differs is written or removed; what is in place
/// is learnt through the stat cache, as for an output, so an unchanged file is neither read nor
/// rewritten and keeps its inode.
pub fn sync_dir(store: &Store, manifest: &Manifest, dir: &Path) -> Result<Restored> {
    fs::create_dir_all(dir).at(dir)?;
    let writer = store.writer();
    let mut have = HashMap::default();
    let scan = scan_in_place(store, &writer, dir, b"", &mut have)?;
    let want: Vec<&Entry> = manifest.entries().iter().collect();
    let removed = remove_extra(dir, &want, &have)?;
    let mut done = write_missing(store, dir, &want, &have)?;
    done.removed = removed;
    let staged = writer.finish()?;
    let mut batch = store.index().batch();
    staged.stage(&mut batch)?;
    scan.stage(&mut batch)?;
    batch.commit()?;
    Ok(done)
}

/// Scans the directory `abs` through the stat cache into `have`, each path under `prefix` (none
/// when empty).
fn scan_in_place(
    store: &Store,
    writer: &ObjectWriter<'_>,
    abs: &Path,
    prefix: &[u8],
    have: &mut HashMap<Vec<u8>, EntryKind>,
) -> Result<TreeScan> {
    let canon = abs.canonicalize().at(abs)?;
    let scan = scan_tree(store, writer, &canon, &store_excluded(store, &canon)?)?;
    for e in scan.manifest.entries() {
        let mut p = prefix.to_vec();
        if !p.is_empty() {
            p.push(b'/');
        }
        p.extend_from_slice(&e.path);
        have.insert(p, e.kind.clone());
    }
    Ok(scan)
}

/// Removes what is in place but not wanted, or wanted as something else; returns how many paths.
fn remove_extra(base: &Path, want: &[&Entry], have: &HashMap<Vec<u8>, EntryKind>) -> Result<u64> {
    let wanted: HashMap<&[u8], &EntryKind> =
        want.iter().map(|e| (e.path.as_slice(), &e.kind)).collect();
    let mut stale: Vec<&Vec<u8>> = have
        .iter()
        .filter(|(p, k)| wanted.get(p.as_slice()) != Some(k))
        .map(|(p, _)| p)
        .collect();
    // Parents before children: a removed directory takes its contents with it.
    stale.sort();
    let mut removed = 0;
    let mut gone: Option<&[u8]> = None;
    for p in stale {
        if gone.is_some_and(|g| p.starts_with(g) && p.get(g.len()) == Some(&b'/')) {
            continue;
        }
        let kind = &have[p];
        // A directory wanted as a directory stays (only its contents differ).
        if *kind == EntryKind::Dir && wanted.get(p.as_slice()) == Some(&&EntryKind::Dir) {
            continue;
        }
        remove_any(&base.join(os(p)))?;
        removed += 1;
        gone = Some(p);
    }
    Ok(removed)
}

/// Creates the wanted directories, files and symlinks that are not in place as wanted.
fn write_missing(
    store: &Store,
    base: &Path,
    want: &[&Entry],
    have: &HashMap<Vec<u8>, EntryKind>,
) -> Result<Restored> {
    let in_place = |e: &Entry| have.get(&e.path) == Some(&e.kind);
    for e in want.iter().filter(|e| e.kind == EntryKind::Dir) {
        let p = base.join(e.os_path());
        if !in_place(e) {
            fs::create_dir(&p).at(&p)?;
        }
        // mkdir(2) applies the umask, and a directory in place may have another mode.
        fs::set_permissions(&p, fs::Permissions::from_mode(e.mode())).at(&p)?;
    }
    let files: Vec<&&Entry> = want
        .iter()
        .filter(|e| matches!(e.kind, EntryKind::File { .. }))
        .collect();
    let todo: Vec<&&Entry> = files.iter().copied().filter(|e| !in_place(e)).collect();
    todo.par_iter().try_for_each(|e| -> Result<()> {
        if let EntryKind::File { size, id, .. } = &e.kind {
            crate::restore::write_file(store, id, *size, e, &base.join(e.os_path()))?;
        }
        Ok(())
    })?;
    for e in want {
        if let (EntryKind::Symlink { target }, false) = (&e.kind, in_place(e)) {
            let p = base.join(e.os_path());
            std::os::unix::fs::symlink(os(target), &p).at(&p)?;
        }
    }
    Ok(Restored {
        written: todo.len() as u64,
        kept: (files.len() - todo.len()) as u64,
        removed: 0,
    })
}

fn os(b: &[u8]) -> &Path {
    use std::os::unix::ffi::OsStrExt;
    Path::new(std::ffi::OsStr::from_bytes(b))
}

/// Removes whatever is at `p` (a directory with its contents); nothing there is fine.
pub(super) fn remove_any(p: &Path) -> Result<()> {
    match fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(p).at(p),
        Ok(_) => fs::remove_file(p).at(p),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(crate::Error::io(p, e)),
    }
}
