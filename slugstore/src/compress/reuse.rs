//! Keeping the `.gz` files of a directory that is about to be rebuilt, for the next run to take back.
//!
//! A deploy keeps its build directory between builds, and a cached step that restores `pub/static`
//! makes it exactly the step's recorded tree, which holds no `.gz` (compression runs after the build
//! hook). So every deploy deleted a thousand `.gz` files and wrote them again from the compression
//! cache, and creating files (an inode allocated, a directory entry journalled, each) was most of
//! the time of both. Instead the deploy *stashes* them before the hook: one `rename(2)` each into a
//! flat directory, named by the BLAKE3 of their path relative to the static directory. A run given
//! the stash ([`super::run::compress_static_reusing`]) moves back the `.gz` of each asset that has
//! none, then checks its bytes like those of any `.gz` in place: a stale one (the asset changed) is
//! replaced, so a stash can never put wrong bytes into a build. What a run leaves in the stash is the
//! caller's to delete ([`discard`]).

use std::ffi::CStr;
use std::fs;
use std::io::ErrorKind;
use std::path::Path;

use rayon::prelude::*;

use super::select::{has_asset_extension, is_deleting_dir};
use crate::error::{IoResultExt, Result};
use crate::fsutil::dir::{Dir, Kind};
use crate::fsutil::walk;
use crate::id::ObjectId;

/// The name a `.gz` at `rel` (relative to the static directory) has in a stash.
fn stash_name(rel: &[u8]) -> String {
    ObjectId::hash(rel).to_hex()
}

/// Moves every `NAME.gz` under `dir` whose `NAME` is an asset's name into the stash directory
/// `stash` (created, emptied first), and returns how many. `dir` need not exist.
pub fn stash(dir: &Path, stash: &Path) -> Result<u64> {
    discard(stash)?;
    if !fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir()) {
        return Ok(0);
    }
    fs::create_dir_all(stash).at(stash)?;
    let found = walk::walk(dir, &GzFiles { root: dir })?;
    found.par_iter().try_for_each(|rel| -> Result<()> {
        let from = walk::join(dir, rel);
        let to = stash.join(stash_name(rel));
        fs::rename(&from, &to).at(&from)
    })?;
    Ok(found.len() as u64)
}

/// Moves the stashed `.gz` of `rel` (relative to the static directory) to `to`; false when the stash
/// has none.
pub(super) fn take(stash: &Path, rel: &[u8], to: &Path) -> Result<bool> {
    let from = stash.join(stash_name(rel));
    match fs::rename(&from, to) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).at(&from),
    }
}

/// Deletes the stash directory and what is left in it; no stash is fine.
pub fn discard(stash: &Path) -> Result<()> {
    match fs::remove_dir_all(stash) {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(e).at(stash),
        _ => Ok(()),
    }
}

/// The `.gz` files of assets, by path relative to the walked directory `root`.
struct GzFiles<'a> {
    root: &'a Path,
}

impl walk::Visitor for GzFiles<'_> {
    type Out = Vec<u8>;

    fn visit(
        &self,
        dir: &Dir,
        rel: &[u8],
        out: &mut Vec<Vec<u8>>,
        descend: &mut dyn FnMut(&CStr),
    ) -> Result<()> {
        dir.for_each(
            |name, kind| {
                let bytes = name.to_bytes();
                match kind {
                    Kind::Dir if !is_deleting_dir(bytes) => descend(name),
                    Kind::File => {
                        if let Some(asset) = bytes.strip_suffix(b".gz") {
                            if has_asset_extension(asset) {
                                out.push(walk::child(rel, bytes));
                            }
                        }
                    }
                    _ => {}
                }
                Ok(())
            },
            |e| crate::Error::io(walk::join(self.root, rel), e),
        )
    }
}
