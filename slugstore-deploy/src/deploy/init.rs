//! End of phase 2: compress the static assets and move build-time content of the mounts to `init/`.
//!
//! At deploy time `pub/static`, `app/etc` and `pub/media` are mounts: persistent storage hides whatever
//! the slug has at those paths. So, as ece-tools does, what the build left there moves to `init/<path>`,
//! which travels with the slug; the release phase copies `init/app/etc` and `init/pub/media` into their
//! mounts and links the entries of `init/pub/static` into the static mount. The paths are left as empty
//! directories.
//!
//! Compression runs first, on `pub/static`, at the level of the app's `SCD_COMPRESSION_LEVEL` (the
//! platform's build default, 6, otherwise), with the store's gzip cache so an unchanged asset is never
//! compressed twice across builds.

use std::fs;
use std::path::Path;

use crate::config::Project;
use crate::error::{IoResultExt, Result};
use slugstore::compress::{compress_static_reusing, DirGzCache, Level, Report};
use slugstore::progress::ProgressBars;
use slugstore::store::Store;

/// The paths whose build-time content moves to `init/`.
pub const INIT_PATHS: &[&str] = &["pub/static", "app/etc", "pub/media"];

/// The directory, relative to a build tree or release, holding the build-time content of the mounts.
pub const INIT_DIR: &str = "init";

/// The static assets' directory, relative to the tree.
pub const STATIC_DIR: &str = "pub/static";

/// Gzips the assets under `dir/pub/static` (when it exists) as the app's configuration asks, taking
/// back the `.gz` files stashed in `stash` before the build (see [`slugstore::compress::reuse`]).
pub fn compress(
    store: &Store,
    project: &Project,
    dir: &Path,
    stash: &Path,
    bars: &dyn ProgressBars,
) -> Result<Option<Report>> {
    let static_dir = dir.join(STATIC_DIR);
    if !static_dir.is_dir() {
        return Ok(None);
    }
    let opts = project.app.compress_options(Level::BUILD_DEFAULT)?;
    let cache = DirGzCache::open(slugstore::compress::cache_dir(store.root()))?;
    Ok(Some(compress_static_reusing(
        &static_dir,
        &opts,
        &cache,
        stash,
        bars,
    )?))
}

/// Moves the content of each of [`INIT_PATHS`] under `dir` that the tree's configuration mounts to
/// `dir/init/<path>`, leaving the path an empty directory. Returns the paths that had content.
///
/// A path that is not a mount keeps its content: nothing would hide it at deploy, and moving it would
/// only make it invisible to the application (a configuration without `mounts:` deploys read-only, its
/// `pub/static` served from the release itself).
pub fn move_to_init(dir: &Path) -> Result<Vec<&'static str>> {
    let mounts = crate::layout::release_mounts(dir)?;
    let mut moved = Vec::new();
    for rel in INIT_PATHS
        .iter()
        .filter(|rel| mounts.covers(rel.as_bytes()))
    {
        let from = dir.join(rel);
        // A symlink at the path is left alone: moving it would not move the content it points to.
        let is_dir = fs::symlink_metadata(&from).is_ok_and(|m| m.is_dir());
        if !is_dir || fs::read_dir(&from).at(&from)?.next().is_none() {
            continue;
        }
        let to = dir.join(INIT_DIR).join(rel);
        if fs::symlink_metadata(&to).is_ok() {
            slugstore::checkout::retention::remove_tree(&to)?;
        }
        let parent = to.parent().expect("init paths have a parent");
        fs::create_dir_all(parent).at(parent)?;
        fs::rename(&from, &to).at(&from)?;
        fs::create_dir(&from).at(&from)?;
        moved.push(*rel);
    }
    Ok(moved)
}

/// Undoes [`move_to_init`] in a build directory kept from an earlier build: each `init/<path>` goes
/// back to `<path>` when that is absent or an empty directory, so the outputs a cached step left
/// under a mount are where the step will look for them (see [`super::builddir`]).
pub fn move_back(dir: &Path) -> Result<()> {
    for rel in INIT_PATHS {
        let from = dir.join(INIT_DIR).join(rel);
        if !fs::symlink_metadata(&from).is_ok_and(|m| m.is_dir()) {
            continue;
        }
        let to = dir.join(rel);
        match fs::symlink_metadata(&to) {
            Ok(m) if m.is_dir() && fs::read_dir(&to).at(&to)?.next().is_none() => {
                fs::remove_dir(&to).at(&to)?
            }
            Ok(_) => continue,
            Err(_) => {
                let parent = to.parent().expect("init paths have a parent");
                fs::create_dir_all(parent).at(parent)?;
            }
        }
        fs::rename(&from, &to).at(&from)?;
    }
    Ok(())
}
