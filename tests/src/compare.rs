//! Reading a tree back from disk and comparing two trees.
//!
//! A restore is right when everything a deploy can observe matches: the set of paths (empty directories
//! included, names as raw bytes), each entry's kind and permission bits, each file's bytes and each
//! symlink's target. Symlinks are read, never followed. File bytes are compared through their BLAKE3 hash
//! (and length) so a mismatch report stays readable even for large files.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;

/// What is found at a path on disk.
#[derive(Clone, PartialEq, Eq)]
pub enum Seen {
    /// A directory with these permission bits.
    Dir {
        /// `mode & 0o7777`.
        mode: u32,
    },
    /// A regular file.
    File {
        /// `mode & 0o7777`.
        mode: u32,
        /// Length in bytes.
        len: u64,
        /// BLAKE3 of the bytes.
        hash: blake3::Hash,
    },
    /// A symlink and its target bytes.
    Symlink(Vec<u8>),
    /// A FIFO, socket or device.
    Special,
}

impl fmt::Debug for Seen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Seen::Dir { mode } => write!(f, "dir {mode:o}"),
            Seen::File { mode, len, hash } => {
                write!(f, "file {mode:o} {len} B blake3 {}", &hash.to_hex()[..16])
            }
            Seen::Symlink(t) => write!(f, "symlink -> {}", t.escape_ascii()),
            Seen::Special => write!(f, "special file"),
        }
    }
}

/// Everything under a root (the root itself excluded), by relative path bytes.
pub type Listing = BTreeMap<Vec<u8>, Seen>;

/// Lists everything under `root`.
pub fn read_tree(root: &Path) -> Listing {
    let mut out = Listing::new();
    read_into(root, &[], &mut out);
    out
}

fn read_into(dir: &Path, rel: &[u8], out: &mut Listing) {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("read_dir {}: {e}", dir.display()));
    for entry in entries {
        let entry = entry.expect("dir entry");
        let path = entry.path();
        let mut child = rel.to_vec();
        if !child.is_empty() {
            child.push(b'/');
        }
        child.extend_from_slice(entry.file_name().as_bytes());
        let meta =
            fs::symlink_metadata(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mode = meta.permissions().mode() & 0o7777;
        let ft = meta.file_type();
        let seen = if ft.is_dir() {
            read_into(&path, &child, out);
            Seen::Dir { mode }
        } else if ft.is_symlink() {
            let target = fs::read_link(&path).expect("readlink");
            Seen::Symlink(target.as_os_str().as_bytes().to_vec())
        } else if ft.is_file() {
            let mut hasher = blake3::Hasher::new();
            let file = fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            hasher.update_reader(file).expect("read file");
            Seen::File {
                mode,
                len: meta.len(),
                hash: hasher.finalize(),
            }
        } else {
            assert!(ft.is_fifo() || ft.is_socket() || ft.is_block_device() || ft.is_char_device());
            Seen::Special
        };
        out.insert(child, seen);
    }
}

/// Removes `prefix` and everything beneath it from a listing.
pub fn without(mut listing: Listing, prefix: &[u8]) -> Listing {
    listing.retain(|p, _| !is_under(p, prefix));
    listing
}

/// True when `path` is `prefix` or beneath it.
pub fn is_under(path: &[u8], prefix: &[u8]) -> bool {
    path == prefix || (path.starts_with(prefix) && path.get(prefix.len()) == Some(&b'/'))
}

/// The differences between two listings, one line each; empty when they are equal.
pub fn diff(expected: &Listing, actual: &Listing) -> Vec<String> {
    let mut out = Vec::new();
    for (p, e) in expected {
        match actual.get(p) {
            None => out.push(format!("missing {}: {e:?}", p.escape_ascii())),
            Some(a) if a != e => out.push(format!(
                "differs {}: expected {e:?}, found {a:?}",
                p.escape_ascii()
            )),
            Some(_) => {}
        }
    }
    for (p, a) in actual {
        if !expected.contains_key(p) {
            out.push(format!("unexpected {}: {a:?}", p.escape_ascii()));
        }
    }
    out
}

/// Panics, listing the differences, unless the trees under `expected` and `actual` are the same.
pub fn assert_same_tree(expected: &Path, actual: &Path) {
    assert_same_listing(&read_tree(expected), &read_tree(actual));
}

/// Panics, listing the differences, unless the two listings are equal.
pub fn assert_same_listing(expected: &Listing, actual: &Listing) {
    let d = diff(expected, actual);
    assert!(d.is_empty(), "trees differ:\n  {}", d.join("\n  "));
}
