//! Recycling a release that retention is about to remove, instead of writing a new one beside it.
//!
//! A checkout adds a release, then retention removes the least recently used beyond `--keep`. On a
//! target at its keep limit every deploy so writes a whole tree (one `mkdirat` per directory, one
//! `linkat` per file: ~130k entries for a Magento build) and deletes another as large. When the
//! checkout's own retention is about to remove a release, that release is changed into the new one
//! instead:
//!
//! 1. It is renamed out of `releases/` to the checkout's temporary name, and the rename is made
//!    durable: from that instant it is no longer a release, exactly as when retention removes it.
//! 2. Its mount links are taken out, then it is changed by the difference of the two slugs'
//!    manifests, which after a typical build is a few hundred entries: what differs is removed, then
//!    what is new is created. A file whose content or executable bit changed is unlinked and placed
//!    anew (linked from the predecessor, or written from the store), never written through: its
//!    inode may be shared with other releases. Unchanged files keep their inodes.
//! 3. The new slug's mount links are made, the changed directories made read-only again, and the
//!    directory is renamed to the new slug's id, as a new release would be.
//!
//! The target ends as a fresh checkout followed by retention would leave it: the same releases on
//! disk, each holding its slug. A recycled release is trusted as the release a checkout links from is
//! ([`materialize`](super::materialize)): releases are read-only, and what is on disk is what its
//! manifest says. It is recycled only when its mounts (recorded when it was written) are those it is
//! read with now, so that no path of the difference crosses a mount link. Recycling killed half way leaves a `.tmp-*`
//! directory, which the next command on the target deletes; the old release is then gone, as the
//! retention would have left it. Recycling that fails is cleaned up the same way, and the checkout
//! writes a new release instead.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::sync::atomic::Ordering;

use rayon::prelude::*;

use super::layout::ReleaseLayout;
use super::link_source::{predecessor, read_mounts, LinkSource};
use super::materialize::MaterializeReport;
use super::materialize::{place_file, publish, read_only, read_only_at_once, tmp_dir, Counters};
use super::mounts::{under, Mounts};
use super::target::Target;
use crate::error::{Error, IoResultExt, Result};
use crate::fsutil::dir::{Dir, Kind};
use crate::fsutil::{self, remove_tree};
use crate::id::SlugId;
use crate::progress::ProgressBars;
use crate::slug::{Entry, EntryKind, Manifest};
use crate::store::Store;

/// Changes the release of `old` into a release of `id` (see the module doc). Call with the target lock
/// held, `id` not on disk. On error the old release is gone and nothing of `id` is on disk.
pub(super) fn recycle(
    store: &Store,
    target: &Target,
    old: &SlugId,
    id: &SlugId,
    layout: &dyn ReleaseLayout,
    bars: &dyn ProgressBars,
) -> Result<MaterializeReport> {
    let started = std::time::Instant::now();
    let mut state = target.state()?;
    let recorded = state.releases.remove(old).and_then(|r| r.mounts);
    let tmp = tmp_dir(target, id);
    let from = target.release_dir(old);
    fs::rename(&from, &tmp).at(&from)?;
    fsutil::sync_dir(&target.releases_dir())?;
    target.save_state(&state)?;
    let result = rebuild(store, target, old, id, recorded, layout, &tmp, bars);
    let mut report = publish(target, id, &tmp, result, started)?;
    report.recycled = Some(*old);
    Ok(report)
}

/// What differs between the old release on disk and the new one, as entries of their manifests.
#[derive(Default)]
struct Difference<'a> {
    /// Entries of the old release to remove, in path order; those under a removed directory are left
    /// out (they go with it).
    removed: Vec<&'a Entry>,
    /// Entries of the new release to create, in path order.
    added: Vec<&'a Entry>,
    /// Files in both, unchanged.
    kept_files: u64,
}

impl<'a> Difference<'a> {
    /// Compares `old` and `new` (each sorted by path, as manifests are), leaving out the entries
    /// `skip_old` / `skip_new` reject (mount-covered paths, the config file).
    fn between(
        old: &'a [Entry],
        new: &'a [Entry],
        skip_old: impl Fn(&Entry) -> bool,
        skip_new: impl Fn(&Entry) -> bool,
    ) -> Difference<'a> {
        let mut d = Difference::default();
        let mut old = old.iter().filter(|e| !skip_old(e)).peekable();
        let mut new = new.iter().filter(|e| !skip_new(e)).peekable();
        let mut removed_dir: Option<&[u8]> = None;
        let mut remove = |d: &mut Difference<'a>, e: &'a Entry| {
            if removed_dir.is_some_and(|dir| under(&e.path, dir)) {
                return;
            }
            if e.kind == EntryKind::Dir {
                removed_dir = Some(&e.path);
            }
            d.removed.push(e);
        };
        loop {
            match (old.peek(), new.peek()) {
                (None, None) => return d,
                (Some(o), Some(n)) if o.path == n.path => {
                    let (o, n) = (old.next().expect("peeked"), new.next().expect("peeked"));
                    if o.kind == n.kind {
                        d.kept_files += u64::from(matches!(o.kind, EntryKind::File { .. }));
                    } else {
                        remove(&mut d, o);
                        d.added.push(n);
                    }
                }
                (Some(o), n) if n.is_none_or(|n| o.path < n.path) => {
                    let o = old.next().expect("peeked");
                    remove(&mut d, o);
                }
                _ => d.added.push(new.next().expect("peeked")),
            }
        }
    }
}

/// The parent directory of `path` (`b""` for the release root).
fn parent(path: &[u8]) -> &[u8] {
    path.iter()
        .rposition(|&c| c == b'/')
        .map_or(&path[..0], |slash| &path[..slash])
}

#[allow(clippy::too_many_arguments)]
fn rebuild(
    store: &Store,
    target: &Target,
    old: &SlugId,
    id: &SlugId,
    recorded_mounts: Option<Vec<String>>,
    layout: &dyn ReleaseLayout,
    root: &Path,
    bars: &dyn ProgressBars,
) -> Result<MaterializeReport> {
    let ((old_manifest, manifest), source) = rayon::join(
        || rayon::join(|| store.manifest(old), || store.manifest(id)),
        || predecessor(store, target, id, layout),
    );
    let (old_manifest, manifest, source) = (old_manifest?, manifest?, source?);
    let root_dir = Dir::open(root).at(root)?;
    let old_mounts = Mounts::new(&read_mounts(layout, root)?, &old_manifest)?;
    if recorded_mounts.as_ref() != Some(&old_mounts.paths()) {
        return Err(Error::NotRecyclable {
            dir: root.to_path_buf(),
            why: format!(
                "it was written with the mounts {}, and would be read with {:?} now",
                recorded_mounts.map_or("of an earlier version".to_owned(), |m| format!("{m:?}")),
                old_mounts.paths()
            ),
        });
    }
    let at_once = read_only_at_once();
    let changes = Changes {
        store,
        source: source.as_ref(),
        root,
        root_dir: &root_dir,
        at_once,
        counters: Counters::default(),
    };
    // Directories whose entries change must be writable meanwhile (unless we may write anyway).
    let mut opened: BTreeSet<Vec<u8>> = BTreeSet::new();
    let mut open = |dir: &[u8]| -> Result<()> {
        if !at_once && opened.insert(dir.to_vec()) {
            changes.chmod(dir, 0o755)?;
        }
        Ok(())
    };

    // The old mount links out, with the directories made only to hold them (which the old manifest
    // does not list).
    open(b"")?;
    let mut made = Vec::new();
    for p in old_mounts.parents() {
        if old_manifest.get(&p).is_some() {
            open(&p)?;
        } else {
            made.push(p);
        }
    }
    changes.unwire(&old_mounts, &made)?;

    // The config decides the new mounts, so it goes first, as in a new release: whatever the old
    // release has at its path goes, and the new config file is placed, when the two differ.
    let at_config = |m: &'_ Manifest| {
        layout
            .config_file()
            .and_then(|name| m.get(name.as_bytes()).cloned())
    };
    let (old_at, new_at) = (at_config(&old_manifest), at_config(&manifest));
    let (mut done_old, mut done_new) = (None, None);
    if old_at != new_at {
        if let Some(e) = old_at {
            changes.remove(&e)?;
            done_old = Some(e);
        }
        if let Some(e) = new_at.filter(|e| matches!(e.kind, EntryKind::File { .. })) {
            changes.place(&e)?;
            done_new = Some(e);
        }
    }
    let mounts = Mounts::new(&read_mounts(layout, root)?, &manifest)?;
    let diff = Difference::between(
        old_manifest.entries(),
        manifest.entries(),
        |e| {
            old_mounts.covers(&e.path)
                || done_old
                    .as_ref()
                    .is_some_and(|d| d.path == e.path || under(&e.path, &d.path))
        },
        |e| mounts.covers(&e.path) || done_new.as_ref() == Some(e),
    );
    let gone = |p: &[u8]| {
        (diff.removed.iter().copied().chain(&done_old))
            .any(|e| e.kind == EntryKind::Dir && (p == e.path.as_slice() || under(p, &e.path)))
    };

    // Removals, then additions (path order: parents first). A directory removed or created needs
    // no opening of its own: removal makes it writable as it goes, and a new one is ours.
    let created: BTreeSet<&[u8]> = diff
        .added
        .iter()
        .filter(|e| e.kind == EntryKind::Dir)
        .map(|e| e.path.as_slice())
        .collect();
    for e in diff.removed.iter().chain(&diff.added) {
        let p = parent(&e.path);
        if !created.contains(p) {
            open(p)?;
        }
    }
    for p in mounts.parents() {
        if manifest.get(&p).is_some() && !created.contains(p.as_slice()) {
            open(&p)?;
        }
    }
    for e in &diff.removed {
        changes.remove(e)?;
    }
    let bar = bars.bytes("checking out");
    bar.set_length(
        diff.added
            .iter()
            .map(|e| match e.kind {
                EntryKind::File { size, .. } => size,
                _ => 0,
            })
            .sum(),
    );
    for e in diff.added.iter().filter(|e| e.kind == EntryKind::Dir) {
        changes.mkdir(e)?;
    }
    diff.added
        .par_iter()
        .filter(|e| e.kind != EntryKind::Dir)
        .try_for_each(|e| {
            changes.place(e)?;
            if let EntryKind::File { size, .. } = e.kind {
                bar.inc(size);
            }
            Ok::<_, Error>(())
        })?;
    bar.finish();

    // The new mount links; then every directory opened or made read-only again, the root last.
    let mut read_only_dirs = mounts.link_into(target, root)?;
    if !at_once {
        read_only_dirs.extend(
            (opened.iter().map(Vec::as_slice))
                .chain(created.iter().copied())
                .filter(|p| !p.is_empty() && !gone(p))
                .map(|p| fsutil::walk::join(root, p)),
        );
    }
    read_only_dirs.par_iter().try_for_each(read_only)?;
    read_only(&root.to_path_buf())?;

    let c = &changes.counters;
    Ok(MaterializeReport {
        predecessor: source.map(|s| s.slug),
        files_linked: c.linked.load(Ordering::Relaxed),
        files_written: c.written.load(Ordering::Relaxed),
        bytes_written: c.bytes.load(Ordering::Relaxed),
        dirs: created.len() as u64,
        symlinks: c.symlinks.load(Ordering::Relaxed),
        mounts: mounts.paths(),
        shadowed: manifest
            .entries()
            .iter()
            .filter(|e| mounts.covers(&e.path))
            .count() as u64,
        files_kept: diff.kept_files,
        entries_removed: diff.removed.len() as u64,
        ..MaterializeReport::default()
    })
}

/// The changes made to one recycled release, through the descriptor of its root and relative paths
/// (which meet no symlink: mount links are out while they run, and no slug path crosses one).
struct Changes<'a> {
    store: &'a Store,
    source: Option<&'a LinkSource>,
    root: &'a Path,
    root_dir: &'a Dir,
    at_once: bool,
    counters: Counters,
}

impl Changes<'_> {
    fn chmod(&self, dir: &[u8], mode: u32) -> Result<()> {
        if dir.is_empty() {
            return self.root_dir.chmod(mode).at(self.root);
        }
        self.root_dir
            .chmod_at(dir, mode)
            .at(fsutil::walk::join(self.root, dir))
    }

    /// Removes the entry `e` of the old release (a directory with everything in it).
    fn remove(&self, e: &Entry) -> Result<()> {
        let path = fsutil::walk::join(self.root, &e.path);
        match e.kind {
            EntryKind::Dir => remove_tree(&path),
            _ => self.root_dir.unlink(&e.path[..]).at(path),
        }
    }

    fn mkdir(&self, e: &Entry) -> Result<()> {
        let mode = if self.at_once { 0o555 } else { 0o755 };
        self.root_dir
            .mkdir(&e.path[..], mode)
            .at(fsutil::walk::join(self.root, &e.path))
    }

    /// Creates the file or symlink `e` of the new release.
    fn place(&self, e: &Entry) -> Result<()> {
        match &e.kind {
            EntryKind::Symlink { target } => {
                self.root_dir
                    .symlink(&target[..], &e.path[..])
                    .at(fsutil::walk::join(self.root, &e.path))?;
                self.counters.symlinks.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            EntryKind::File { .. } => place_file(
                self.store,
                self.source,
                e,
                self.root_dir,
                self.root,
                &self.counters,
            ),
            EntryKind::Dir => self.mkdir(e),
        }
    }

    /// Takes the mount links of `mounts` out of the release, then the directories `made` to hold them.
    /// A mount path that is anything but a symlink means the release is not laid out as recorded: an
    /// error, before anything else changes.
    fn unwire(&self, mounts: &Mounts, made: &[Vec<u8>]) -> Result<()> {
        if !self.at_once {
            for p in made {
                self.chmod(p, 0o755)?;
            }
        }
        for m in mounts.paths() {
            let path = self.root.join(&m);
            match self.root_dir.lstat(m.as_str()) {
                Ok(st) if st.kind() == Kind::Symlink => {
                    self.root_dir.unlink(m.as_str()).at(&path)?
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Ok(_) => {
                    return Err(Error::NotRecyclable {
                        dir: self.root.to_path_buf(),
                        why: format!("its mount path `{m}` is not a link"),
                    })
                }
                Err(e) => return Err(Error::io(path, e)),
            }
        }
        // Deepest first.
        let mut made: Vec<&[u8]> = made.iter().map(Vec::as_slice).collect();
        made.sort_by(|a, b| b.cmp(a));
        for p in made {
            self.root_dir
                .rmdir(p)
                .at(fsutil::walk::join(self.root, p))?;
        }
        Ok(())
    }
}
