//! The store: packs of zstd-compressed objects plus a RocksDB index.
//!
//! ```text
//! <store>/
//!   slugstore.json    marks the directory as a store and records the format version
//!   index/            RocksDB: object locations, slug records, refs, ref history, stat cache
//!   packs/<id>.pack   immutable pack files named by the BLAKE3 of their bytes
//!   tmp/              packs being written; removed when the next process takes the store lock
//!   lock              the store lock: an exclusive flock(2) on it (see `lock`)
//! ```
//!
//! Other modules keep their own files beside these (`environments.json`, `remotes/`, `gz/`); the
//! store's format document (docs/format.md) lists every file and `meta` name a store holds.
//!
//! Reading an object always re-hashes it: a flipped byte on disk becomes an error naming the object, never
//! wrong bytes handed to a caller. Writing goes through an [`ObjectWriter`], which deduplicates against the
//! index and against itself, and whose objects become visible only when its [`Staged`] result is committed
//! in the same index batch as the slug that needs them.

mod check;
pub mod commit;
mod compression;
pub mod index;
mod lock;
pub mod pack;
mod read;
mod write;

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

pub use commit::{commit_manifest, Committed, SlugMeta};
pub use compression::Compression;
pub use index::{Batch, Index, LockWait, RefLogEntry, StatEntry};
pub use pack::{Codec, Location, PackFile};
pub use read::{check_len_hash, decode_stream, decode_verified, IN_MEMORY_LIMIT};
pub use write::{stored_size, ObjectWriter, Staged, WriteStats, PACK_TARGET};

use crate::error::{Error, IoResultExt, Result};
use crate::id::{ObjectId, SlugId};
use crate::slug::{Manifest, SlugRecord};

/// Name of the file that marks a store directory.
pub const MARKER: &str = "slugstore.json";
/// Store format version written by this crate.
pub const FORMAT_VERSION: u32 = 1;
/// The default store directory, relative to the working directory.
pub const DEFAULT_DIR: &str = ".slugstore";

/// Distinct object ids in order, and the position of each in that order.
pub type ObjectIndex = (Vec<ObjectId>, foldhash::HashMap<ObjectId, u32>);

/// How to open a store.
pub struct OpenOptions<'a> {
    /// Give up waiting for another process's lock after this long (`None`: wait forever).
    pub lock_timeout: Option<Duration>,
    /// Called once if the store is locked by another process, before waiting.
    pub on_wait: &'a dyn Fn(&Path),
    /// How the contents of new objects are stored.
    pub compression: Compression,
    /// Open the index for reading only (for commands that write nothing to it, such as push): the
    /// same lock is held, opening is faster, and any write to the index fails.
    pub read_only: bool,
}

impl Default for OpenOptions<'_> {
    fn default() -> Self {
        OpenOptions {
            lock_timeout: None,
            on_wait: &|_| {},
            compression: Compression::DEFAULT,
            read_only: false,
        }
    }
}

/// An open store. Holds the store's lock until dropped.
pub struct Store {
    root: PathBuf,
    index: Index,
    packs: RwLock<HashMap<ObjectId, Arc<PackFile>>>,
    compression: Compression,
    /// The objects marked damaged when the store was opened (see [`Store::is_damaged`]).
    damaged: foldhash::HashSet<ObjectId>,
}

impl Store {
    /// Creates a store at `root` (the directory may exist but must not hold a store) and opens it.
    pub fn init(root: &Path, opts: &OpenOptions<'_>) -> Result<Store> {
        let marker = root.join(MARKER);
        if marker.exists() {
            return Err(Error::StoreExists(root.to_path_buf()));
        }
        for d in ["packs", "tmp", "index"] {
            fs::create_dir_all(root.join(d)).at(root.join(d))?;
        }
        let store = Self::open_dirs(root, opts)?;
        let mut b = store.index.batch();
        b.put_meta("format", &FORMAT_VERSION.to_string());
        b.commit()?;
        crate::fsutil::write_atomic(
            &marker,
            format!("{{\"format\": {FORMAT_VERSION}}}\n").as_bytes(),
        )?;
        Ok(store)
    }

    /// Opens the store at `root`, creating it first when there is none ([`Error::NoStore`]); says
    /// whether it was created.
    pub fn open_or_init(root: &Path, opts: &OpenOptions<'_>) -> Result<(Store, bool)> {
        match Store::open(root, opts) {
            Err(Error::NoStore(_)) => Ok((Store::init(root, opts)?, true)),
            other => other.map(|s| (s, false)),
        }
    }

    /// Opens the store at `root`, waiting for its lock as `opts` says.
    pub fn open(root: &Path, opts: &OpenOptions<'_>) -> Result<Store> {
        let marker = root.join(MARKER);
        let text = match fs::read_to_string(&marker) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NoStore(root.to_path_buf()))
            }
            Err(e) => return Err(Error::io(&marker, e)),
        };
        let v: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| Error::format(marker.display().to_string(), e.to_string()))?;
        if v.get("format").and_then(|f| f.as_u64()) != Some(FORMAT_VERSION as u64) {
            return Err(Error::format(
                marker.display().to_string(),
                format!("unsupported store format {v}"),
            ));
        }
        Self::open_dirs(root, opts)
    }

    fn open_dirs(root: &Path, opts: &OpenOptions<'_>) -> Result<Store> {
        let wait = LockWait {
            timeout: opts.lock_timeout,
            on_wait: opts.on_wait,
        };
        let index_dir = root.join("index");
        let index = if opts.read_only {
            Index::open_read_only(&index_dir, &wait)?
        } else {
            Index::open(&index_dir, &wait)?
        };
        // The index emptied tmp/ once it held the lock (see `empty_tmp`).
        let tmp = root.join("tmp");
        if !opts.read_only {
            fs::create_dir_all(&tmp).at(&tmp)?;
        }
        Ok(Store {
            root: root.to_path_buf(),
            damaged: index.damaged_objects()?,
            index,
            packs: RwLock::new(HashMap::new()),
            compression: opts.compression,
        })
    }

    /// The store directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The index.
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// True when `slug verify` marked object `id` damaged (as the store was when opened): a writer
    /// then stores its content anew instead of deduplicating against the damaged copy, and a snapshot
    /// reads a file with that content even when its stat is unchanged.
    pub fn is_damaged(&self, id: &ObjectId) -> bool {
        // Asked for every file of a snapshot: no hashing when nothing is marked, as is usual.
        !self.damaged.is_empty() && self.damaged.contains(id)
    }

    /// True when object `id` is indexed and not marked damaged: a copy that need not be stored again.
    pub fn has_sound_object(&self, id: &ObjectId) -> Result<bool> {
        Ok(!self.is_damaged(id) && self.index.has_object(id)?)
    }

    /// True when some object is marked damaged.
    pub fn has_damaged(&self) -> bool {
        !self.damaged.is_empty()
    }

    /// The directory holding pack files.
    pub fn packs_dir(&self) -> PathBuf {
        self.root.join("packs")
    }

    /// The directory for files being written.
    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// How this store, as opened, compresses the objects it writes.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// Starts writing objects. Nothing is visible until the returned writer's [`Staged`] is committed.
    pub fn writer(&self) -> ObjectWriter<'_> {
        ObjectWriter::new(self, self.compression)
    }

    /// An open pack (its header checked), for positioned reads.
    pub fn pack(&self, id: &ObjectId) -> Result<Arc<PackFile>> {
        if let Some(p) = self.packs.read().expect("pack map lock").get(id) {
            return Ok(p.clone());
        }
        let pack = Arc::new(PackFile::open(pack::pack_path(&self.packs_dir(), id))?);
        self.packs
            .write()
            .expect("pack map lock")
            .insert(*id, pack.clone());
        Ok(pack)
    }

    /// Forgets open packs (after gc removed some).
    pub fn forget_packs(&self) {
        self.packs.write().expect("pack map lock").clear();
    }

    /// Reads a slug's manifest (verified against its id).
    pub fn manifest(&self, id: &SlugId) -> Result<Manifest> {
        let bytes = self.read_object(&id.object())?;
        Manifest::decode(&bytes).map_err(|e| manifest_error(id, e))
    }

    /// The distinct objects slug `id` needs: its manifest, then the content of each of its files, in
    /// manifest order (without decoding the whole manifest).
    pub fn slug_objects(&self, id: &SlugId) -> Result<Vec<ObjectId>> {
        let bytes = self.read_object(&id.object())?;
        Store::manifest_objects(id, &bytes)
    }

    /// [`slug_objects`](Store::slug_objects) of slug `id` from its manifest's bytes, already read.
    pub fn manifest_objects(id: &SlugId, manifest: &[u8]) -> Result<Vec<ObjectId>> {
        Ok(Store::manifest_object_index(id, manifest)?.0)
    }

    /// [`manifest_objects`](Store::manifest_objects), and the position of each in that list.
    pub fn manifest_object_index(id: &SlugId, manifest: &[u8]) -> Result<ObjectIndex> {
        let files = Manifest::file_ids(manifest).map_err(|e| manifest_error(id, e))?;
        // Sized up front: growing a 91k-entry map rehashes it a dozen times.
        let mut index =
            foldhash::HashMap::with_capacity_and_hasher(files.len() + 1, Default::default());
        let mut ids = Vec::with_capacity(files.len() + 1);
        for f in std::iter::once(id.object()).chain(files) {
            index.entry(f).or_insert_with(|| {
                ids.push(f);
                ids.len() as u32 - 1
            });
        }
        Ok((ids, index))
    }

    /// The record of a slug, or an error if the store has no such slug.
    pub fn slug(&self, id: &SlugId) -> Result<SlugRecord> {
        self.index
            .slug(id)?
            .ok_or_else(|| Error::UnknownSlug(id.to_hex()))
    }

    /// The record of a slug, `None` when the store does not have it.
    pub fn find_slug(&self, id: &SlugId) -> Result<Option<SlugRecord>> {
        self.index.slug(id)
    }

    /// The slug ref `name` points at, `None` when there is no such ref.
    pub fn get_ref(&self, name: &str) -> Result<Option<SlugId>> {
        self.index.get_ref(name)
    }

    /// Every slug, oldest first (in [`SlugRecord::creation_order`]).
    pub fn slugs(&self) -> Result<Vec<SlugRecord>> {
        let mut v = self.index.slugs()?;
        v.sort_by_key(SlugRecord::creation_order);
        Ok(v)
    }

    /// Resolves what a user typed: a ref name, a full id, or an id prefix of at least 4 hex digits.
    pub fn resolve(&self, name: &str) -> Result<SlugId> {
        if let Some(id) = self.index.get_ref(name)? {
            return Ok(id);
        }
        let is_hex =
            name.len() >= 4 && name.len() <= 64 && name.bytes().all(|c| c.is_ascii_hexdigit());
        if !is_hex {
            return Err(Error::UnknownSlug(name.to_string()));
        }
        let matches: Vec<SlugId> = self
            .index
            .slugs()?
            .into_iter()
            .map(|r| r.id)
            .filter(|id| id.object().has_hex_prefix(name))
            .collect();
        match matches.as_slice() {
            [] => Err(Error::UnknownSlug(name.to_string())),
            [one] => Ok(*one),
            many => Err(Error::AmbiguousSlug {
                prefix: name.to_string(),
                candidates: many.iter().map(|id| id.short(12)).collect(),
            }),
        }
    }
}

/// Removes whatever is in the store's `tmp/`, once the store's lock is held: it was left by a process
/// that died mid-write, or failed (a partial pack on a full disk). Best effort: on a read-only file
/// system nothing can be removed, and nothing needs to be.
fn empty_tmp(tmp: &Path) {
    if let Ok(rd) = fs::read_dir(tmp) {
        for e in rd.flatten() {
            let p = e.path();
            let _ = if p.is_dir() {
                fs::remove_dir_all(&p)
            } else {
                fs::remove_file(&p)
            };
        }
    }
}

/// A manifest format error, naming the slug.
fn manifest_error(id: &SlugId, e: Error) -> Error {
    match e {
        Error::Format { detail, .. } => {
            Error::format(format!("manifest of slug {}", id.short(12)), detail)
        }
        e => e,
    }
}
