//! Building test trees on disk from a spec.
//!
//! A [`Tree`] lists paths (raw bytes, so names need not be UTF-8) and what to put there. Building it
//! creates missing parents and sets permission bits explicitly (`0o755` for directories and executable
//! files, `0o644` for the others), the modes a slug records, so a restored tree can be compared with its
//! source bit for bit whatever the process umask is.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// What a spec puts at a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A directory (empty unless other paths are beneath it).
    Dir,
    /// A regular file.
    File {
        /// Its content.
        data: Vec<u8>,
        /// Whether it is executable (`0o755` rather than `0o644`).
        exec: bool,
    },
    /// A symlink with this target, byte for byte.
    Symlink(Vec<u8>),
}

/// A tree to build: relative `/`-separated paths and what is at each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tree {
    /// The entries, by path bytes.
    pub entries: BTreeMap<Vec<u8>, Node>,
}

impl Tree {
    /// An empty tree.
    pub fn new() -> Tree {
        Tree::default()
    }

    /// Adds a directory.
    pub fn dir(mut self, path: impl AsRef<[u8]>) -> Tree {
        self.entries.insert(path.as_ref().to_vec(), Node::Dir);
        self
    }

    /// Adds a regular, non-executable file.
    pub fn file(mut self, path: impl AsRef<[u8]>, data: impl Into<Vec<u8>>) -> Tree {
        let data = data.into();
        self.entries
            .insert(path.as_ref().to_vec(), Node::File { data, exec: false });
        self
    }

    /// Adds an executable file.
    pub fn exec(mut self, path: impl AsRef<[u8]>, data: impl Into<Vec<u8>>) -> Tree {
        let data = data.into();
        self.entries
            .insert(path.as_ref().to_vec(), Node::File { data, exec: true });
        self
    }

    /// Adds a symlink.
    pub fn symlink(mut self, path: impl AsRef<[u8]>, target: impl AsRef<[u8]>) -> Tree {
        self.entries.insert(
            path.as_ref().to_vec(),
            Node::Symlink(target.as_ref().to_vec()),
        );
        self
    }

    /// Creates the tree under `root` (created if absent). Parents missing from the spec are created too.
    pub fn build(&self, root: &Path) {
        make_dir(root);
        for (rel, node) in &self.entries {
            let path = join(root, rel);
            if let Some(parent) = path.parent() {
                make_dir(parent);
            }
            match node {
                Node::Dir => make_dir(&path),
                Node::File { data, exec } => write_file(&path, data, *exec),
                Node::Symlink(target) => {
                    std::os::unix::fs::symlink(OsStr::from_bytes(target), &path)
                        .unwrap_or_else(|e| panic!("symlink {}: {e}", path.display()))
                }
            }
        }
    }
}

/// `root` joined with a relative path given as raw bytes.
pub fn join(root: &Path, rel: &[u8]) -> PathBuf {
    root.join(OsStr::from_bytes(rel))
}

/// Creates `dir` and its missing parents, each with mode `0o755`.
pub fn make_dir(dir: &Path) {
    if fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir()) {
        return;
    }
    if let Some(parent) = dir.parent() {
        make_dir(parent);
    }
    fs::create_dir(dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
    set_mode(dir, 0o755);
}

/// Writes a file (replacing any) and gives it mode `0o755` when `exec`, else `0o644`.
pub fn write_file(path: &Path, data: &[u8], exec: bool) {
    fs::write(path, data).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    set_mode(path, if exec { 0o755 } else { 0o644 });
}

/// Sets the permission bits of `path`.
pub fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

/// Deterministic content of `len` bytes from `seed`: odd seeds give random-looking bytes (which zstd
/// cannot shrink, so they are stored raw), even seeds give repetitive text (which it can).
pub fn content(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ len as u64;
    let mut next = move || {
        // splitmix64
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut out = Vec::with_capacity(len);
    if seed % 2 == 1 {
        while out.len() < len {
            out.extend_from_slice(&next().to_le_bytes());
        }
    } else {
        const WORDS: [&str; 8] = [
            "<?php ",
            "return ",
            "$this->",
            "array(",
            "); ",
            "\n",
            "function ",
            "namespace ",
        ];
        while out.len() < len {
            out.extend_from_slice(WORDS[(next() % 8) as usize].as_bytes());
        }
    }
    out.truncate(len);
    out
}

/// Sets the modification time of every regular file and directory under `root` (and of `root`) to
/// `age` ago, so that the stat cache, which distrusts files and directory listings changed within the
/// last moments before a scan, trusts them.
pub fn age_files(root: &Path, age: Duration) {
    let when = SystemTime::now() - age;
    for entry in fs::read_dir(root).unwrap_or_else(|e| panic!("{}: {e}", root.display())) {
        let path = entry.expect("dir entry").path();
        let meta = fs::symlink_metadata(&path).expect("stat");
        if meta.is_dir() {
            age_files(&path, age);
        } else if meta.is_file() {
            set_mtime(&path, when);
        }
    }
    // Directories too: a scan trusts the recorded listing only of a directory not changed lately.
    set_mtime(root, when);
}

/// Sets the modification time of one file or directory.
pub fn set_mtime(path: &Path, when: SystemTime) {
    let dir = fs::symlink_metadata(path).is_ok_and(|m| m.is_dir());
    fs::File::options()
        .read(dir)
        .write(!dir)
        .open(path)
        .and_then(|f| f.set_modified(when))
        .unwrap_or_else(|e| panic!("set mtime of {}: {e}", path.display()));
}
