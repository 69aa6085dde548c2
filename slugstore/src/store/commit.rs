//! Committing a manifest as a slug: the one place where a tree becomes visible in a store.
//!
//! Every way of making a slug (snapshotting a directory, importing an archive, pulling from a remote)
//! ends the same way: store the manifest as an object, make the packs durable, then write in *one* index
//! batch the object locations, the slug record and the ref. Until that batch lands nothing of the new
//! slug is visible, so an operation killed at any moment leaves at most unreferenced packs, never a slug
//! whose objects are missing.

use std::collections::BTreeMap;

use crate::error::Result;
use crate::id::SlugId;
use crate::slug::{check_ref_name, now_created, Manifest, SlugRecord};
use crate::store::{Batch, ObjectWriter, Staged, Store};

/// What is recorded with a new slug besides its tree.
#[derive(Debug, Clone, Default)]
pub struct SlugMeta {
    /// Point this ref at the slug (its previous slug becomes the parent of a new slug).
    pub ref_name: Option<String>,
    /// A free-form message, also used as the reason of the ref change.
    pub message: Option<String>,
    /// Free-form labels.
    pub labels: BTreeMap<String, String>,
    /// Where the tree came from, for humans.
    pub source: Option<String>,
    /// Reason recorded in the ref history when there is no message (`snapshot`, `import`).
    pub action: &'static str,
}

/// What [`commit_manifest`] did.
#[derive(Debug)]
pub struct Committed {
    /// The slug id.
    pub slug: SlugId,
    /// False when the store already had this exact slug.
    pub new_slug: bool,
    /// The objects the writer stored (the manifest included).
    pub staged: Staged,
}

/// zstd level of manifest objects (see [`ObjectWriter::add_at_level`]).
pub const MANIFEST_LEVEL: i32 = 1;

/// Stores `manifest` through `writer` and commits it, with every object the writer holds, as a slug.
///
/// `extra` may add its own changes to the same atomic batch, knowing the slug's id (the snapshot's
/// stat-cache updates and watcher token).
pub fn commit_manifest(
    store: &Store,
    writer: ObjectWriter<'_>,
    manifest: &Manifest,
    meta: &SlugMeta,
    extra: impl FnOnce(&mut Batch<'_>, &SlugId) -> Result<()>,
) -> Result<Committed> {
    if let Some(r) = &meta.ref_name {
        check_ref_name(r)?;
    }
    let (manifest_id, _) = writer.add_at_level(&manifest.encode(), MANIFEST_LEVEL)?;
    let slug = SlugId(manifest_id);
    let staged = writer.finish()?;
    let existing = store.index().slug(&slug)?;
    let mut batch = store.index().batch();
    staged.stage(&mut batch)?;
    if existing.is_none() {
        let parent = match &meta.ref_name {
            Some(r) => store.index().get_ref(r)?.filter(|p| *p != slug),
            None => None,
        };
        let (created, created_nanos) = now_created();
        batch.put_slug(&SlugRecord {
            id: slug,
            created,
            created_nanos,
            message: meta.message.clone(),
            parent,
            labels: meta.labels.clone(),
            source: meta.source.clone(),
            stats: manifest.stats(),
        });
    }
    if let Some(r) = &meta.ref_name {
        if store.index().get_ref(r)? != Some(slug) {
            let reason = meta.message.clone().unwrap_or_else(|| meta.action.into());
            batch.set_ref(r, slug, Some(reason))?;
        }
    }
    extra(&mut batch, &slug)?;
    batch.commit()?;
    Ok(Committed {
        slug,
        new_slug: existing.is_none(),
        staged,
    })
}
