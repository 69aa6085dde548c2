//! Snapshot: turn a build tree into a slug.
//!
//! 1. Walk the tree in parallel, leaving out the excluded paths (a deploy's mounts, `--exclude`).
//!    A directory whose inode, times and mode are those recorded by the last scan is not read: its
//!    entries are known from the stat cache (`scan::Listings`); its files are statted by path.
//! 2. Merge the walk with the stat cache (both sorted by path): a file whose size, times and inode are
//!    unchanged keeps its recorded hash and is not read.
//!    A file whose cached hash names an object `slug verify` marked damaged is read all the same: its
//!    bytes replace the damaged copy.
//! 3. Read, hash and store the other files in parallel (rayon across files; a large file is hashed
//!    4 MiB at a time on all cores and streamed into the store, so it is never held whole). When the stat cache knows nothing of the tree (its first
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
mod tree_scan;
mod watched;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Instant, SystemTime};

use serde::Serialize;

use crate::error::{IoResultExt, Result};
use crate::id::SlugId;
use crate::progress::ProgressBars;
use crate::scan::{self};
use crate::slug::check_ref_name;
use crate::slug::{Manifest, TreeStats};
use crate::store::index::tree_key;
use crate::store::Store;
use crate::store::{commit_manifest, SlugMeta};
use stat_cache::stat_entry;
use tree_scan::{into_manifest, walk_and_read};
pub(crate) use tree_scan::{scan_tree, store_file, TreeScan};

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
    /// Read every file and directory, ignoring the stat cache.
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
    /// Directories whose entries were read; the others had not changed since the last snapshot,
    /// and their entries were known from it.
    pub dirs_read: u64,
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

    let racy = scan::Racy::at(scan_start, &root);
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
        let mut p = watched::patch(&writer, &root, &excludes, base, changed, racy, &*bar)?;
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
            walk_and_read(
                store,
                &writer,
                &root,
                crate::scan::WalkSpec::new(&excludes),
                &tkey,
                racy,
                opts,
                &*bar,
            )?,
            racy,
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
        dirs_read: scanned.stats.listings.dirs_read,
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
