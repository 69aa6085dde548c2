//! Storing a step's outputs: all of them as one tree, committed as a slug together with the record
//! that names it.
//!
//! The tree's top-level entries are the declared outputs, at their paths relative to the working
//! directory, with the directories above them (a manifest needs every parent): `vendor` and
//! `app/etc/config.php` become `app`, `app/etc`, `app/etc/config.php`, `vendor`, `vendor/...`.
//! Directories are scanned like a snapshot scans a build, through the stat cache and without any
//! implicit exclude; their contents go to the same deduplicated packs as slugs, so a `vendor/` that
//! a stored slug already holds costs no new object.

use std::collections::BTreeSet;
use std::fs;
use std::io::ErrorKind;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;

use super::inputs::{store_excluded, Workdir};
use crate::error::{Error, IoResultExt, Result};
use crate::id::SlugId;
use crate::scan::WalkSpec;
use crate::slug::{Entry, EntryKind, Manifest, TreeStats};
use crate::snapshot::{scan_tree, store_file};
use crate::store::{commit_manifest, SlugMeta};
use crate::store::{Batch, Store};

/// Normalizes the declared outputs (relative to the working directory) and refuses an empty
/// list, the working directory itself, and outputs inside one another.
pub fn check_outputs(wd: &Workdir, outputs: &[String]) -> Result<Vec<String>> {
    if outputs.is_empty() {
        return Err(Error::CacheNoOutput);
    }
    let mut out = Vec::new();
    for o in outputs {
        let (rel, _) = wd.path(o)?;
        if rel.is_empty() {
            return Err(Error::BadOption {
                option: "--output".into(),
                value: o.to_string(),
                why: "the working directory itself cannot be an output".into(),
            });
        }
        out.push(rel);
    }
    for a in &out {
        for b in &out {
            if a != b && b.starts_with(&format!("{a}/")) {
                return Err(Error::NestedOutputs {
                    outer: a.to_string(),
                    inner: b.to_string(),
                });
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// The entries an output root at `rel` holds in a record's tree: it and everything under it.
pub fn entries_under<'m>(manifest: &'m Manifest, rel: &str) -> impl Iterator<Item = &'m Entry> {
    let top = rel.as_bytes().to_vec();
    let mut sub = top.clone();
    sub.push(b'/');
    manifest
        .entries()
        .iter()
        .filter(move |e| e.path == top || e.path.starts_with(&sub))
}

/// Stores `outputs` (checked by [`check_outputs`]) of step `name` as one tree and commits it as a
/// slug; `extra` adds to the same batch knowing the slug and its counts (the record).
pub fn capture(
    store: &Store,
    wd: &Workdir,
    name: &str,
    outputs: &[String],
    extra: impl FnOnce(&mut Batch<'_>, SlugId, TreeStats) -> Result<()>,
) -> Result<SlugId> {
    let writer = store.writer();
    let mut entries = Vec::new();
    let mut parents = BTreeSet::new();
    let mut scans = Vec::new();
    for rel in outputs {
        let abs = wd.cwd.join(rel);
        let meta = match fs::symlink_metadata(&abs) {
            Ok(m) => m,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(Error::CacheOutputMissing {
                    name: name.to_owned(),
                    path: abs,
                })
            }
            Err(e) => return Err(Error::io(&abs, e)),
        };
        let mut at = rel.as_str();
        while let Some((parent, _)) = at.rsplit_once('/') {
            parents.insert(parent.to_owned());
            at = parent;
        }
        let path = rel.as_bytes().to_vec();
        let kind = if meta.is_dir() {
            let canon = abs.canonicalize().at(&abs)?;
            let ex = store_excluded(store, &canon)?;
            let scan = scan_tree(store, &writer, &canon, WalkSpec::new(&ex))?;
            for e in scan.manifest.entries() {
                let mut p = path.clone();
                p.push(b'/');
                p.extend_from_slice(&e.path);
                entries.push(Entry {
                    path: p,
                    kind: e.kind.clone(),
                });
            }
            scans.push(scan);
            EntryKind::Dir
        } else if meta.is_file() {
            // Read like a snapshot reads a file: a large output is streamed, never held whole.
            let file = fs::File::open(&abs).at(&abs)?;
            let id = store_file(&writer, file, &|| abs.clone(), meta.len())?;
            EntryKind::File {
                size: meta.len(),
                id,
                executable: meta.permissions().mode() & 0o111 != 0,
            }
        } else if meta.file_type().is_symlink() {
            let target = fs::read_link(&abs).at(&abs)?;
            EntryKind::Symlink {
                target: target.as_os_str().as_bytes().to_vec(),
            }
        } else {
            return Err(Error::SpecialOutput(abs.to_path_buf()));
        };
        entries.push(Entry { path, kind });
    }
    for p in parents {
        entries.push(Entry {
            path: p.into_bytes(),
            kind: EntryKind::Dir,
        });
    }
    let manifest = Manifest::new(entries)?;
    let stats = manifest.stats();
    let meta = SlugMeta {
        labels: [("cache".to_owned(), name.to_owned())].into(),
        source: Some(format!("cache step {name}")),
        action: "cache",
        ..SlugMeta::default()
    };
    let committed = commit_manifest(store, writer, &manifest, &meta, |batch, slug| {
        for s in &scans {
            s.stage(batch)?;
        }
        extra(batch, *slug, stats)
    })?;
    Ok(committed.slug)
}
