//! Where a new release's unchanged files are linked from: an earlier release of the target.
//!
//! The live release is the best source (the next deploy is most like it), else the most recently
//! materialized one. Its files are indexed by (content, executable bit), so a file moved or copied
//! between paths is still linked; paths under its mounts are left out, since there the release holds a
//! link into `shared/` and a hardlink through it would tie a writable file to the new release.

use std::path::Path;

use foldhash::HashMap;

use super::layout::ReleaseLayout;
use super::mounts::{MountSpec, Mounts};
use super::target::Target;
use crate::error::{Error, IoResultExt, Result};
use crate::fsutil::dir::Dir;
use crate::id::{ObjectId, SlugId};
use crate::slug::{EntryKind, Manifest};
use crate::store::Store;

/// The mounts `layout` reads from the release at `dir`, its error naming the release.
pub(super) fn read_mounts(layout: &dyn ReleaseLayout, dir: &Path) -> Result<Vec<MountSpec>> {
    layout.mounts(dir).map_err(|source| Error::Layout {
        dir: dir.to_path_buf(),
        source,
    })
}

/// Where unchanged content can be linked from: an earlier release (its root, open) and its files by
/// content (positions in its manifest: 91k paths are not copied).
pub(super) struct LinkSource {
    pub(super) slug: SlugId,
    pub(super) root: Dir,
    manifest: Manifest,
    by_content: HashMap<(ObjectId, bool), u32>,
}

impl LinkSource {
    /// Indexes the files of release `dir` (slug `slug`). Paths under the release's mounts are left out:
    /// there the release holds a symlink into `shared/`, and linking through it would tie a writable file
    /// to the new release.
    fn new(
        slug: SlugId,
        dir: &Path,
        manifest: Manifest,
        layout: &dyn ReleaseLayout,
    ) -> Result<LinkSource> {
        let root = Dir::open(dir).at(dir)?;
        let mounts = Mounts::new(&read_mounts(layout, dir)?, &manifest)?;
        let mut by_content =
            HashMap::with_capacity_and_hasher(manifest.entries().len(), Default::default());
        for (e, at) in manifest.entries().iter().zip(0u32..) {
            if let EntryKind::File { id, executable, .. } = &e.kind {
                if !mounts.covers(&e.path) {
                    by_content.entry((*id, *executable)).or_insert(at);
                }
            }
        }
        Ok(LinkSource {
            slug,
            root,
            manifest,
            by_content,
        })
    }

    /// The path in the release of a file with this content and executable bit, if it has one.
    pub(super) fn path_of(&self, id: &ObjectId, executable: bool) -> Option<&[u8]> {
        let at = *self.by_content.get(&(*id, executable))?;
        Some(&self.manifest.entries()[at as usize].path)
    }
}

/// The release to link from: the live one, else the most recently materialized one, whose manifest the
/// store still has.
pub(super) fn predecessor(
    store: &Store,
    target: &Target,
    id: &SlugId,
    layout: &dyn ReleaseLayout,
) -> Result<Option<LinkSource>> {
    let state = target.state()?;
    let mut candidates = target.releases()?;
    candidates.retain(|c| c != id);
    let current = target.current()?;
    candidates.sort_by_key(|c| {
        let rank = state.releases.get(c).map(|r| r.materialized).unwrap_or(0);
        (Some(*c) != current, std::cmp::Reverse(rank))
    });
    for c in candidates {
        // A slug deleted from the store, or a release that cannot be opened or whose config no longer
        // parses, leaves nothing to link from; try the next release.
        let source = store
            .manifest(&c)
            .and_then(|m| LinkSource::new(c, &target.release_dir(&c), m, layout));
        if let Ok(s) = source {
            return Ok(Some(s));
        }
    }
    Ok(None)
}
