//! Scanning a tree: the walk, the stat cache lined up with it, and reading and storing the files it
//! cannot vouch for. [`snapshot`](super::snapshot()) records the result as a slug; the build cache
//! ([`scan_tree`]) keys and stores a step's trees with it.

use std::cell::RefCell;
use std::ffi::CStr;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use rayon::prelude::*;

use super::stat_cache::{CachedStats, StatChanges};
use super::SnapshotOptions;
use crate::error::{Error, IoResultExt, Result};
use crate::fsutil::dir::Dir;
use crate::fsutil::walk as fswalk;
use crate::id::ObjectId;
use crate::scan::{self, FileMeta, Found, ListingChanges, Listings, Racy, Walked};
use crate::slug::{Entry, EntryKind, Manifest};
use crate::store::index::{tree_key, TreeKey};
use crate::store::{ObjectWriter, Store, IN_MEMORY_LIMIT};

/// A walk's entries (see [`walk_and_read`]) as the tree's manifest, and the rest of what the scan
/// found.
pub(super) fn into_manifest(walked: WalkRead, racy: Racy) -> Result<(Manifest, Scanned)> {
    let mut s = walked_entries(walked, racy);
    Ok((Manifest::new(std::mem::take(&mut s.entries))?, s))
}

/// A tree scanned by [`scan_tree`]: its manifest, and the stat-cache changes to commit with it.
pub(crate) struct TreeScan {
    /// The tree, as a slug's manifest (not stored).
    pub manifest: Manifest,
    /// Directories (relative, `b""` for the root) whose permission bits are not 0755, when the
    /// scan was asked to note them; sorted.
    pub odd_dirs: Vec<Vec<u8>>,
    tkey: TreeKey,
    stats: StatChanges,
}

impl TreeScan {
    /// Keeps the stat-cache entries under each of `prefixes` (relative paths) that the scan did not
    /// find: a subtree moved away for a while (a build's parked outputs) is known again, file by
    /// file, when it comes back with the same inodes and times. A stale entry costs nothing: it is
    /// used only for a file whose size, times and inode all match it.
    pub fn keep_cached_under(&mut self, prefixes: &[&[u8]]) {
        let under = |p: &[u8]| {
            prefixes
                .iter()
                .any(|x| p.starts_with(x) && (p.len() == x.len() || p[x.len()] == b'/'))
        };
        self.stats.delete.retain(|p| !under(p));
        self.stats.listings.delete.retain(|p| !under(p));
    }

    /// Adds the scan's stat-cache changes to `batch`, which must also stage the writer's objects:
    /// a stat-cache entry may only name an object the store has.
    pub fn stage(&self, batch: &mut crate::store::Batch<'_>) -> Result<()> {
        self.stats.write(&self.tkey, batch)
    }
}

/// Scans the directory `root` (canonical) leaving out exactly `spec.excludes`, through the stat cache:
/// the walk and hashing of a snapshot, without its implicit excludes or its slug. Every file read is
/// stored through `writer` (the stat cache may only remember hashes of stored objects).
pub(crate) fn scan_tree(
    store: &Store,
    writer: &ObjectWriter<'_>,
    root: &Path,
    spec: scan::WalkSpec<'_>,
) -> Result<TreeScan> {
    let racy = Racy::at(SystemTime::now(), root);
    let tkey = tree_key(root);
    let opts = SnapshotOptions::default();
    let bar = crate::progress::NoProgress;
    let mut walked = walk_and_read(store, writer, root, spec, &tkey, racy, &opts, &bar)?;
    let odd_dirs = std::mem::take(&mut walked.walk.odd_dirs);
    let (manifest, scanned) = into_manifest(walked, racy)?;
    Ok(TreeScan {
        manifest,
        odd_dirs,
        tkey,
        stats: scanned.stats,
    })
}

/// A tree's entries (sorted) and what their scan found on the way: by a walk, or from a watcher's
/// journal ([`watched::patch`]).
pub(super) struct Scanned {
    pub(super) entries: Vec<Entry>,
    /// Stat-cache changes, for the commit batch.
    pub(super) stats: StatChanges,
    /// Files whose bytes were read.
    pub(super) files_read: u64,
    /// Special files skipped.
    pub(super) warnings: Vec<String>,
}

/// What [`walk_and_read`] found: the walk with every file hashed, the stat cache lined up with it,
/// how many files were read, and the directory listings to write back.
pub(super) struct WalkRead {
    walk: scan::WalkResult,
    cache: CachedStats,
    files_read: u64,
    listings: ListingChanges,
}

/// The entries of a walk (see [`walk_and_read`]), its stat-cache changes and warnings.
pub(super) fn walked_entries(read: WalkRead, racy: Racy) -> Scanned {
    let WalkRead {
        walk: walked,
        cache,
        files_read,
        listings,
    } = read;
    let mut stats = cache.changes(&walked.entries, racy);
    stats.listings = listings;
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

pub(super) fn file_meta(w: &Walked) -> &FileMeta {
    match &w.found {
        Found::File(m) => m,
        _ => unreachable!("only files are hashed"),
    }
}

/// Walks the tree and gives every file its content hash: read as the walk finds it when the stat cache
/// knows nothing of the tree, else from the cache where the stat is unchanged and by reading the rest.
/// Directories unchanged since the last scan are not read (their listings are in the stat cache, see
/// [`Listings`]), unless `--no-cache`; those read are recorded unless `racy` says they changed too recently.
#[allow(clippy::too_many_arguments)]
pub(super) fn walk_and_read(
    store: &Store,
    writer: &ObjectWriter<'_>,
    root: &Path,
    spec: scan::WalkSpec<'_>,
    tkey: &TreeKey,
    racy: Racy,
    opts: &SnapshotOptions,
    bar: &dyn crate::progress::Progress,
) -> Result<WalkRead> {
    if store.index().stat_cache_empty(tkey)? {
        let listings = Listings::new(Vec::new(), racy);
        let spec = scan::WalkSpec {
            listings: Some(&listings),
            ..spec
        };
        // Nothing is known of this tree: every file is read, as the walk finds it.
        let read = |dir: &Dir, name: &CStr, path: &dyn Fn() -> PathBuf, meta: &FileMeta| {
            let file = dir.open_file(name).at(path())?;
            let id = store_file(writer, file, path, meta.size)?;
            bar.inc(meta.size);
            Ok(id)
        };
        let walked = scan::walk_reading(root, spec, &read)?;
        let cache = CachedStats::new(Vec::new(), &walked.entries);
        let files = walked.entries.iter();
        let read = files.filter(|w| matches!(w.found, Found::File(_))).count();
        Ok(WalkRead {
            walk: walked,
            cache,
            files_read: read as u64,
            listings: listings.changes(),
        })
    } else {
        let known = match opts.no_cache {
            true => Vec::new(),
            false => store.index().listings(tkey)?,
        };
        let listings = Listings::new(known, racy);
        let spec = scan::WalkSpec {
            listings: Some(&listings),
            ..spec
        };
        // The files' entries (known hashes of unchanged files) are read while the tree is walked.
        let (walked, cached) = rayon::join(
            || scan::walk(root, spec),
            || store.index().stat_entries(tkey),
        );
        let mut walked = walked?;
        let cache = CachedStats::new(cached?, &walked.entries);
        let read = read_changed(store, writer, root, &mut walked.entries, &cache, opts, bar)?;
        Ok(WalkRead {
            walk: walked,
            cache,
            files_read: read,
            listings: listings.changes(),
        })
    }
}

/// Fills in the hash of each walked file: from the stat cache when its stat is unchanged (unless
/// `--no-cache`, or the cached hash names an object marked damaged, whose good bytes are in the
/// file), else by reading the file (in parallel). Returns how many files were read.
pub(super) fn read_changed(
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
/// id. A file above [`IN_MEMORY_LIMIT`] is never held whole: it is hashed a block at a time, then
/// streamed into a pack of its own.
pub(crate) fn store_file(
    writer: &ObjectWriter<'_>,
    mut file: File,
    path: &dyn Fn() -> PathBuf,
    size: u64,
) -> Result<ObjectId> {
    if size > IN_MEMORY_LIMIT {
        let path = &path();
        let (id, len) = hash_large(&mut file).at(path)?;
        if len != size {
            return Err(Error::FileChanged {
                path: path.clone(),
                during: "read",
            });
        }
        // A writer changing the file from here on is caught by `add_file_streaming`, which hashes the
        // bytes again as it stores them.
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

/// Bytes of a large file hashed at a time: large enough for BLAKE3 to spread each block over every
/// core, small enough that a file of any size costs one block of memory.
const HASH_BLOCK: usize = 4 << 20;

/// The id and length of everything `file` holds from its current position, read [`HASH_BLOCK`] bytes
/// at a time.
fn hash_large(file: &mut File) -> std::io::Result<(ObjectId, u64)> {
    let mut hasher = blake3::Hasher::new();
    let mut block = Vec::with_capacity(HASH_BLOCK);
    let mut len = 0u64;
    loop {
        block.clear();
        file.by_ref()
            .take(HASH_BLOCK as u64)
            .read_to_end(&mut block)?;
        if block.is_empty() {
            return Ok((ObjectId::from(hasher.finalize()), len));
        }
        hasher.update_rayon(&block);
        len += block.len() as u64;
    }
}
