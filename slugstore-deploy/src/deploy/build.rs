//! Phase 2: `hooks.build` in the build directory.
//!
//! The build must be able to write anywhere in its tree without touching the source, and must see
//! exactly the tree its build key names: [`super::builddir`] brings `TARGET/build` to the source slug
//! (the snapshot the key was computed from, without `.git` and the mounts), every file a private copy
//! (never a hardlink into the source or the store), so a file edited in the source after the key was
//! computed cannot slip into the build.
//!
//! Mounts do not exist during the build (as on the platform): their paths start as empty directories,
//! which the build may fill (static assets in `pub/static`); [`super::init`] then moves that content
//! to `init/`.
//!
//! Besides the platform's variables, the hook gets what `slug cache run` needs to work inside it:
//! `PLATFORM_CACHE_DIR` (a directory kept between builds of the target, for composer's download
//! cache and the like), `SLUGSTORE_DIR` (the deploy's store, which the deploy does not hold while the
//! hook runs), `SLUG_CACHE_ROOT` (the build directory, the root of the steps' paths) and
//! `SLUG_CACHE_KEEP` (where the last build's outputs wait for their steps).

use std::path::Path;

use crate::config::Project;
use crate::deploy::access::StoreAccess;
use crate::deploy::builddir::{self, BuildPaths};
use crate::deploy::init;
use crate::deploy::platform::{Mode, Platform};
use crate::deploy::shell::{self, Hook};
use crate::error::{IoResultExt, Result};
use crate::status::{Phase, Recorder};
use slugstore::compress::reuse;
use slugstore::id::SlugId;
use slugstore::progress::ProgressBars;

/// Runs `hooks.build` (if any) in the build directory of `paths`, its output recorded under the build
/// phase; `store_root` is the store the hook's `slug cache run` uses.
pub fn run_hook(
    project: &Project,
    platform: &Platform,
    tree_id: &str,
    paths: &BuildPaths,
    store_root: &Path,
    rec: &Recorder<'_>,
) -> Result<()> {
    let Some(script) = project.app.hooks.build.as_deref() else {
        return rec.line(Phase::Build, "no build hook");
    };
    let dir = &paths.dir;
    let mut env = platform.hook_env(tree_id, dir, Mode::Build);
    let store_root = store_root.canonicalize().at(store_root)?;
    for (k, v) in [
        ("PLATFORM_CACHE_DIR", paths.cache.as_path()),
        ("SLUGSTORE_DIR", &store_root),
        ("SLUG_CACHE_ROOT", dir),
        ("SLUG_CACHE_KEEP", &paths.keep),
    ] {
        env.push((k.to_owned(), v.display().to_string()));
    }
    let hook = Hook {
        name: "hooks.build",
        script,
        cwd: dir,
        env: &env,
        timeout: platform.hook_timeout(),
    };
    shell::run(&hook, Phase::Build, rec)
}

/// Builds source tree `tree` in the target's build directory: synced to the tree, `hooks.build` run
/// with the store released (so the hook's `slug cache run` can open it), the static assets
/// compressed and the mounts' build content moved to `init/`; each step logged.
#[allow(clippy::too_many_arguments)]
pub(crate) fn build_tree(
    store: &StoreAccess<'_>,
    tree: &SlugId,
    project: &Project,
    platform: &Platform,
    tree_id: &str,
    paths: &BuildPaths,
    rec: &Recorder<'_>,
    bars: &dyn ProgressBars,
) -> Result<()> {
    let store_root = {
        let store = store.get()?;
        let p = builddir::prepare(&store, tree, project, paths, bars)?;
        let line = match p.from {
            Some(from) => format!(
                "build directory synced from source tree {}: {} files written, {} removed, {} kept; {} step outputs parked",
                from.short(12),
                p.written,
                p.removed,
                p.kept,
                p.parked.len()
            ),
            None => format!("build directory restored: {} files written", p.written),
        };
        rec.line(Phase::Build, &line)?;
        store.root().to_path_buf()
    };
    store.release(|| run_hook(project, platform, tree_id, paths, &store_root, rec))?;
    slugstore::cache::keep::discard(&paths.keep)?;
    let dir = &paths.dir;
    let compressed = init::compress(&*store.get()?, project, dir, &paths.gz_stash, bars)?;
    reuse::discard(&paths.gz_stash)?;
    if let Some(r) = compressed {
        rec.line(
            Phase::Build,
            &format!(
                "static compression at level {}: {} assets, {} compressed, {} from cache, {} up to date",
                r.level, r.selected, r.compressed, r.from_cache, r.up_to_date
            ),
        )?;
    }
    let moved = init::move_to_init(dir)?;
    if !moved.is_empty() {
        rec.line(
            Phase::Build,
            &format!("moved to {}/: {}", init::INIT_DIR, moved.join(", ")),
        )?;
    }
    Ok(())
}
