//! Walking a generated tree: sorted listings, statistics and a content hash.
//!
//! The walk is depth-first in byte order of names, so its output (and the hash built on it) does not
//! depend on the order the filesystem returns entries in.

use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use slugstore::error::IoResultExt;
use slugstore::Result;

/// One entry found by [`walk`].
#[derive(Debug, Clone)]
pub struct Entry {
    /// Path relative to the walked root.
    pub rel: PathBuf,
    /// File type and mode bits.
    pub meta: fs::Metadata,
}

/// Lists everything below `root` (not `root` itself), sorted, without following symlinks.
pub fn walk(root: &Path) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    walk_into(root, Path::new(""), &mut out)?;
    Ok(out)
}

fn walk_into(root: &Path, rel: &Path, out: &mut Vec<Entry>) -> Result<()> {
    let dir = root.join(rel);
    let mut names: Vec<_> = fs::read_dir(&dir)
        .at(&dir)?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<std::io::Result<_>>()
        .at(&dir)?;
    names.sort();
    for name in names {
        let rel = rel.join(&name);
        let path = root.join(&rel);
        let meta = fs::symlink_metadata(&path).at(&path)?;
        let is_dir = meta.is_dir();
        out.push(Entry {
            rel: rel.clone(),
            meta,
        });
        if is_dir {
            walk_into(root, &rel, out)?;
        }
    }
    Ok(())
}

/// Counts and sizes of a tree.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct TreeStats {
    /// Regular files.
    pub files: u64,
    /// Directories.
    pub dirs: u64,
    /// Symbolic links.
    pub symlinks: u64,
    /// Regular files with an executable bit.
    pub executables: u64,
    /// Empty regular files.
    pub empty: u64,
    /// Sum of regular file sizes.
    pub bytes: u64,
}

/// Statistics of the tree below `root`, skipping paths (relative, `/`-separated) under `skip`.
pub fn stats(root: &Path, skip: &[&str]) -> Result<TreeStats> {
    let mut s = TreeStats::default();
    for e in walk(root)? {
        if is_under_any(&e.rel, skip) {
            continue;
        }
        let ft = e.meta.file_type();
        if ft.is_dir() {
            s.dirs += 1;
        } else if ft.is_symlink() {
            s.symlinks += 1;
        } else if ft.is_file() {
            s.files += 1;
            s.bytes += e.meta.len();
            s.empty += u64::from(e.meta.len() == 0);
            s.executables += u64::from(e.meta.permissions().mode() & 0o111 != 0);
        }
    }
    Ok(s)
}

/// True when `rel` is one of `prefixes` or below one.
pub fn is_under_any(rel: &Path, prefixes: &[&str]) -> bool {
    prefixes.iter().any(|p| rel.starts_with(p))
}

/// BLAKE3 over every entry's path, type, mode and content (or link target), in walk order: two trees
/// with the same hash are the same tree.
pub fn tree_hash(root: &Path) -> Result<blake3::Hash> {
    let mut h = blake3::Hasher::new();
    let mut buf = vec![0u8; 64 * 1024];
    for e in walk(root)? {
        let path = root.join(&e.rel);
        h.update(e.rel.as_os_str().as_encoded_bytes());
        h.update(&[0]);
        h.update(&e.meta.permissions().mode().to_le_bytes());
        if e.meta.file_type().is_symlink() {
            h.update(
                fs::read_link(&path)
                    .at(&path)?
                    .as_os_str()
                    .as_encoded_bytes(),
            );
        } else if e.meta.is_file() {
            let mut f = fs::File::open(&path).at(&path)?;
            loop {
                let n = f.read(&mut buf).at(&path)?;
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
            }
        }
        h.update(&[0xff]);
    }
    Ok(h.finalize())
}
