//! Pull: fetch a slug from a remote, downloading only the objects the local store lacks.
//!
//! The remote ref (or a slug id) names the slug; its record comes from `slugs/`, its manifest and files
//! from packs found through the remote's [`Catalog`], fetched and checked by `remote::fetch` (ranged reads
//! merged into spans; every object hashed before it is stored, a mismatch fails the pull naming the
//! object and the remote pack). Nothing is indexed until every object has arrived and checked out;
//! then one index batch adds the objects, the slug record and the local ref. A pull that fails or is
//! killed leaves at most unindexed packs, which garbage collection removes; a rerun downloads the
//! objects again.

use std::collections::HashSet;
use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::id::{ObjectId, SlugId};
use crate::progress::ProgressBars;
use crate::remote::backend::Backend;
use crate::remote::catalog::Catalog;
use crate::remote::fetch::Fetcher;
use crate::remote::layout::{self, IdxEntry, PackIdx};
use crate::slug::check_ref_name;
use crate::slug::{EntryKind, Manifest, SlugRecord};
use crate::store::Store;

/// What a pull did.
#[derive(Debug, Clone, Serialize)]
pub struct PullReport {
    /// The slug pulled.
    pub slug: SlugId,
    /// The remote, as a URL.
    pub remote: String,
    /// The local ref set to the slug, if any.
    pub ref_name: Option<String>,
    /// Distinct objects of the slug (its manifest and file contents).
    pub objects: u64,
    /// Of those, objects the local store already had.
    pub objects_present: u64,
    /// Objects downloaded, checked and stored.
    pub objects_fetched: u64,
    /// Bytes downloaded from packs (record headers and gaps included).
    pub bytes_fetched: u64,
    /// Read requests made to packs.
    pub requests: u64,
    /// Idx files downloaded to learn what the remote has (others came from the local cache).
    pub idx_fetched: u64,
    /// Wall time.
    pub seconds: f64,
}

/// Pulls the slug called `name` on the remote (a remote ref, a full slug id, or an id prefix of at
/// least 4 hex digits) into `store`, and points the local ref `local_ref` at it.
pub fn pull(
    store: &Store,
    backend: &dyn Backend,
    cache_dir: &Path,
    name: &str,
    local_ref: Option<&str>,
    bars: &dyn ProgressBars,
) -> Result<PullReport> {
    let started = Instant::now();
    if let Some(r) = local_ref {
        check_ref_name(r)?;
    }
    let slug = resolve(backend, name)?;
    let record = remote_record(backend, &slug)?;
    let catalog = Catalog::load(backend, cache_dir)?;
    let writer = store.writer();
    let fetch = Fetcher::new(backend, &catalog, &writer, store);
    let manifest = if store.has_sound_object(&slug.object())? {
        store.manifest(&slug)?
    } else {
        let (pack, entry) = find(&catalog, backend, &slug.object(), "the slug's manifest")?;
        let bytes = fetch.one(pack, entry)?;
        Manifest::decode(&bytes).map_err(|e| {
            Error::format(
                format!("manifest of slug {} on {}", slug.short(12), backend.url()),
                e.to_string(),
            )
        })?
    };

    let mut seen = HashSet::from([slug.object()]);
    let mut objects = 1u64;
    let mut wanted: Vec<(&PackIdx, IdxEntry)> = Vec::new();
    for e in manifest.entries() {
        let EntryKind::File { id, .. } = &e.kind else {
            continue;
        };
        if !seen.insert(*id) {
            continue;
        }
        objects += 1;
        if store.has_sound_object(id)? {
            continue;
        }
        let what = format!("{} of slug {}", e.display_path(), slug.short(12));
        let (pack, entry) = find(&catalog, backend, id, &what)?;
        wanted.push((pack, *entry));
    }
    drop(manifest);
    fetch.many(wanted, bars)?;
    let (bytes_fetched, requests) = fetch.totals();

    let staged = writer.finish()?;
    let mut batch = store.index().batch();
    staged.stage(&mut batch)?;
    if store.index().slug(&slug)?.is_none() {
        batch.put_slug(&record);
    }
    if let Some(r) = local_ref {
        if store.index().get_ref(r)? != Some(slug) {
            batch.set_ref(r, slug, Some(format!("pull {name} from {}", backend.url())))?;
        }
    }
    batch.commit()?;
    Ok(PullReport {
        slug,
        remote: backend.url().to_string(),
        ref_name: local_ref.map(str::to_string),
        objects,
        objects_present: objects - staged.objects.len() as u64,
        objects_fetched: staged.objects.len() as u64,
        bytes_fetched,
        requests,
        idx_fetched: catalog.fetched,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Whether `name` names a slug by id (full or prefix) rather than a ref.
fn looks_like_id(name: &str) -> bool {
    (4..=64).contains(&name.len()) && name.bytes().all(|c| c.is_ascii_hexdigit())
}

/// The slug a remote ref or id (prefix) names.
pub fn resolve(backend: &dyn Backend, name: &str) -> Result<SlugId> {
    if looks_like_id(name) {
        if let Ok(id) = name.parse::<ObjectId>() {
            return Ok(SlugId(id));
        }
        let matches: Vec<SlugId> = backend
            .list(layout::SLUGS_DIR)?
            .iter()
            .filter_map(|(key, _)| layout::slug_of_key(key))
            .filter(|id| id.object().has_hex_prefix(name))
            .collect();
        return match matches.as_slice() {
            [] => Err(Error::UnknownSlug(format!("{name} on {}", backend.url()))),
            [one] => Ok(*one),
            many => Err(Error::AmbiguousSlug {
                prefix: name.to_string(),
                candidates: many.iter().map(|id| id.short(12)).collect(),
            }),
        };
    }
    check_ref_name(name)?;
    let key = layout::ref_key(name);
    let value = backend
        .get(&key)?
        .ok_or_else(|| Error::UnknownSlug(format!("{name} on {}", backend.url())))?;
    let text = std::str::from_utf8(&value).unwrap_or_default().trim();
    text.parse().map(SlugId).map_err(|_| {
        Error::format(
            format!("{}/{key}", backend.url()),
            "not a slug id".to_string(),
        )
    })
}

/// The record of `slug` on the remote.
fn remote_record(backend: &dyn Backend, slug: &SlugId) -> Result<SlugRecord> {
    let key = layout::slug_key(slug);
    let what = format!("{}/{key}", backend.url());
    let bytes = backend
        .get(&key)?
        .ok_or_else(|| Error::UnknownSlug(format!("{slug} on {}", backend.url())))?;
    let record: SlugRecord =
        serde_json::from_slice(&bytes).map_err(|e| Error::format(&what, e.to_string()))?;
    if record.id != *slug {
        return Err(Error::format(&what, format!("holds slug {}", record.id)));
    }
    Ok(record)
}

/// Where object `id` (described as `what`) is on the remote, or an error saying the remote lacks it.
fn find<'c>(
    catalog: &'c Catalog,
    backend: &dyn Backend,
    id: &ObjectId,
    what: &str,
) -> Result<(&'c PackIdx, &'c IdxEntry)> {
    catalog.find(id).ok_or_else(|| Error::Remote {
        location: backend.url().to_string(),
        source: format!("object {id} ({what}) is in no complete pack of the remote").into(),
    })
}
