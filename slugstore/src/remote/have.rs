//! What a push must send: the objects of a slug that the remote lacks.
//!
//! The plain way asks the remote's [`Catalog`] about every object of the slug: after a 1% change,
//! a hundred thousand lookups in a map of the remote's hundred thousand objects (built first) to
//! find a thousand. When the remote holds an earlier slug that this store has too, there is a
//! shorter way. Its record is on the remote, so every object it names is in a complete pack (push
//! writes the record only then); only the files whose content differs from that slug's at the same
//! path can be missing. One merge pass over the two manifests (both sorted by path) finds them, and
//! the catalog is asked about those alone, in one pass over its idx entries.
//!
//! That slug, the *base*, is also the one the manifest is sent as a [`patch`] against, so it must
//! be one whose manifest the remote holds whole. Candidates, in order: the slug's parent, then slugs
//! of the same source, newest first. The parent's manifest is read while the remote is surveyed.

use std::path::Path;
use std::thread;

use crate::error::{Error, Result};
use crate::id::{ObjectId, SlugId};
use crate::remote::backend::Backend;
use crate::remote::catalog::Catalog;
use crate::remote::{layout, patch};
use crate::slug::{Manifest, SlugRecord};
use crate::store::pack::Codec;
use crate::store::Store;

/// How many earlier slugs are considered as the base.
const BASE_CANDIDATES: usize = 16;

/// An earlier slug that the remote holds, with its manifest stored whole there.
pub(super) struct Base {
    pub id: SlugId,
    /// Its manifest's bytes (read from the local store, checked).
    pub manifest: Vec<u8>,
}

/// What the remote has of a slug.
pub(super) struct Survey {
    /// The slug's manifest bytes (checked).
    pub manifest: Vec<u8>,
    /// The remote's complete packs.
    pub catalog: Catalog,
    /// Distinct objects of the slug, its manifest included, when they had to be counted to find
    /// the absent ones (the caller counts them otherwise, see [`Store::manifest_objects`]).
    pub objects: Option<u64>,
    /// Those the remote lacks.
    pub absent: Vec<ObjectId>,
    /// The base found, if any.
    pub base: Option<Base>,
}

/// Reads the slug's manifest, learns what the remote holds, and finds the objects it lacks.
pub(super) fn survey(
    store: &Store,
    record: &SlugRecord,
    backend: &dyn Backend,
    cache_dir: &Path,
) -> Result<Survey> {
    let slug = record.id;
    let candidates = candidates(store, record)?;
    // Local reads and the remote's listings are independent; the likeliest base is read beside them.
    let ((manifest, likely), remote) = rayon::join(
        || {
            rayon::join(
                || store.read_object(&slug.object()),
                || (candidates.first()).and_then(|c| store.read_object(&c.object()).ok()),
            )
        },
        || remote_state(backend, cache_dir),
    );
    let (manifest, (catalog, remote_slugs)) = (manifest?, remote?);
    let len = manifest.len() as u64;
    let base = choose_base(store, &candidates, likely, &catalog, &remote_slugs, len);
    let (objects, absent) = match &base {
        Some(base) => {
            let changed = Manifest::changed_ids(&base.manifest, &manifest).map_err(|e| {
                Error::Invalid(format!(
                    "comparing the manifest of slug {} with that of {}: {e}",
                    slug.short(12),
                    base.id.short(12)
                ))
            })?;
            let mut maybe: foldhash::HashSet<ObjectId> = changed.into_iter().collect();
            maybe.insert(slug.object());
            let present = catalog.entries_of(&maybe);
            let absent = maybe.into_iter().filter(|id| !present.contains_key(id));
            (None, absent.collect())
        }
        None => {
            let all = Store::manifest_objects(&slug, &manifest)?;
            let absent = all.iter().filter(|id| !catalog.has(id)).copied();
            (Some(all.len() as u64), absent.collect())
        }
    };
    Ok(Survey {
        manifest,
        catalog,
        objects,
        absent,
        base,
    })
}

/// The remote's complete packs and the slugs it has a record of (two listings at once).
fn remote_state(
    backend: &dyn Backend,
    cache_dir: &Path,
) -> Result<(Catalog, foldhash::HashSet<SlugId>)> {
    thread::scope(|s| {
        let slugs = s.spawn(|| backend.list(layout::SLUGS_DIR));
        let catalog = Catalog::load(backend, cache_dir)?;
        let slugs = slugs.join().expect("listing does not panic")?;
        let slugs = slugs.iter().filter_map(|(key, _)| layout::slug_of_key(key));
        Ok((catalog, slugs.collect()))
    })
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
            std::cmp::Reverse(r.created),
        )
    });
    Ok(all.iter().take(BASE_CANDIDATES).map(|r| r.id).collect())
}

/// The first candidate whose record the remote has, whose manifest it holds whole (not itself a
/// patch, so a reader needs at most one more object) and small enough to patch a manifest of `len`
/// bytes against, and whose manifest reads back good here. `likely` is the first candidate's, read
/// already.
fn choose_base(
    store: &Store,
    candidates: &[SlugId],
    mut likely: Option<Vec<u8>>,
    catalog: &Catalog,
    remote_slugs: &foldhash::HashSet<SlugId>,
    len: u64,
) -> Option<Base> {
    let manifests = candidates.iter().map(|c| c.object()).collect();
    let entries = catalog.entries_of(&manifests);
    for (i, c) in candidates.iter().enumerate() {
        let whole = matches!(entries.get(&c.object()),
            Some(e) if e.codec != Codec::Patch && patch::fits(e.raw_len, len));
        if !whole || !remote_slugs.contains(c) {
            continue;
        }
        let manifest = match i {
            0 => likely.take(),
            _ => store.read_object(&c.object()).ok(),
        };
        if let Some(manifest) = manifest {
            return Some(Base { id: *c, manifest });
        }
    }
    None
}
