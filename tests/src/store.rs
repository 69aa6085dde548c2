//! Store helpers: open, snapshot, restore with defaults, and damage stored bytes on purpose.
//!
//! Damage goes through the pack file on disk, exactly where a bad sector or a stray write would put it:
//! [`Record`] finds an object's record in its pack (from the index) and [`flip_byte`] inverts one byte.
//! Flipping the same byte again undoes the damage, so one store can be damaged at many positions in turn.

use std::fs;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use slugstore::slug::Manifest;
use slugstore::store::{pack, Location, OpenOptions};
use slugstore::{
    NoProgress, ObjectId, RestoreOptions, RestoreReport, SlugId, SnapshotOptions, SnapshotReport,
    Store,
};

/// Creates a store at `dir`.
pub fn init(dir: &Path) -> Store {
    Store::init(dir, &OpenOptions::default())
        .unwrap_or_else(|e| panic!("init store {}: {e}", dir.display()))
}

/// Opens the store at `dir`.
pub fn open(dir: &Path) -> Store {
    Store::open(dir, &OpenOptions::default())
        .unwrap_or_else(|e| panic!("open store {}: {e}", dir.display()))
}

/// Snapshots `tree` with default options; panics on error.
pub fn snapshot(store: &Store, tree: &Path) -> SnapshotReport {
    snapshot_with(store, tree, &SnapshotOptions::default())
        .unwrap_or_else(|e| panic!("snapshot {}: {e}", tree.display()))
}

/// Snapshots `tree` with `opts` as `slug snapshot` does: leaving out the mounts its
/// `.magento.app.yaml` declares (or the defaults) besides `opts.excludes`.
pub fn snapshot_with(
    store: &Store,
    tree: &Path,
    opts: &SnapshotOptions,
) -> slugstore_deploy::Result<SnapshotReport> {
    let mut opts = opts.clone();
    opts.excludes = slugstore_deploy::layout::snapshot_excludes(tree, &opts.excludes)?;
    Ok(slugstore::snapshot(store, tree, &opts, &NoProgress)?)
}

/// Restores `slug` into `dest` (which must be absent or empty).
pub fn restore(store: &Store, slug: &SlugId, dest: &Path) -> slugstore::Result<RestoreReport> {
    slugstore::restore(store, slug, dest, &RestoreOptions::default(), &NoProgress)
}

/// The number of objects in the store's index.
pub fn object_count(store: &Store) -> usize {
    store.index().objects().count()
}

/// The number of pack files in the store.
pub fn pack_count(store: &Store) -> usize {
    fs::read_dir(store.packs_dir())
        .expect("packs dir")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "pack"))
        })
        .count()
}

/// The manifest of `slug`; panics on error.
pub fn manifest(store: &Store, slug: &SlugId) -> Manifest {
    store
        .manifest(slug)
        .unwrap_or_else(|e| panic!("manifest of {slug}: {e}"))
}

/// The paths of a slug, as raw bytes, in manifest order.
pub fn paths(store: &Store, slug: &SlugId) -> Vec<Vec<u8>> {
    manifest(store, slug)
        .entries()
        .iter()
        .map(|e| e.path.clone())
        .collect()
}

/// Where an object's record is: its pack file and index location.
#[derive(Debug, Clone)]
pub struct Record {
    /// The pack file holding it.
    pub pack: PathBuf,
    /// The index entry.
    pub loc: Location,
}

impl Record {
    /// Finds object `id`; panics if the store does not have it.
    pub fn of(store: &Store, id: &ObjectId) -> Record {
        let loc = store
            .index()
            .object(id)
            .expect("index")
            .unwrap_or_else(|| panic!("object {id} is not in the store"));
        Record {
            pack: pack::pack_path(&store.packs_dir(), &loc.pack),
            loc,
        }
    }

    /// Offset in the pack of byte `i` of the record header.
    pub fn header_byte(&self, i: u64) -> u64 {
        assert!(i < pack::RECORD_HEADER_LEN);
        self.loc.offset + i
    }

    /// Offset in the pack of byte `i` of the stored data.
    pub fn data_byte(&self, i: u64) -> u64 {
        assert!(
            i < self.loc.stored_len,
            "data has {} bytes",
            self.loc.stored_len
        );
        self.loc.data_offset() + i
    }
}

/// Inverts every bit of the byte at `offset` in `file`.
pub fn flip_byte(file: &Path, offset: u64) {
    let f = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(file)
        .unwrap_or_else(|e| panic!("open {}: {e}", file.display()));
    let mut b = [0u8];
    f.read_exact_at(&mut b, offset)
        .unwrap_or_else(|e| panic!("read {} at {offset}: {e}", file.display()));
    b[0] ^= 0xff;
    f.write_all_at(&b, offset)
        .unwrap_or_else(|e| panic!("write {} at {offset}: {e}", file.display()));
    f.sync_all().expect("fsync");
}
