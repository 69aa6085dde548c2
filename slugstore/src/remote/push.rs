//! Push: send a slug to a remote, uploading only the objects it lacks.
//!
//! The objects the remote lacks (found by the private `have` module, from the remote's [`Catalog`])
//! are copied, still compressed, from the local packs into new packs of about [`PACK_TARGET`] bytes
//! (64 MiB), so a 100k-file slug is a few dozen large PUTs. Every object is re-hashed on the way out:
//! a damaged local object stops the push rather than spreading. The slug's manifest goes as a
//! [`patch`] against the manifest of an earlier slug that the remote holds whole (the parent, or the
//! newest of the same source), when there is one: after a 1% churn that is ~70 KB instead of ~4 MB,
//! half of what the push would send.
//!
//! The order of writes is what keeps a remote consistent for readers at any moment:
//!
//! 1. each pack and its idx, side by side (both create-only): a pack is complete once both are listed;
//! 2. the slug record, once every object is in a complete pack;
//! 3. the ref, last (the only overwrite): whoever reads a ref finds everything it names.
//!
//! A push that dies midway leaves complete packs with their idx (skipped by the next push, which
//! counts those objects as present) and perhaps packs without an idx or idx files without a pack.
//! Packs are planned deterministically (objects in local pack order, cut at the same sizes), so the
//! rerun rebuilds such a pack byte for byte, finds one of its two keys taken, and uploads the other.
//!
//! A push that fails leaves the same, and ends with its first error once the uploads in flight have
//! ended: the packs are built and sent by the private `pipeline` module, whose queue never holds a
//! build waiting once the uploads have stopped.

use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::Instant;

use bytes::Bytes;
use rayon::prelude::*;
use serde::Serialize;

use crate::error::{IoResultExt, Result};
use crate::fsutil;
use crate::id::{ObjectId, SlugId};
use crate::progress::ProgressBars;
use crate::remote::backend::{Backend, PutOutcome};
use crate::remote::catalog::{cache_idx, Catalog};
use crate::remote::layout::{self, IdxEntry, PackIdx};
use crate::remote::pipeline::build_and_upload;
use crate::remote::{have, patch, TRANSFERS};
use crate::slug::check_ref_name;
use crate::store::pack::{Codec, FinishedPack, PackWriter, RECORD_HEADER_LEN};
use crate::store::{Location, Store, IN_MEMORY_LIMIT, PACK_TARGET};

/// What a push did.
#[derive(Debug, Clone, Serialize)]
pub struct PushReport {
    /// The slug pushed.
    pub slug: SlugId,
    /// The remote, as a URL.
    pub remote: String,
    /// The remote ref set to the slug, if any.
    pub ref_name: Option<String>,
    /// Distinct objects of the slug (its manifest and file contents).
    pub objects: u64,
    /// Of those, objects the remote already had.
    pub objects_present: u64,
    /// Objects uploaded by this push.
    pub objects_uploaded: u64,
    /// Bytes of the packs uploaded by this push.
    pub pack_bytes_uploaded: u64,
    /// Every byte this push wrote to the remote: packs, idx files, slug record and ref.
    pub bytes_uploaded: u64,
    /// Packs uploaded.
    pub packs_uploaded: u64,
    /// Packs found complete on the remote already (left by an interrupted push), not sent again.
    pub packs_skipped: u64,
    /// Idx files downloaded to learn what the remote has (others came from the local cache).
    pub idx_fetched: u64,
    /// The slug whose manifest the uploaded manifest is a patch against, if it was sent as one.
    pub manifest_base: Option<SlugId>,
    /// Wall time.
    pub seconds: f64,
}

/// How to push.
#[derive(Debug, Clone)]
pub struct PushOptions {
    /// Point this remote ref at the slug once it is complete on the remote.
    pub ref_name: Option<String>,
    /// Close a pack once it grows past this many bytes.
    pub pack_size: u64,
}

impl Default for PushOptions {
    fn default() -> Self {
        PushOptions {
            ref_name: None,
            pack_size: PACK_TARGET,
        }
    }
}

/// Pushes `slug` to `backend`. `cache_dir` keeps the remote's idx files between runs (see
/// [`config::cache_dir`](super::config::cache_dir)).
pub fn push(
    store: &Store,
    slug: &SlugId,
    backend: &dyn Backend,
    cache_dir: &Path,
    opts: &PushOptions,
    bars: &dyn ProgressBars,
) -> Result<PushReport> {
    let started = Instant::now();
    let ref_name = opts.ref_name.as_deref();
    if let Some(r) = ref_name {
        check_ref_name(r)?;
    }
    let record = store.slug(slug)?;
    let (
        have::Survey {
            manifest,
            objects,
            absent,
            base,
        },
        catalog,
    ) = have::survey(store, &record, || Catalog::load(backend, cache_dir))?;
    let idx_fetched = catalog.fetched;
    // Megabytes of idx entries, freed on a pool thread while the packs are built and sent.
    rayon::spawn(move || drop(catalog));
    let located = store.locate_all(&absent)?;
    let mut missing: Vec<(ObjectId, Location)> = absent.into_iter().zip(located).collect();
    let at = missing.iter().position(|(id, _)| *id == slug.object());
    let patch = match (at, base) {
        (Some(at), Some(base)) => {
            let (id, loc) = missing.swap_remove(at);
            Some(Patch {
                id,
                loc,
                base,
                raw: &manifest,
            })
        }
        _ => None,
    };
    let manifest_base = patch.as_ref().map(|p| p.base);
    // The patch last, in a pack of its own: it takes longer to make (the base is read and the manifest
    // compressed against it) than the copies take to gather, and on its own it does not hold back
    // their upload (seen after a 1% churn: the copies' pack was on its way ~15 ms earlier; the two
    // more PUTs of a small pack cost less).
    let groups: Vec<Planned<'_>> = (plan_packs(missing, opts.pack_size).into_iter())
        .map(Planned::Copy)
        .chain(patch.map(Planned::Patch))
        .collect();

    let objects_bar = bars.counter("objects");
    objects_bar.set_length(groups.iter().map(|g| g.len() as u64).sum());
    let bytes_bar = bars.bytes("uploading");
    bytes_bar.set_length(groups.iter().map(Planned::planned_bytes).sum());
    let work_dir = store.tmp_dir().join(fsutil::temp_name("push"));
    fs::create_dir_all(&work_dir).at(&work_dir)?;
    let uploaded = AtomicU64::new(0);
    let pushed = build_and_upload(
        &groups,
        |group| {
            let pack = match group {
                Planned::Copy(objects) => build_pack(store, objects, &work_dir)?,
                Planned::Patch(p) => build_patch(store, p, &work_dir)?,
            };
            objects_bar.inc(group.len() as u64);
            Ok((pack, group.planned_bytes()))
        },
        |(pack, planned)| {
            let (idx, outcome, sent) = upload_pack(backend, cache_dir, pack)?;
            uploaded.fetch_add(sent, Ordering::Relaxed);
            bytes_bar.inc(*planned);
            Ok((idx, outcome))
        },
    );
    let _ = fs::remove_dir_all(&work_dir);
    objects_bar.finish();
    bytes_bar.finish();
    let pushed = pushed?;

    let mut report = PushReport {
        slug: *slug,
        remote: backend.url().to_string(),
        ref_name: ref_name.map(str::to_string),
        objects,
        objects_present: objects - groups.iter().map(Planned::len).sum::<usize>() as u64,
        objects_uploaded: 0,
        pack_bytes_uploaded: 0,
        bytes_uploaded: uploaded.into_inner(),
        packs_uploaded: 0,
        packs_skipped: 0,
        idx_fetched,
        manifest_base: None,
        seconds: 0.0,
    };
    for (idx, outcome) in pushed {
        if idx.entries.iter().any(|e| e.codec == Codec::Patch) {
            report.manifest_base = manifest_base;
        }
        match outcome {
            PutOutcome::Created => {
                report.packs_uploaded += 1;
                report.objects_uploaded += idx.entries.len() as u64;
                report.pack_bytes_uploaded += idx.pack_len;
            }
            PutOutcome::AlreadyExists => {
                report.packs_skipped += 1;
                report.objects_present += idx.entries.len() as u64;
            }
        }
    }

    // Every object is now in a complete pack: the record, then the ref, may name the slug.
    let record_json = serde_json::to_vec_pretty(&record).expect("slug records serialize");
    let len = record_json.len() as u64;
    if backend.put_if_absent(&layout::slug_key(slug), Bytes::from(record_json))?
        == PutOutcome::Created
    {
        report.bytes_uploaded += len;
    }
    if let Some(r) = ref_name {
        let value = format!("{}\n", slug.to_hex());
        report.bytes_uploaded += value.len() as u64;
        backend.put(&layout::ref_key(r), Bytes::from(value))?;
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

fn record_len(loc: &Location) -> u64 {
    RECORD_HEADER_LEN + loc.stored_len
}

/// The slug's manifest `id` (bytes `raw`, checked), stored locally at `loc`, to send as a patch
/// against the manifest of slug `base`.
struct Patch<'m> {
    id: ObjectId,
    loc: Location,
    base: SlugId,
    raw: &'m [u8],
}

/// One pack to build and upload.
enum Planned<'m> {
    /// Objects copied as they are stored locally, in local pack order.
    Copy(Vec<(ObjectId, Location)>),
    /// The manifest as a patch, alone in its pack.
    Patch(Patch<'m>),
}

impl Planned<'_> {
    fn len(&self) -> usize {
        match self {
            Planned::Copy(objects) => objects.len(),
            Planned::Patch(_) => 1,
        }
    }

    /// The bytes the pack would take with every object copied as stored (for the progress bar; a
    /// patch takes less).
    fn planned_bytes(&self) -> u64 {
        match self {
            Planned::Copy(objects) => objects.iter().map(|(_, l)| record_len(l)).sum(),
            Planned::Patch(p) => record_len(&p.loc),
        }
    }
}

/// Cuts the objects to send into packs: in local pack order (sequential reads, and the same cut for
/// the same objects on a rerun), closed past `pack_size` bytes. An object too large to decode in memory
/// gets a pack of its own, so that a pull can stream it from a file of its own.
///
/// A push smaller than [`TRANSFERS`] full packs is cut into up to [`TRANSFERS`] packs of at least
/// [`MIN_SPLIT`] bytes: one S3 PUT streams at a fraction of what the server takes in over several
/// connections (seen on a local RGW: ~90 MB/s for one, ~200 MB/s for four), and the packs are also
/// built on several threads; but each PUT also costs the server a fixed amount of work, so small
/// pushes are not cut finer. The cut depends only on the objects, so a rerun still cuts the same.
fn plan_packs(
    mut objects: Vec<(ObjectId, Location)>,
    pack_size: u64,
) -> Vec<Vec<(ObjectId, Location)>> {
    objects.sort_by_key(|(_, loc)| (loc.pack, loc.offset));
    let total: u64 = objects.iter().map(|(_, loc)| record_len(loc)).sum();
    let pack_size = pack_size.min(total.div_ceil(TRANSFERS as u64).max(MIN_SPLIT));
    let mut groups: Vec<Vec<(ObjectId, Location)>> = Vec::new();
    let mut current = Vec::new();
    let mut size = 0;
    for (id, loc) in objects {
        if loc.raw_len > IN_MEMORY_LIMIT {
            groups.push(vec![(id, loc)]);
            continue;
        }
        size += record_len(&loc);
        current.push((id, loc));
        if size >= pack_size {
            groups.push(std::mem::take(&mut current));
            size = 0;
        }
    }
    if !current.is_empty() {
        groups.push(current);
    }
    groups
}

/// Writes a pack of copies in `dir`, checking each object as it is copied. Objects are read and
/// checked on every thread, a slice of about [`CHECK_SLICE`] bytes at a time, and appended in order.
fn build_pack(store: &Store, objects: &[(ObjectId, Location)], dir: &Path) -> Result<FinishedPack> {
    let mut w = PackWriter::create(dir.join(fsutil::temp_name("pack")))?;
    let mut rest = objects;
    while !rest.is_empty() {
        let mut bytes = 0;
        let n = rest
            .iter()
            .take_while(|(_, loc)| {
                bytes += loc.stored_len;
                bytes <= CHECK_SLICE
            })
            .count()
            .max(1);
        let (slice, tail) = rest.split_at(n);
        let stored: Vec<Vec<u8>> = slice
            .par_iter()
            .map(|(id, loc)| store.with_verified_stored(id, loc, |data| Ok(data.to_vec())))
            .collect::<Result<_>>()?;
        for ((id, loc), data) in slice.iter().zip(stored) {
            w.append(*id, loc.codec, loc.raw_len, &data)?;
        }
        rest = tail;
    }
    Ok(w.finish_transient(dir)?
        .expect("planned packs are not empty"))
}

/// Writes a pack of one record in `dir`: the manifest as a patch against its base (read and checked),
/// or copied as stored when the patch is no smaller.
fn build_patch(store: &Store, p: &Patch<'_>, dir: &Path) -> Result<FinishedPack> {
    let base = p.base.object();
    let stored = patch::encode(&base, &store.read_object(&base)?, p.raw)?;
    let mut w = PackWriter::create(dir.join(fsutil::temp_name("pack")))?;
    if (stored.len() as u64) < p.loc.stored_len {
        w.append(p.id, Codec::Patch, p.loc.raw_len, &stored)?;
    } else {
        store.with_stored(&p.id, |loc, data| {
            w.append(p.id, loc.codec, loc.raw_len, data)
        })??;
    }
    Ok(w.finish_transient(dir)?
        .expect("a patch pack holds its record"))
}

/// The smallest pack a push cuts to spread a small upload over several connections.
const MIN_SPLIT: u64 = 8 << 20;

/// Bytes of stored objects a pack build holds in memory at once.
const CHECK_SLICE: u64 = 16 << 20;

/// Uploads a pack and its idx, side by side; returns the idx, whether the pack was new, and the bytes sent.
fn upload_pack(
    backend: &dyn Backend,
    cache_dir: &Path,
    pack: &FinishedPack,
) -> Result<(PackIdx, PutOutcome, u64)> {
    let idx = PackIdx {
        pack: pack.id,
        pack_len: pack.len,
        entries: pack
            .records
            .iter()
            .map(|r| IdxEntry {
                id: r.id,
                offset: r.offset,
                codec: r.codec,
                raw_len: r.raw_len,
                stored_len: r.stored_len,
            })
            .collect(),
    };
    let bytes = idx.encode();
    let (outcome, idx_outcome) = thread::scope(|scope| {
        let idx_put = scope.spawn(|| {
            backend.put_if_absent(&layout::idx_key(&pack.id), Bytes::from(bytes.clone()))
        });
        let outcome = backend.put_file_if_absent(&layout::pack_key(&pack.id), &pack.path);
        (
            outcome,
            idx_put.join().expect("upload threads do not panic"),
        )
    });
    let (outcome, idx_outcome) = (outcome?, idx_outcome?);
    let mut sent = 0;
    if outcome == PutOutcome::Created {
        sent += pack.len;
    }
    if idx_outcome == PutOutcome::Created {
        sent += bytes.len() as u64;
    }
    cache_idx(cache_dir, &idx, &bytes)?;
    fs::remove_file(&pack.path).at(&pack.path)?;
    Ok((idx, outcome, sent))
}
