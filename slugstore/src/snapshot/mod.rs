//! Snapshot: turn a build tree into a slug.
//!
//! 1. Walk the tree in parallel, leaving out the excluded paths (a deploy's mounts, `--exclude`).
//! 2. Merge the walk with the stat cache (both sorted by path): a file whose size, times and inode are
//!    unchanged keeps its recorded hash and is not read.
//!    A file whose cached hash names an object `slug verify` marked damaged is read all the same: its
//!    bytes replace the damaged copy.
//! 3. Read, hash and store the other files in parallel (rayon across files; large files are mapped for
//!    hashing and streamed into the store). When the stat cache knows nothing of the tree (its first
//!    snapshot), steps 1-3 are one: each file is read as the walk finds it, opened relative to its
//!    directory.
//! 4. Encode the manifest, store it as an object, make the packs durable, then commit in one index batch
//!    ([`commit_manifest`]): object locations, the slug record, the ref, the stat-cache changes. Until
//!    that batch lands nothing of the snapshot is visible, so a snapshot killed at any moment leaves no
//!    slug that looks whole.
//!
//! `stat_cache` holds step 2 and what the commit writes back to the cache; `watched` the shortcut taken
//! when `slug watch` has followed the tree since its last snapshot.

mod stat_cache;
mod watched;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ffi::CStr;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use rayon::prelude::*;
use serde::Serialize;

use crate::error::{Error, IoResultExt, Result};
use crate::fsutil::dir::Dir;
use crate::fsutil::walk as fswalk;
use crate::id::{ObjectId, SlugId};
use crate::progress::ProgressBars;
use crate::scan::{self, FileMeta, Found, Walked};
use crate::slug::check_ref_name;
use crate::slug::{Entry, EntryKind, Manifest, TreeStats};
use crate::store::index::{tree_key, TreeKey};
use crate::store::{commit_manifest, SlugMeta};
use crate::store::{ObjectWriter, Store, IN_MEMORY_LIMIT};
use stat_cache::{ns_since_epoch, stat_entry, CachedStats, StatChanges, RACY_MARGIN};

/// What to snapshot and how to record it.
#[derive(Debug, Clone, Default, Serialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct SnapshotOptions {
    /// Paths (relative to the tree) to leave out, with everything beneath them.
    #[cfg_attr(feature = "clap", arg(long = "exclude", value_name = "PATH"))]
    pub excludes: Vec<String>,
    /// Point this ref at the new slug (its previous slug becomes the parent).
    #[cfg_attr(feature = "clap", arg(long = "ref", value_name = "NAME"))]
    pub ref_name: Option<String>,
    /// A message recorded with the slug.
    #[cfg_attr(feature = "clap", arg(short, long))]
    pub message: Option<String>,
    /// Labels recorded with the slug (`KEY=VALUE`).
    #[cfg_attr(feature = "clap", arg(long = "label", value_name = "KEY=VALUE", value_parser = parse_label))]
    pub labels: Vec<(String, String)>,
    /// Read every file, ignoring the stat cache.
    #[cfg_attr(feature = "clap", arg(long))]
    pub no_cache: bool,
}

#[cfg(feature = "clap")]
fn parse_label(s: &str) -> std::result::Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("`{s}` is not KEY=VALUE"))
}

/// What a snapshot did.
#[derive(Debug, Clone, Serialize)]
pub struct SnapshotReport {
    /// The slug id.
    pub slug: SlugId,
    /// False when the store already had this exact slug.
    pub new_slug: bool,
    /// The ref moved, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ref_name: Option<String>,
    /// Entry counts of the slug.
    #[serde(flatten)]
    pub tree: TreeStats,
    /// Files whose bytes were read (stat-cache misses).
    pub files_read: u64,
    /// File contents added to the store (the manifest is not counted).
    pub new_objects: u64,
    /// Uncompressed bytes of those contents.
    pub new_bytes: u64,
    /// Bytes the new objects (manifest included) take in the store.
    pub stored_bytes: u64,
    /// File bytes not stored again because their content was already stored.
    pub dedup_bytes: u64,
    /// Paths left out.
    pub excluded: Vec<String>,
    /// Special files skipped, and why a watcher's journal was not used when one runs.
    pub warnings: Vec<String>,
    /// True when a watcher's journal named the paths to look at (`slug watch`): the tree was not
    /// walked.
    pub watched: bool,
    /// Wall time in seconds.
    pub seconds: f64,
}

/// Snapshots `tree` into `store`.
pub fn snapshot(
    store: &Store,
    tree: &Path,
    opts: &SnapshotOptions,
    bars: &dyn ProgressBars,
) -> Result<SnapshotReport> {
    let started = Instant::now();
    let scan_start = SystemTime::now();
    if let Some(r) = &opts.ref_name {
        check_ref_name(r)?;
    }
    let root = tree.canonicalize().at(tree)?;
    let mut excludes = scan::Excludes::from_paths(&opts.excludes)?;
    if let Ok(rel) = store
        .root()
        .canonicalize()
        .at(store.root())?
        .strip_prefix(&root)
    {
        excludes.add(&rel.to_string_lossy())?;
    }
    let tkey = tree_key(&root);

    let racy_before = scan_start
        .checked_sub(RACY_MARGIN)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let racy_ns = ns_since_epoch(racy_before);
    let mut warnings = Vec::new();
    let mut watch = match opts.no_cache {
        true => None,
        false => watched::ask(store, &root, &tkey, &excludes, &mut warnings)?,
    };

    if store.has_damaged() {
        // The journal names changed paths only; an unchanged file holding damaged content must be
        // read again (see `read_changed`), so the tree is walked.
        if watch.as_mut().and_then(|w| w.base.take()).is_some() {
            warnings.push("walked the tree: objects marked damaged are to be replaced".into());
        }
    }
    let writer = store.writer();
    let bar = bars.bytes("hashing");
    let mut from_journal = None;
    if let Some((base, changed)) = watch.as_mut().and_then(|w| w.base.take()) {
        let base = || Ok(store.manifest(&base)?.into_entries());
        let mut p = watched::patch(&writer, &root, &excludes, base, changed, racy_ns, &*bar)?;
        match Manifest::new(std::mem::take(&mut p.entries)) {
            Ok(m) => from_journal = Some((m, p)),
            Err(e) => warnings.push(format!(
                "walked the tree: the watcher's changes did not add up ({e})"
            )),
        }
    }
    let watched = from_journal.is_some();
    let (manifest, scanned) = match from_journal {
        Some(patched) => patched,
        None => into_manifest(
            walk_and_read(store, &writer, &root, &excludes, &tkey, opts, &*bar)?,
            racy_ns,
        )?,
    };
    bar.finish();
    warnings.extend(scanned.warnings);

    let stats = manifest.stats();
    let file_stats = writer.stats();
    let meta = SlugMeta {
        ref_name: opts.ref_name.clone(),
        message: opts.message.clone(),
        labels: opts.labels.iter().cloned().collect::<BTreeMap<_, _>>(),
        source: Some(root.display().to_string()),
        action: "snapshot",
    };
    let committed = commit_manifest(store, writer, &manifest, &meta, |batch, slug| {
        if let Some(w) = &watch {
            w.record(batch, &tkey, slug, &excludes);
        }
        scanned.stats.write(&tkey, batch)
    })?;

    drop(manifest);

    Ok(SnapshotReport {
        slug: committed.slug,
        new_slug: committed.new_slug,
        ref_name: opts.ref_name.clone(),
        tree: stats,
        files_read: scanned.files_read,
        new_objects: file_stats.new_objects,
        new_bytes: file_stats.new_bytes,
        stored_bytes: committed.staged.stats.stored_bytes,
        dedup_bytes: stats.bytes.saturating_sub(file_stats.new_bytes),
        excluded: excludes.list(),
        warnings,
        watched,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// A walk's entries (see [`walk_and_read`]) as the tree's manifest, and the rest of what the scan
/// found.
fn into_manifest(
    walked: (scan::WalkResult, CachedStats, u64),
    racy_ns: i128,
) -> Result<(Manifest, Scanned)> {
    let mut s = walked_entries(walked, racy_ns);
    Ok((Manifest::new(std::mem::take(&mut s.entries))?, s))
}

/// A tree scanned by [`scan_tree`]: its manifest, and the stat-cache changes to commit with it.
pub(crate) struct TreeScan {
    /// The tree, as a slug's manifest (not stored).
    pub manifest: Manifest,
    tkey: TreeKey,
    stats: StatChanges,
}

impl TreeScan {
    /// Adds the scan's stat-cache changes to `batch`, which must also stage the writer's objects:
    /// a stat-cache entry may only name an object the store has.
    pub fn stage(&self, batch: &mut crate::store::Batch<'_>) -> Result<()> {
        self.stats.write(&self.tkey, batch)
    }
}

/// Scans the directory `root` (canonical) leaving out exactly `excludes`, through the stat cache:
/// the walk and hashing of a snapshot, without its implicit excludes or its slug. Every file read is
/// stored through `writer` (the stat cache may only remember hashes of stored objects).
pub(crate) fn scan_tree(
    store: &Store,
    writer: &ObjectWriter<'_>,
    root: &Path,
    excludes: &scan::Excludes,
) -> Result<TreeScan> {
    let racy_ns = ns_since_epoch(
        SystemTime::now()
            .checked_sub(RACY_MARGIN)
            .unwrap_or(SystemTime::UNIX_EPOCH),
    );
    let tkey = tree_key(root);
    let opts = SnapshotOptions::default();
    let bar = crate::progress::NoProgress;
    let walked = walk_and_read(store, writer, root, excludes, &tkey, &opts, &bar)?;
    let (manifest, scanned) = into_manifest(walked, racy_ns)?;
    Ok(TreeScan {
        manifest,
        tkey,
        stats: scanned.stats,
    })
}

/// A tree's entries (sorted) and what their scan found on the way: by a walk, or from a watcher's
/// journal ([`watched::patch`]).
struct Scanned {
    entries: Vec<Entry>,
    /// Stat-cache changes, for the commit batch.
    stats: StatChanges,
    /// Files whose bytes were read.
    files_read: u64,
    /// Special files skipped.
    warnings: Vec<String>,
}

/// The entries of a walk (see [`walk_and_read`]), its stat-cache changes and warnings.
fn walked_entries(
    (walked, cache, files_read): (scan::WalkResult, CachedStats, u64),
    racy_ns: i128,
) -> Scanned {
    let stats = cache.changes(&walked.entries, racy_ns);
    // The walk's paths and link targets move into the manifest: 130k paths are not copied.
    let entries = walked
        .entries
        .into_iter()
        .map(|w| Entry {
            path: w.rel,
            kind: match w.found {
                Found::Dir => EntryKind::Dir,
                Found::File(m) => EntryKind::File {
                    size: m.size,
                    id: m.id.expect("every file is hashed or known"),
                    executable: m.executable,
                },
                Found::Symlink(target) => EntryKind::Symlink { target },
            },
        })
        .collect();
    Scanned {
        entries,
        stats,
        files_read,
        warnings: walked.warnings,
    }
}

fn file_meta(w: &Walked) -> &FileMeta {
    match &w.found {
        Found::File(m) => m,
        _ => unreachable!("only files are hashed"),
    }
}

/// Walks the tree and gives every file its content hash: read as the walk finds it when the stat cache
/// knows nothing of the tree, else from the cache where the stat is unchanged and by reading the rest.
/// Returns the walk, the cache lined up with it, and how many files were read.
fn walk_and_read(
    store: &Store,
    writer: &ObjectWriter<'_>,
    root: &Path,
    excludes: &scan::Excludes,
    tkey: &TreeKey,
    opts: &SnapshotOptions,
    bar: &dyn crate::progress::Progress,
) -> Result<(scan::WalkResult, CachedStats, u64)> {
    if store.index().stat_cache_empty(tkey)? {
        // Nothing is known of this tree: every file is read, as the walk finds it.
        let read = |dir: &Dir, name: &CStr, path: &dyn Fn() -> PathBuf, meta: &FileMeta| {
            let file = dir.open_file(name).at(path())?;
            let id = store_file(writer, file, path, meta.size)?;
            bar.inc(meta.size);
            Ok(id)
        };
        let walked = scan::walk_reading(root, excludes, &read)?;
        let cache = CachedStats::new(Vec::new(), &walked.entries);
        let files = walked.entries.iter();
        let read = files.filter(|w| matches!(w.found, Found::File(_))).count();
        Ok((walked, cache, read as u64))
    } else {
        // The stat cache (known hashes of unchanged files) is read while the tree is walked.
        let (walked, cached) = rayon::join(
            || scan::walk(root, excludes),
            || store.index().stat_entries(tkey),
        );
        let mut walked = walked?;
        let cache = CachedStats::new(cached?, &walked.entries);
        let read = read_changed(store, writer, root, &mut walked.entries, &cache, opts, bar)?;
        Ok((walked, cache, read))
    }
}

/// Fills in the hash of each walked file: from the stat cache when its stat is unchanged (unless
/// `--no-cache`, or the cached hash names an object marked damaged, whose good bytes are in the
/// file), else by reading the file (in parallel). Returns how many files were read.
fn read_changed(
    store: &Store,
    writer: &ObjectWriter<'_>,
    root: &Path,
    entries: &mut [Walked],
    cache: &CachedStats,
    opts: &SnapshotOptions,
    bar: &dyn crate::progress::Progress,
) -> Result<u64> {
    let mut todo = Vec::new();
    for (i, w) in entries.iter_mut().enumerate() {
        let known = if opts.no_cache {
            None
        } else {
            cache.id(i, w).filter(|id| !store.is_damaged(id))
        };
        if let Found::File(m) = &mut w.found {
            m.id = known;
            if known.is_none() {
                todo.push(i);
            }
        }
    }
    let size = |i: usize| file_meta(&entries[i]).size;
    bar.set_length(todo.iter().map(|&i| size(i)).sum());
    let hashed: Vec<(usize, ObjectId)> = todo
        .par_iter()
        .map(|&i| {
            let path = fswalk::join(root, &entries[i].rel);
            let file = File::open(&path).at(&path)?;
            let id = store_file(writer, file, &|| path.clone(), size(i))?;
            bar.inc(size(i));
            Ok((i, id))
        })
        .collect::<Result<_>>()?;
    for (i, id) in hashed {
        if let Found::File(m) = &mut entries[i].found {
            m.id = Some(id);
        }
    }
    Ok(todo.len() as u64)
}

thread_local! {
    static READ_BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Reads, hashes and stores one file of the size the walk saw (`path` names it in errors); returns its
/// id.
fn store_file(
    writer: &ObjectWriter<'_>,
    mut file: File,
    path: &dyn Fn() -> PathBuf,
    size: u64,
) -> Result<ObjectId> {
    if size > IN_MEMORY_LIMIT {
        let path = &path();
        // SAFETY: the mapping is only read; a concurrent writer can change the bytes under us, which
        // `add_file_streaming` detects by hashing again while it stores them.
        let map = unsafe { memmap2::Mmap::map(&file) }.at(path)?;
        let id = ObjectId::from(blake3::Hasher::new().update_rayon(&map).finalize());
        let len = map.len() as u64;
        drop(map);
        writer.add_file_streaming(id, path, len)?;
        return Ok(id);
    }
    READ_BUF.with(|buf| {
        let mut buf = buf.borrow_mut();
        // The walk gave the size: one read(2) for a small file, no size probing (fstat, lseek) as
        // `read_to_end` would do, 100k times over.
        buf.resize(size as usize, 0);
        file.read_exact(&mut buf).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => Error::FileChanged {
                path: path(),
                during: "read",
            },
            _ => Error::io(path(), e),
        })?;
        let id = ObjectId::hash(&buf);
        writer.add_with_id(id, &buf)?;
        Ok(id)
    })
}
