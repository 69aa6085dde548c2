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
//! Steps, all inside `releases/.tmp-<id>-<pid>`: directories; the slug's config file (to learn its mounts, see
//! [`super::layout`]); mount links; files in parallel; symlinks; directories read-only; rename to `releases/<id>`;
//! fsync of `releases/`. A checkout killed before the rename leaves only the `.tmp-*` directory, which is
//! not a release and is deleted by the next command on the target.
//!
//! The release is not flushed to disk here: it is flushed (`syncfs(2)`, one call instead of an fsync per
//! file) when it first goes live ([`super::switch::switch_to`]), which is the moment a power loss could
//! otherwise leave `current` pointing at files that lost their data. A checkout is usually followed by
//! deploy hooks before the switch, and the kernel writes the files back in the meantime, so the flush at
//! the switch mostly finds nothing left to write; a cold checkout of the 100k-file tree spent 1.5-2 s of
//! its time in that flush when it was done here.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use foldhash::HashMap;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::checkout::layout::ReleaseLayout;
use crate::checkout::link_source::{predecessor, read_mounts, LinkSource};
use crate::checkout::mounts::Mounts;
use crate::checkout::retention::remove_tree;
use crate::checkout::target::{Target, TMP_PREFIX};
use crate::error::{Error, IoResultExt, Result};
use crate::fsutil::{self, dir::Dir};
use crate::id::SlugId;
use crate::progress::ProgressBars;
use crate::restore::{write_file_mode, Dest};
use crate::slug::{Entry, EntryKind, Manifest};
use crate::store::Store;

/// How to materialize.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct MaterializeOptions {
    /// Write every file from the store, even when an earlier release has it.
    #[cfg_attr(feature = "clap", arg(long))]
    pub no_link: bool,
    /// Always write a new release, even when retention is about to remove one that could be changed
    /// into it (by default that release is recycled: only what differs between the two is rewritten).
    #[cfg_attr(feature = "clap", arg(long))]
    #[serde(default)]
    pub no_recycle: bool,
    /// Never flush the release to disk, not even when it first goes live (faster; after a power loss the
    /// live release may have lost data while looking complete).
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
    /// The release changed into this one instead of writing a new one (see
    /// [`super::recycle`]): retention was about to remove it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recycled: Option<SlugId>,
    /// Files of the recycled release left as they were.
    #[serde(skip_serializing_if = "is_zero")]
    pub files_kept: u64,
    /// Entries of the recycled release removed (a directory counts once, with everything in it).
    #[serde(skip_serializing_if = "is_zero")]
    pub entries_removed: u64,
    /// Why a release could not be recycled, when it could not (this checkout then wrote a new one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recycle_failed: Option<String>,
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

/// Materializes slug `id` as `releases/<id>` (which must not exist). Call with the target lock held.
pub fn materialize(
    store: &Store,
    target: &Target,
    id: &SlugId,
    opts: &MaterializeOptions,
    layout: &dyn ReleaseLayout,
    bars: &dyn ProgressBars,
) -> Result<MaterializeReport> {
    let started = std::time::Instant::now();
    // Both manifests are decoded and the predecessor's files indexed before the first directory is
    // made (~0.1 s each for a 91k-file tree): side by side, on both cores.
    let (manifest, source) = rayon::join(
        || store.manifest(id),
        || match opts.no_link {
            true => Ok(None),
            false => predecessor(store, target, id, layout),
        },
    );
    let (manifest, source) = (manifest?, source?);
    let tmp = tmp_dir(target, id);
    fs::create_dir(&tmp).at(&tmp)?;
    let result = build(
        store,
        target,
        &manifest,
        source.as_ref(),
        layout,
        &tmp,
        bars,
    );
    let mut report = publish(target, id, &tmp, result, started)?;
    report.predecessor = source.map(|s| s.slug);
    Ok(report)
}

/// Publishes the release of `id` built in `tmp` as `releases/<id>` once `built` succeeded (deleting
/// `tmp` when it failed), and completes its report.
pub(super) fn publish(
    target: &Target,
    id: &SlugId,
    tmp: &Path,
    built: Result<MaterializeReport>,
    started: std::time::Instant,
) -> Result<MaterializeReport> {
    let mut report = match built {
        Ok(r) => r,
        Err(e) => {
            let _ = remove_tree(tmp);
            return Err(e);
        }
    };
    let dest = target.release_dir(id);
    fs::rename(tmp, &dest).at(&dest)?;
    fsutil::sync_dir(&target.releases_dir())?;
    report.slug = Some(*id);
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Where the release of `id` is built by this process, out of the releases' namespace until renamed.
pub(super) fn tmp_dir(target: &Target, id: &SlugId) -> PathBuf {
    target.releases_dir().join(format!(
        "{TMP_PREFIX}{}-{}",
        id.to_hex(),
        std::process::id()
    ))
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn build(
    store: &Store,
    target: &Target,
    manifest: &Manifest,
    source: Option<&LinkSource>,
    release_layout: &dyn ReleaseLayout,
    root: &Path,
    bars: &dyn ProgressBars,
) -> Result<MaterializeReport> {
    let mut report = MaterializeReport::default();
    let entries = manifest.entries();
    let counters = Counters::default();

    // The config decides the mounts, so it goes first (it sits at the root: no directory needed).
    let config = release_layout
        .config_file()
        .and_then(|name| manifest.get(name.as_bytes()))
        .filter(|e| matches!(e.kind, EntryKind::File { .. }));
    let root_dir = Dir::open(root).at(root)?;
    if let Some(e) = config {
        place_file(store, source, e, &root_dir, root, &counters)?;
    }
    let mounts = Mounts::new(&read_mounts(release_layout, root)?, manifest)?;
    report.mounts = mounts.paths();
    let layout = Layout::new(entries, &mounts, config);
    report.shadowed = layout.shadowed;
    report.dirs = layout.dirs;

    // A process that may write into read-only directories creates them read-only at once; any other
    // makes each read-only once it has filled it, except the parents of mount links, which are made
    // after the links.
    let read_only_at_once = read_only_at_once();
    let mount_parents = mounts.parents();
    let bar = bars.bytes("checking out");
    bar.set_length(manifest.stats().bytes);
    let fill = Fill {
        store,
        source,
        entries,
        layout: &layout,
        root,
        root_dir: &root_dir,
        counters: &counters,
        bar: &*bar,
        read_only_at_once,
        mount_parents: &mount_parents,
        error: Mutex::new(None),
    };
    rayon::scope(|s| fill.run(s, ROOT));
    if let Some(e) = fill.error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    bar.finish();
    report.symlinks = counters.symlinks.load(Ordering::Relaxed);

    let mut dirs = mounts.link_into(target, root)?;
    if !read_only_at_once {
        dirs.extend(mount_parents.iter().map(|p| fsutil::walk::join(root, p)));
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

/// Slot of the release root in [`Layout::children`] (the others are entry indices).
const ROOT: usize = usize::MAX;

/// The slug's entries grouped by directory, so each directory is filled through its own descriptor.
struct Layout {
    /// Entry indices of the children of each directory entry, by the directory's entry index.
    children: Vec<Vec<usize>>,
    /// Entry indices at the root.
    top: Vec<usize>,
    /// Entries covered by a mount (not materialized).
    shadowed: u64,
    /// Directories to create.
    dirs: u64,
}

impl Layout {
    fn new(entries: &[Entry], mounts: &Mounts, skip: Option<&Entry>) -> Layout {
        let mut dir_index: HashMap<&[u8], usize> = HashMap::default();
        let mut layout = Layout {
            children: vec![Vec::new(); entries.len()],
            top: Vec::new(),
            shadowed: 0,
            dirs: 0,
        };
        for (i, e) in entries.iter().enumerate() {
            if mounts.covers(&e.path) {
                layout.shadowed += 1;
                continue;
            }
            if e.kind == EntryKind::Dir {
                dir_index.insert(&e.path, i);
                layout.dirs += 1;
            }
            if skip.is_some_and(|c| std::ptr::eq(c, e)) {
                continue;
            }
            // A manifest lists every parent before its children (it is sorted, and checked for it).
            match e.path.iter().rposition(|&b| b == b'/') {
                Some(slash) => layout.children[dir_index[&e.path[..slash]]].push(i),
                None => layout.top.push(i),
            }
        }
        layout
    }

    fn children(&self, slot: usize) -> &[usize] {
        if slot == ROOT {
            &self.top
        } else {
            &self.children[slot]
        }
    }
}

/// One checkout's parallel fill of the release, a rayon task per directory.
///
/// Every call goes through two descriptors opened once, the new release's root and the predecessor's,
/// with release-relative paths (`mkdirat(root, "a/b")`, `linkat(old, "a/b/f", root, "a/b/f")`), not
/// through a descriptor per directory: opening and closing two directories for each of the ~40k
/// directories of a large tree cost as much kernel time as linking its files. The release is ours
/// (created empty under a temporary name) and the predecessor is read-only, and no path linked from
/// it crosses its mount links ([`LinkSource`] leaves those paths out), so path walks meet no symlink.
struct Fill<'a> {
    store: &'a Store,
    source: Option<&'a LinkSource>,
    entries: &'a [Entry],
    layout: &'a Layout,
    root: &'a Path,
    root_dir: &'a Dir,
    counters: &'a Counters,
    bar: &'a dyn crate::progress::Progress,
    read_only_at_once: bool,
    mount_parents: &'a [Vec<u8>],
    error: Mutex<Option<Error>>,
}

impl<'a> Fill<'a> {
    fn run<'s>(&'s self, scope: &rayon::Scope<'s>, slot: usize) {
        if self
            .error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
        {
            return;
        }
        if let Err(e) = self.fill(scope, slot) {
            self.error
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get_or_insert(e);
        }
    }

    /// Creates the entries of one directory (slot `slot`) and queues its subdirectories.
    fn fill<'s>(&'s self, scope: &rayon::Scope<'s>, slot: usize) -> Result<()> {
        let mode = if self.read_only_at_once { 0o555 } else { 0o755 };
        for &i in self.layout.children(slot) {
            let e = &self.entries[i];
            match &e.kind {
                EntryKind::Dir => {
                    self.root_dir
                        .mkdir(&e.path[..], mode)
                        .at(self.root.join(e.os_path()))?;
                    scope.spawn(move |s| self.run(s, i));
                }
                EntryKind::File { size, .. } => {
                    place_file(
                        self.store,
                        self.source,
                        e,
                        self.root_dir,
                        self.root,
                        self.counters,
                    )?;
                    self.bar.inc(*size);
                }
                EntryKind::Symlink { target } => {
                    self.root_dir
                        .symlink(&target[..], &e.path[..])
                        .at(self.root.join(e.os_path()))?;
                    self.counters.symlinks.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        if !self.read_only_at_once && slot != ROOT {
            let path = &self.entries[slot].path;
            if !self.mount_parents.iter().any(|p| p == path) {
                self.root_dir
                    .chmod_at(&path[..], 0o555)
                    .at(fsutil::walk::join(self.root, path))?;
            }
        }
        Ok(())
    }
}

#[derive(Default)]
pub(super) struct Counters {
    pub(super) linked: AtomicU64,
    pub(super) written: AtomicU64,
    pub(super) bytes: AtomicU64,
    pub(super) symlinks: AtomicU64,
}

/// Puts one file of the slug in place at its path under `root_dir` (the release being built): a
/// hardlink when the source has its content, else written read-only from the store.
pub(super) fn place_file(
    store: &Store,
    source: Option<&LinkSource>,
    e: &Entry,
    root_dir: &Dir,
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
    let dest = || root.join(e.os_path());
    if let Some((src, from)) = source.and_then(|s| Some((s, s.path_of(id, *executable)?))) {
        let linked = root_dir.hard_link(&e.path[..], Some(&src.root), from);
        match linked {
            Ok(()) => {
                counters.linked.fetch_add(1, Ordering::Relaxed);
                return Ok(());
            }
            // Gone from the old release, or its inode has reached the filesystem's link limit: write.
            Err(err)
                if err.kind() == std::io::ErrorKind::NotFound
                    || err.raw_os_error() == Some(libc::EMLINK) => {}
            Err(err) => return Err(Error::io(dest(), err)),
        }
    }
    let path = dest();
    let to = Dest {
        path: &path,
        at: Some((root_dir, &e.path[..])),
    };
    write_file_mode(store, id, *size, e, to, e.mode() & !0o222)?;
    counters.written.fetch_add(1, Ordering::Relaxed);
    counters.bytes.fetch_add(*size, Ordering::Relaxed);
    Ok(())
}

/// True when this process may write into read-only directories (root, or CAP_DAC_OVERRIDE) and the
/// umask keeps 0555: then directories are created read-only at once, not made so once filled.
pub(super) fn read_only_at_once() -> bool {
    fsutil::mode_survives_umask(0o555) && fsutil::overrides_file_permissions()
}

/// Makes directory `d` read-only (0555).
pub(super) fn read_only(d: &PathBuf) -> Result<()> {
    fs::set_permissions(d, fs::Permissions::from_mode(0o555)).at(d)
}
