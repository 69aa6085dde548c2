//! Putting a record's outputs back in place, exactly as recorded, touching only what differs.
//!
//! Each output becomes exactly the recorded tree: entries that are not part of it are removed,
//! files that differ (content or executable bit) are replaced, and files already in place and equal
//! are left alone. What is in place is learnt by scanning the output like a snapshot does, through
//! the stat cache, so a warm hit on an unchanged build directory reads no file. Files are written as
//! new, private, writable files (mode 0644 or 0755), never hardlinks into the store or a release:
//! later steps edit earlier outputs (`composer dump-autoload` rewrites `vendor/composer`), and a
//! hardlink would let them write into every other copy.

use std::collections::HashMap;
use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use rayon::prelude::*;
use serde::Serialize;

use super::inputs::{store_excluded, Workdir};
use super::outputs::entries_under;
use super::record::Record;
use crate::error::{IoResultExt, Result};
use crate::id::ObjectId;
use crate::slug::{Entry, EntryKind};
use crate::snapshot::scan_tree;
use crate::store::Store;

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
        let mut have: HashMap<Vec<u8>, EntryKind> = HashMap::new();
        match fs::symlink_metadata(&abs) {
            Ok(m) if m.is_dir() && top.kind == EntryKind::Dir => {
                let canon = abs.canonicalize().at(&abs)?;
                let scan = scan_tree(store, &writer, &canon, &store_excluded(store, &canon)?)?;
                have.insert(top.path.clone(), EntryKind::Dir);
                for e in scan.manifest.entries() {
                    let mut p = top.path.clone();
                    p.push(b'/');
                    p.extend_from_slice(&e.path);
                    have.insert(p, e.kind.clone());
                }
                scans.push(scan);
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
        done.removed += remove_extra(wd, &want, &have)?;
        let r = write_missing(store, wd, &want, &have)?;
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

/// Removes what is in place but not wanted, or wanted as something else; returns how many paths.
fn remove_extra(wd: &Workdir, want: &[&Entry], have: &HashMap<Vec<u8>, EntryKind>) -> Result<u64> {
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
        remove_any(&wd.cwd.join(os(p)))?;
        removed += 1;
        gone = Some(p);
    }
    Ok(removed)
}

/// Creates the wanted directories, files and symlinks that are not in place as wanted.
fn write_missing(
    store: &Store,
    wd: &Workdir,
    want: &[&Entry],
    have: &HashMap<Vec<u8>, EntryKind>,
) -> Result<Restored> {
    let in_place = |e: &Entry| have.get(&e.path) == Some(&e.kind);
    for e in want.iter().filter(|e| e.kind == EntryKind::Dir) {
        let p = wd.cwd.join(e.os_path());
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
            crate::restore::write_file(store, id, *size, e, &wd.cwd.join(e.os_path()))?;
        }
        Ok(())
    })?;
    for e in want {
        if let (EntryKind::Symlink { target }, false) = (&e.kind, in_place(e)) {
            let p = wd.cwd.join(e.os_path());
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
