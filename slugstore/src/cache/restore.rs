//! Putting a record's outputs back in place, exactly as recorded, touching only what differs.
//!
//! Each output becomes exactly the recorded tree: entries that are not part of it are removed,
//! files that differ (content or executable bit) are replaced, and files already in place and equal
//! are left alone. What is in place is learnt by scanning the output like a snapshot does, through
//! the stat cache, so a warm hit on an unchanged build directory reads no file. Files are written as
//! new, private, writable files (mode 0644 or 0755), never hardlinks into the store or a release:
//! later steps edit earlier outputs (`composer dump-autoload` rewrites `vendor/composer`), and a
//! hardlink would let them write into every other copy.
//!
//! A warm hit is a stat pass, so its cost is the number of system calls per entry. The scan and the
//! record's tree are both sorted by path, and are compared by one merge of the two lists (no map of
//! 50k paths to build and hash). Directories are 0755 in a slug; the scan notes the ones in place
//! whose mode differs (an `fstat` of the descriptor it has open), so only those, and the ones
//! created, are `chmod`ed: a `chmod` is a path lookup and a journalled inode update, and doing it for
//! every directory cost a warm hit more than its directory reads.

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use super::inputs::{store_excluded, Workdir};
use super::outputs::entries_under;
use super::record::Record;
use crate::error::{IoResultExt, Result};
use crate::fsutil;
use crate::id::ObjectId;
use crate::scan::WalkSpec;
use crate::slug::{Entry, EntryKind, Manifest};
use crate::snapshot::{scan_tree, TreeScan};
use crate::store::{ObjectWriter, Store};

/// The mode of every directory in a slug.
const DIR_MODE: u32 = 0o755;

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

impl Restored {
    fn add(&mut self, other: Restored) {
        self.written += other.written;
        self.kept += other.kept;
        self.removed += other.removed;
    }
}

/// Brings every output of `rec` to its recorded state under `wd`, and marks the entry used (in the
/// same commit as the scans' stat-cache changes: one synced write per hit).
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
        let target = Target {
            base: &wd.cwd,
            at: &abs,
            strip: top.path.len() + 1,
        };
        let r = match fs::symlink_metadata(&abs) {
            Ok(m) if m.is_dir() && top.kind == EntryKind::Dir => {
                let scan = scan_in_place(store, &writer, &abs)?;
                let have = InPlace::scanned(Some(EntryKind::Dir), &scan);
                let r = apply(store, &target, &want, &have)?;
                scans.push(scan);
                r
            }
            Ok(m) if m.is_file() && matches!(top.kind, EntryKind::File { .. }) => {
                let bytes = fs::read(&abs).at(&abs)?;
                let kind = EntryKind::File {
                    size: bytes.len() as u64,
                    id: ObjectId::hash(&bytes),
                    executable: m.permissions().mode() & 0o111 != 0,
                };
                apply(store, &target, &want, &InPlace::root_only(kind))?
            }
            Ok(_) => {
                remove_any(&abs)?;
                let mut r = apply(store, &target, &want, &InPlace::nothing())?;
                r.removed += 1;
                r
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {
                apply(store, &target, &want, &InPlace::nothing())?
            }
            Err(e) => return Err(crate::Error::io(&abs, e)),
        };
        done.add(r);
    }
    let staged = writer.finish()?;
    let mut batch = store.index().batch();
    staged.stage(&mut batch)?;
    for s in &scans {
        s.stage(&mut batch)?;
    }
    super::record::stage_used(&mut batch, &rec.key);
    batch.commit()?;
    Ok(done)
}

/// Brings the directory `dir` to exactly the tree `manifest`: every entry of it, nothing else (the
/// store excepted, when it lies inside). Only what differs is written or removed; what is in place
/// is learnt through the stat cache, as for an output, so an unchanged file is neither read nor
/// rewritten and keeps its inode.
///
/// `keep_cached` names subtrees (relative paths) moved out of `dir` for a while, whose stat-cache
/// entries must survive this scan not finding them: a later scan of `dir` then knows their files
/// again when they come back with the same inodes and times.
pub fn sync_dir(
    store: &Store,
    manifest: &Manifest,
    dir: &Path,
    keep_cached: &[String],
) -> Result<Restored> {
    fs::create_dir_all(dir).at(dir)?;
    let writer = store.writer();
    let mut scan = scan_in_place(store, &writer, dir)?;
    let keep: Vec<&[u8]> = keep_cached.iter().map(|p| p.as_bytes()).collect();
    scan.keep_cached_under(&keep);
    let want: Vec<&Entry> = manifest.entries().iter().collect();
    let target = Target {
        base: dir,
        at: dir,
        strip: 0,
    };
    let done = apply(store, &target, &want, &InPlace::scanned(None, &scan))?;
    let staged = writer.finish()?;
    let mut batch = store.index().batch();
    staged.stage(&mut batch)?;
    scan.stage(&mut batch)?;
    batch.commit()?;
    Ok(done)
}

/// Scans the directory `abs` through the stat cache, noting its directories of another mode.
fn scan_in_place(store: &Store, writer: &ObjectWriter<'_>, abs: &Path) -> Result<TreeScan> {
    let canon = abs.canonicalize().at(abs)?;
    let ex = store_excluded(store, &canon)?;
    let spec = WalkSpec {
        dir_modes: true,
        ..WalkSpec::new(&ex)
    };
    scan_tree(store, writer, &canon, spec)
}

/// Where wanted entries go: their paths are relative to `base`; what is in place was scanned at
/// `at`, whose entries are the wanted paths less their first `strip` bytes (the wanted entry exactly
/// at `at`, an output's root, is the in-place root `b""`).
struct Target<'a> {
    base: &'a Path,
    at: &'a Path,
    strip: usize,
}

impl Target<'_> {
    /// A wanted entry's path relative to `at`.
    fn rel<'e>(&self, e: &'e Entry) -> &'e [u8] {
        e.path.get(self.strip..).unwrap_or_default()
    }

    /// An in-place path (relative to `at`) as a path.
    fn in_place(&self, rel: &[u8]) -> PathBuf {
        fsutil::walk::join(self.at, rel)
    }
}

/// What is in place, sorted by path relative to the scanned root: the root itself (when it counts),
/// then the scan's entries.
struct InPlace<'a> {
    root: Option<EntryKind>,
    entries: &'a [Entry],
    odd_dirs: &'a [Vec<u8>],
}

impl<'a> InPlace<'a> {
    fn scanned(root: Option<EntryKind>, scan: &'a TreeScan) -> Self {
        InPlace {
            root,
            entries: scan.manifest.entries(),
            odd_dirs: &scan.odd_dirs,
        }
    }

    fn root_only(kind: EntryKind) -> Self {
        InPlace {
            root: Some(kind),
            entries: &[],
            odd_dirs: &[],
        }
    }

    fn nothing() -> Self {
        InPlace {
            root: None,
            entries: &[],
            odd_dirs: &[],
        }
    }

    fn iter(&self) -> impl Iterator<Item = (&[u8], &EntryKind)> {
        let root = self.root.iter().map(|k| (&b""[..], k));
        root.chain(self.entries.iter().map(|e| (e.path.as_slice(), &e.kind)))
    }

    fn odd_mode(&self, rel: &[u8]) -> bool {
        self.odd_dirs
            .binary_search_by(|d| d.as_slice().cmp(rel))
            .is_ok()
    }
}

/// The differences between the wanted entries and what is in place, from one merge of the two
/// sorted lists.
#[derive(Default)]
struct Plan<'w, 'h> {
    /// In-place paths (relative to the scanned root) to remove, in path order.
    stale: Vec<&'h [u8]>,
    /// Wanted entries to create.
    missing: Vec<&'w Entry>,
    /// Directories in place whose mode must be set.
    chmod: Vec<&'w Entry>,
    /// Files in place and equal.
    kept: u64,
}

fn plan<'w, 'h>(target: &Target<'_>, want: &[&'w Entry], have: &'h InPlace<'_>) -> Plan<'w, 'h> {
    let mut p = Plan::default();
    let mut it = have.iter().peekable();
    for &w in want {
        let rel = target.rel(w);
        while let Some((h, _)) = it.next_if(|(h, _)| *h < rel) {
            p.stale.push(h);
        }
        match it.next_if(|(h, _)| *h == rel) {
            Some((_, k)) if *k == w.kind => match w.kind {
                EntryKind::Dir if have.odd_mode(rel) => p.chmod.push(w),
                EntryKind::File { .. } => p.kept += 1,
                _ => {}
            },
            Some((h, _)) => {
                p.stale.push(h);
                p.missing.push(w);
            }
            None => p.missing.push(w),
        }
    }
    p.stale.extend(it.map(|(h, _)| h));
    p
}

/// Makes the wanted entries exactly what is under `target`: removes what is stale, creates what is
/// missing, sets the mode of directories that have another.
fn apply(
    store: &Store,
    target: &Target<'_>,
    want: &[&Entry],
    have: &InPlace<'_>,
) -> Result<Restored> {
    let plan = plan(target, want, have);
    let mut removed = 0;
    let mut gone: Option<&[u8]> = None;
    for rel in &plan.stale {
        // Parents come before their children: a removed directory took its contents with it.
        if gone.is_some_and(|g| {
            rel.starts_with(g) && (g.is_empty() || rel.get(g.len()) == Some(&b'/'))
        }) {
            continue;
        }
        remove_any(&target.in_place(rel))?;
        removed += 1;
        gone = Some(rel);
    }
    let dir_mode = fs::Permissions::from_mode(DIR_MODE);
    for e in plan.missing.iter().filter(|e| e.kind == EntryKind::Dir) {
        let p = target.base.join(e.os_path());
        fs::create_dir(&p).at(&p)?;
        // mkdir(2) applies the umask.
        if !fsutil::mode_survives_umask(DIR_MODE) {
            fs::set_permissions(&p, dir_mode.clone()).at(&p)?;
        }
    }
    for e in &plan.chmod {
        let p = target.base.join(e.os_path());
        fs::set_permissions(&p, dir_mode.clone()).at(&p)?;
    }
    let files: Vec<&&Entry> = plan
        .missing
        .iter()
        .filter(|e| matches!(e.kind, EntryKind::File { .. }))
        .collect();
    files.par_iter().try_for_each(|e| -> Result<()> {
        if let EntryKind::File { size, id, .. } = &e.kind {
            crate::restore::write_file(store, id, *size, e, &target.base.join(e.os_path()))?;
        }
        Ok(())
    })?;
    for e in &plan.missing {
        if let EntryKind::Symlink { target: link } = &e.kind {
            let p = target.base.join(e.os_path());
            std::os::unix::fs::symlink(os(link), &p).at(&p)?;
        }
    }
    Ok(Restored {
        written: files.len() as u64,
        kept: plan.kept,
        removed,
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
