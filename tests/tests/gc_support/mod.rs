//! Shared by the retention and gc tests: churned trees, their expected contents, bit-exact restores.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use slugstore::store::OpenOptions;
use slugstore::{NoProgress, RestoreOptions, SlugId, SnapshotOptions, Store};

/// A small deterministic generator (xorshift64*), so failures replay.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        // Half text-like (compresses), half random (stored raw).
        let text = self.below(2) == 0;
        (0..n)
            .map(|i| {
                if text {
                    b"abcdefgh <?php echo $x; ?>\n"[i % 27]
                } else {
                    self.next() as u8
                }
            })
            .collect()
    }
}

/// Path → bytes of every regular file under a tree.
pub type Contents = BTreeMap<PathBuf, Vec<u8>>;

/// Reads every regular file under `root`.
pub fn read_tree(root: &Path) -> Contents {
    let mut out = Contents::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                stack.push(e.path());
            } else if ft.is_file() {
                let rel = e.path().strip_prefix(root).unwrap().to_path_buf();
                out.insert(rel, fs::read(e.path()).unwrap());
            }
        }
    }
    out
}

/// Writes `data` to `path` with a modification time far enough in the past for the stat cache to trust.
pub fn write_old(path: &Path, data: &[u8]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, data).unwrap();
    let f = fs::File::options().write(true).open(path).unwrap();
    f.set_modified(SystemTime::now() - Duration::from_secs(3600))
        .unwrap();
}

/// Creates a tree of `files` files in two directories.
pub fn make_tree(root: &Path, files: usize, rng: &mut Rng) {
    for i in 0..files {
        let len = 200 + rng.below(6000) as usize;
        write_old(&root.join(format!("d{}/f{i}.txt", i % 2)), &rng.bytes(len));
    }
}

/// Changes a few files: rewrites, adds and deletes.
pub fn churn(root: &Path, rng: &mut Rng, round: usize) {
    let files: Vec<PathBuf> = read_tree(root).into_keys().collect();
    for _ in 0..4 {
        let f = &files[rng.below(files.len() as u64) as usize];
        let len = 100 + rng.below(4000) as usize;
        write_old(&root.join(f), &rng.bytes(len));
    }
    write_old(&root.join(format!("new/r{round}.bin")), &rng.bytes(3000));
    let victim = &files[rng.below(files.len() as u64) as usize];
    let _ = fs::remove_file(root.join(victim));
}

/// Opens a store, waiting for the lock.
pub fn open(root: &Path) -> Store {
    Store::open(root, &OpenOptions::default()).unwrap()
}

/// Snapshots `tree` (onto `ref_name` if given).
pub fn snap(store: &Store, tree: &Path, ref_name: Option<&str>) -> SlugId {
    let opts = SnapshotOptions {
        ref_name: ref_name.map(str::to_string),
        ..SnapshotOptions::default()
    };
    slugstore::snapshot(store, tree, &opts, &NoProgress)
        .unwrap()
        .slug
}

/// Restores `id` into a fresh directory and returns its contents, or the error text.
pub fn restored(store: &Store, id: &SlugId) -> Result<Contents, String> {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("out");
    slugstore::restore(store, id, &dest, &RestoreOptions::default(), &NoProgress)
        .map_err(|e| e.to_string())?;
    Ok(read_tree(&dest))
}

/// Sum of the sizes of the pack files.
pub fn pack_bytes(store: &Store) -> u64 {
    fs::read_dir(store.packs_dir())
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum()
}
