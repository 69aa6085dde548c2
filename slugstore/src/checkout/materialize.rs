//! Materializing a slug as a release directory.
//!
//! Most of a deploy's files did not change since the previous one. When an earlier release of the target
//! is on disk, every file of the new slug whose content and executable bit it already has (at any path)
//! is hardlinked from it: one `link(2)` instead of decompressing, writing and allocating. Only the other
//! files are written from the store (verified against their hash on the way). Without a predecessor every
//! file is written from the store, in parallel across files.
//!
//! Hardlinks share an inode, so releases must be immutable: files are created 0444 (0555 when
//! executable) and every directory is made 0555 once filled. Nothing running as the application can then
//! write through one release into another. (root ignores permission bits: do not run the application as
//! root.)
//!
//! Steps, all inside `releases/.tmp-<id>-<pid>`: directories; the slug's `.magento.app.yaml` (to learn its
//! mounts); mount links; files in parallel; symlinks; directories read-only; `syncfs(2)` (one flush of
//! the filesystem instead of one fsync per file); rename to `releases/<id>`; fsync of `releases/`. A
//! checkout killed before the rename leaves only the `.tmp-*` directory, which is not a release and is
//! deleted by the next command on the target.

use std::collections::HashMap;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::checkout::mounts::Mounts;
use crate::checkout::retention::remove_tree;
use crate::checkout::target::{Target, TMP_PREFIX};
use crate::error::{Error, IoResultExt, Result};
use crate::fsutil;
use crate::id::{ObjectId, SlugId};
use crate::progress::ProgressBars;
use crate::restore::write_file_mode;
use crate::slug::{Entry, EntryKind, Manifest};
use crate::store::Store;

/// The application config read for mounts, at the root of a slug.
pub const APP_CONFIG: &str = ".magento.app.yaml";

/// How to materialize.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct MaterializeOptions {
    /// Write every file from the store, even when an earlier release has it.
    #[cfg_attr(feature = "clap", arg(long))]
    pub no_link: bool,
    /// Do not flush the release to disk before publishing it (faster; after a power loss the release may
    /// have lost data while looking complete).
    #[cfg_attr(feature = "clap", arg(long))]
    pub no_sync: bool,
}

/// What materializing one release did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MaterializeReport {
    /// The release materialized.
    pub slug: Option<SlugId>,
    /// The earlier release files were linked from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predecessor: Option<SlugId>,
    /// Files hardlinked from the predecessor.
    pub files_linked: u64,
    /// Files written from the store.
    pub files_written: u64,
    /// Bytes of the written files.
    pub bytes_written: u64,
    /// Directories created.
    pub dirs: u64,
    /// Symlinks created (mount links excluded).
    pub symlinks: u64,
    /// Mount paths linked into `shared/`.
    pub mounts: Vec<String>,
    /// Slug entries not materialized because a mount covers them.
    pub shadowed: u64,
    /// Wall time in seconds.
    pub seconds: f64,
}

/// Where unchanged content can be linked from: an earlier release and its files by content.
struct LinkSource {
    slug: SlugId,
    dir: PathBuf,
    by_content: HashMap<(ObjectId, bool), Vec<u8>>,
}

impl LinkSource {
    /// Indexes the files of release `dir` (slug `slug`). Paths under the release's mounts are left out:
    /// there the release holds a symlink into `shared/`, and linking through it would tie a writable file
    /// to the new release.
    fn new(slug: SlugId, dir: PathBuf, manifest: &Manifest) -> Result<LinkSource> {
        let mounts = Mounts::new(&crate::config::mounts(&dir)?, manifest)?;
        let mut by_content = HashMap::with_capacity(manifest.entries().len());
        for e in manifest.entries() {
            if let EntryKind::File { id, executable, .. } = &e.kind {
                if !mounts.covers(&e.path) {
                    by_content
                        .entry((*id, *executable))
                        .or_insert_with(|| e.path.clone());
                }
            }
        }
        Ok(LinkSource {
            slug,
            dir,
            by_content,
        })
    }
}

/// Materializes slug `id` as `releases/<id>` (which must not exist). Call with the target lock held.
pub fn materialize(
    store: &Store,
    target: &Target,
    id: &SlugId,
    opts: &MaterializeOptions,
    bars: &dyn ProgressBars,
) -> Result<MaterializeReport> {
    let started = std::time::Instant::now();
    let manifest = store.manifest(id)?;
    let source = if opts.no_link {
        None
    } else {
        predecessor(store, target, id)?
    };
    let tmp = target.releases_dir().join(format!(
        "{TMP_PREFIX}{}-{}",
        id.to_hex(),
        std::process::id()
    ));
    fs::create_dir(&tmp).at(&tmp)?;
    let result = build(store, target, &manifest, source.as_ref(), &tmp, bars);
    let mut report = match result {
        Ok(r) => r,
        Err(e) => {
            let _ = remove_tree(&tmp);
            return Err(e);
        }
    };
    if !opts.no_sync {
        syncfs(&tmp)?;
    }
    let dest = target.release_dir(id);
    fs::rename(&tmp, &dest).at(&dest)?;
    fsutil::sync_dir(&target.releases_dir())?;
    report.slug = Some(*id);
    report.predecessor = source.map(|s| s.slug);
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// The release to link from: the live one, else the most recently materialized one, whose manifest the
/// store still has.
fn predecessor(store: &Store, target: &Target, id: &SlugId) -> Result<Option<LinkSource>> {
    let state = target.state()?;
    let mut candidates = target.releases()?;
    candidates.retain(|c| c != id);
    let current = target.current()?;
    candidates.sort_by_key(|c| {
        let rank = state.releases.get(c).map(|r| r.materialized).unwrap_or(0);
        (Some(*c) != current, std::cmp::Reverse(rank))
    });
    for c in candidates {
        // A slug deleted from the store (or a release whose config no longer parses) leaves nothing to
        // compare against; try the next release.
        let source = store
            .manifest(&c)
            .and_then(|m| LinkSource::new(c, target.release_dir(&c), &m));
        if let Ok(s) = source {
            return Ok(Some(s));
        }
    }
    Ok(None)
}

fn build(
    store: &Store,
    target: &Target,
    manifest: &Manifest,
    source: Option<&LinkSource>,
    root: &Path,
    bars: &dyn ProgressBars,
) -> Result<MaterializeReport> {
    let mut report = MaterializeReport::default();
    let entries = manifest.entries();
    let counters = Counters::default();

    // The config decides the mounts, so it goes first (it sits at the root: no directory needed).
    let config = manifest
        .get(APP_CONFIG.as_bytes())
        .filter(|e| matches!(e.kind, EntryKind::File { .. }));
    if let Some(e) = config {
        place_file(store, source, e, root, &counters)?;
    }
    let mounts = Mounts::new(&crate::config::mounts(root)?, manifest)?;
    report.mounts = mounts.paths();

    // Directories level by level: parents exist before their children, and each level is created in
    // parallel (mkdir(2) is most of the cost of a checkout that links its files).
    let mut levels: Vec<Vec<PathBuf>> = Vec::new();
    for e in entries {
        if mounts.covers(&e.path) {
            report.shadowed += 1;
        } else if e.kind == EntryKind::Dir {
            let depth = e.path.iter().filter(|&&b| b == b'/').count();
            if levels.len() <= depth {
                levels.resize_with(depth + 1, Vec::new);
            }
            levels[depth].push(root.join(e.os_path()));
        }
    }
    // A process that may write into read-only directories (root, or CAP_DAC_OVERRIDE) creates them
    // read-only at once and saves a chmod(2) per directory; any other must fill them first.
    let read_only_at_once =
        fsutil::mode_survives_umask(0o555) && fsutil::overrides_file_permissions();
    let mut dir_builder = fs::DirBuilder::new();
    if read_only_at_once {
        dir_builder.mode(0o555);
    }
    for level in &levels {
        level
            .par_iter()
            .try_for_each(|p| dir_builder.create(p).at(p))?;
    }
    report.dirs = levels.iter().map(|l| l.len() as u64).sum();
    let mut dirs: Vec<PathBuf> = if read_only_at_once {
        Vec::new()
    } else {
        levels.into_iter().flatten().collect()
    };
    dirs.extend(mounts.link_into(target, root)?);

    let bar = bars.bytes("checking out");
    bar.set_length(manifest.stats().bytes);
    entries.par_iter().try_for_each(|e| -> Result<()> {
        if let EntryKind::File { size, .. } = &e.kind {
            if !mounts.covers(&e.path) && !config.is_some_and(|c| std::ptr::eq(c, e)) {
                place_file(store, source, e, root, &counters)?;
            }
            bar.inc(*size);
        }
        Ok(())
    })?;
    bar.finish();

    for e in entries {
        if let EntryKind::Symlink { target } = &e.kind {
            if !mounts.covers(&e.path) {
                let p = root.join(e.os_path());
                std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(target), &p).at(&p)?;
                report.symlinks += 1;
            }
        }
    }

    // chmod(2) needs no write access to the parent, so the order does not matter; the release root
    // goes last.
    dirs.par_iter().try_for_each(read_only)?;
    read_only(&root.to_path_buf())?;
    report.files_linked = counters.linked.load(Ordering::Relaxed);
    report.files_written = counters.written.load(Ordering::Relaxed);
    report.bytes_written = counters.bytes.load(Ordering::Relaxed);
    Ok(report)
}

#[derive(Default)]
struct Counters {
    linked: AtomicU64,
    written: AtomicU64,
    bytes: AtomicU64,
}

/// Puts one file of the slug in place: a hardlink when the source has its content, else written
/// read-only from the store.
fn place_file(
    store: &Store,
    source: Option<&LinkSource>,
    e: &Entry,
    root: &Path,
    counters: &Counters,
) -> Result<()> {
    let EntryKind::File {
        size,
        id,
        executable,
    } = &e.kind
    else {
        return Ok(());
    };
    let dest = root.join(e.os_path());
    if let Some(src) = source.and_then(|s| {
        s.by_content
            .get(&(*id, *executable))
            .map(|p| s.dir.join(Path::new(std::ffi::OsStr::from_bytes(p))))
    }) {
        match fs::hard_link(&src, &dest) {
            Ok(()) => {
                counters.linked.fetch_add(1, Ordering::Relaxed);
                return Ok(());
            }
            // Gone from the old release, or its inode has reached the filesystem's link limit: write.
            Err(err)
                if err.kind() == std::io::ErrorKind::NotFound
                    || err.raw_os_error() == Some(libc::EMLINK) => {}
            Err(err) => return Err(Error::io(&dest, err)),
        }
    }
    write_file_mode(store, id, *size, e, &dest, e.mode() & !0o222)?;
    counters.written.fetch_add(1, Ordering::Relaxed);
    counters.bytes.fetch_add(*size, Ordering::Relaxed);
    Ok(())
}

/// Makes directory `d` read-only (0555).
fn read_only(d: &PathBuf) -> Result<()> {
    fs::set_permissions(d, fs::Permissions::from_mode(0o555)).at(d)
}

/// Flushes the filesystem holding `path` (one call instead of an fsync per file).
fn syncfs(path: &Path) -> Result<()> {
    let f = fs::File::open(path).at(path)?;
    // SAFETY: syncfs on a descriptor we own.
    if unsafe { libc::syncfs(f.as_raw_fd()) } != 0 {
        return Err(Error::io(path, std::io::Error::last_os_error()));
    }
    Ok(())
}
