//! What a push must send: the objects of a slug that the remote lacks, and the base to send its
//! manifest as a patch against.
//!
//! Both sides are about a hundred thousand objects: the slug's (from its manifest) and the remote's
//! (from its idx files). The slug's objects go into a map as the manifest is read; the remote's idx
//! entries are then looked up in it, in one pass that marks what the remote has. This builds one map
//! instead of two (the remote's objects are not mapped: [`Catalog`] maps them only when asked where
//! one is), and the two reads overlap.
//!
//! The base is an earlier slug whose manifest the remote holds whole (not itself a [`patch`], so a
//! reader needs at most one more object) and that this store has: the slug's parent, then slugs of the
//! same source, newest first.

use crate::error::Result;
use crate::id::{ObjectId, SlugId};
use crate::remote::catalog::Catalog;
use crate::remote::patch;
use crate::slug::SlugRecord;
use crate::store::pack::Codec;
use crate::store::Store;

/// How many earlier slugs are considered as the base.
const BASE_CANDIDATES: usize = 16;

/// What the remote has of a slug.
pub(super) struct Survey {
    /// The slug's manifest bytes (checked).
    pub manifest: Vec<u8>,
    /// Distinct objects of the slug, its manifest included.
    pub objects: u64,
    /// Those the remote lacks, in manifest order.
    pub absent: Vec<ObjectId>,
    /// The manifest to send the slug's manifest as a patch against, if any.
    pub base: Option<SlugId>,
}

/// Reads the slug's manifest and the remote's `catalog` (loaded by `catalog`, beside the read), and
/// finds the objects the remote lacks.
pub(super) fn survey(
    store: &Store,
    record: &SlugRecord,
    catalog: impl FnOnce() -> Result<Catalog> + Send,
) -> Result<(Survey, Catalog)> {
    let slug = record.id;
    let (wanted, catalog) = rayon::join(
        || -> Result<_> {
            let manifest = store.read_object(&slug.object())?;
            let wanted = Store::manifest_object_index(&slug, &manifest)?;
            Ok((manifest, wanted))
        },
        catalog,
    );
    let ((manifest, (ids, index)), catalog) = (wanted?, catalog?);
    let mut present = vec![false; ids.len()];
    for e in catalog.entries() {
        if let Some(&i) = index.get(&e.id) {
            present[i as usize] = true;
        }
    }
    let absent = (ids.iter().zip(present))
        .filter(|(_, present)| !present)
        .map(|(id, _)| *id)
        .collect();
    let base = choose_base(store, record, &catalog, manifest.len() as u64)?;
    let survey = Survey {
        manifest,
        objects: ids.len() as u64,
        absent,
        base,
    };
    Ok((survey, catalog))
}

/// The first candidate whose manifest the remote holds whole, small enough to patch a manifest of
/// `len` bytes against, and that this store has.
fn choose_base(
    store: &Store,
    record: &SlugRecord,
    catalog: &Catalog,
    len: u64,
) -> Result<Option<SlugId>> {
    let candidates = candidates(store, record)?;
    let manifests = candidates.iter().map(|c| c.object()).collect();
    let entries = catalog.entries_of(&manifests);
    for c in candidates {
        let whole = matches!(entries.get(&c.object()),
            Some(e) if e.codec != Codec::Patch && patch::fits(e.raw_len, len));
        if whole && store.index().has_object(&c.object())? {
            return Ok(Some(c));
        }
    }
    Ok(None)
}

/// Earlier slugs of this store that could serve as the base, best first: the parent, then slugs of
/// the same source, newest first.
fn candidates(store: &Store, record: &SlugRecord) -> Result<Vec<SlugId>> {
    let mut all: Vec<SlugRecord> = (store.slugs()?.into_iter())
        .filter(|r| r.id != record.id)
        .collect();
    all.sort_by_key(|r| {
        (
            Some(r.id) != record.parent,
            r.source != record.source,
            std::cmp::Reverse(r.creation_order()),
        )
    });
    Ok(all.iter().take(BASE_CANDIDATES).map(|r| r.id).collect())
}
