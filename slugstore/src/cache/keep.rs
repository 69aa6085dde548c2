//! The keep area: outputs of an earlier build waiting, outside the build directory, for a hit that
//! claims them.
//!
//! A deploy keeps its build directory between builds and brings it to exactly the new source tree,
//! so nothing an earlier build produced can leak into the next one. Outputs of cached steps are the
//! exception worth keeping: a warm hit on a `vendor/` already in place is a stat pass, a restore into
//! an empty directory writes 50k files. They cannot stay in the build directory (a step the new
//! hook no longer runs, or a command that runs before its step, would see them), so the deploy
//! *parks* them: each output path an earlier build's steps declared is renamed into `parked/` here
//! (same filesystem, same inodes, so the stat cache still knows every file). A `slug cache run` of
//! the new build renames its outputs back into place before restoring or running ([`unpark`]), and
//! whatever no step claimed is deleted after the hook.
//!
//! ```text
//! KEEP/outputs          the output paths (relative to the build root) the current build's steps
//!                       declared, one per line, appended by each `slug cache run`
//! KEEP/parked/<path>    the previous build's outputs, until claimed or discarded
//! ```
//!
//! The deploy passes the area to its hooks as `SLUG_CACHE_KEEP`; outside a deploy there is none.

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::Path;

use super::restore::remove_any;
use crate::error::{IoResultExt, Result};
use crate::scan::normalize_rel;

/// The list of output paths the current build declared.
const OUTPUTS: &str = "outputs";
/// Where the previous build's outputs wait.
const PARKED: &str = "parked";

/// Appends the outputs `rels` (relative to the build root) to the current build's list, creating
/// the area when needed. One `write(2)` of the whole list: concurrent steps never interleave lines.
pub fn claim(keep: &Path, rels: &[String]) -> Result<()> {
    fs::create_dir_all(keep).at(keep)?;
    let path = keep.join(OUTPUTS);
    let text: String = rels.iter().map(|r| format!("{r}\n")).collect();
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .at(&path)
}

/// Puts the parked copy of each output `rel` (relative to the build root `root`) back at its path,
/// replacing what is there (the step is about to make the path exactly its output either way).
/// Returns how many were put back.
pub fn unpark(keep: &Path, root: &Path, rels: &[String]) -> Result<u64> {
    let mut back = 0;
    for rel in rels {
        let from = keep.join(PARKED).join(rel);
        if fs::symlink_metadata(&from).is_err() {
            continue;
        }
        let to = root.join(rel);
        remove_any(&to)?;
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent).at(parent)?;
        }
        fs::rename(&from, &to).at(&from)?;
        back += 1;
    }
    Ok(back)
}

/// Moves every output the last build declared out of the build directory `root` into `parked/`,
/// after deleting what an earlier park left unclaimed, and starts a new list. Returns the paths
/// parked. An output inside another one moves with it.
pub fn park(keep: &Path, root: &Path) -> Result<Vec<String>> {
    discard(keep)?;
    let list = keep.join(OUTPUTS);
    let text = match fs::read_to_string(&list) {
        Ok(t) => t,
        Err(e) if e.kind() == ErrorKind::NotFound => String::new(),
        Err(e) => return Err(crate::Error::io(&list, e)),
    };
    let mut rels: Vec<String> = text
        .lines()
        .filter_map(|l| normalize_rel(l).ok().filter(|r| !r.is_empty()))
        .collect();
    rels.sort();
    rels.dedup();
    let mut parked: Vec<String> = Vec::new();
    for rel in rels {
        if parked.iter().any(|p| rel.starts_with(&format!("{p}/"))) {
            continue;
        }
        let from = root.join(&rel);
        if fs::symlink_metadata(&from).is_err() {
            continue;
        }
        let to = keep.join(PARKED).join(&rel);
        let parent = to.parent().expect("under parked/");
        fs::create_dir_all(parent).at(parent)?;
        fs::rename(&from, &to).at(&from)?;
        parked.push(rel);
    }
    match fs::remove_file(&list) {
        Err(e) if e.kind() != ErrorKind::NotFound => return Err(crate::Error::io(&list, e)),
        _ => {}
    }
    Ok(parked)
}

/// Deletes whatever is parked (the outputs no step of the build claimed).
pub fn discard(keep: &Path) -> Result<()> {
    let parked = keep.join(PARKED);
    if fs::symlink_metadata(&parked).is_ok() {
        crate::checkout::retention::remove_tree(&parked)?;
    }
    Ok(())
}
