//! Pull: fetch a slug from a remote, downloading only the objects the local store lacks.
//!
//! The remote ref (or a slug id) names the slug; its record comes from `slugs/`, its manifest and files
//! from packs found through the remote's [`Catalog`]. Objects are fetched with ranged reads: the
//! records needed from one pack are merged into spans (neighbours less than [`MAX_GAP`] apart, up to
//! [`MAX_SPAN`] bytes), so a pack needed whole costs a few large reads and a pack needed for two files
//! costs two small ones. An object too large to decode in memory (alone in its pack, see push) is
//! downloaded to a file and streamed.
//!
//! The remote is not trusted: every object is decoded and hashed before it is stored, and its stored
//! bytes (still compressed) are written to new local packs only then. A mismatch fails the pull with an
//! error naming the object and the remote pack. Nothing is indexed until every object has arrived and
//! checked out; then one index batch adds the objects, the slug record and the local ref. A pull that
//! fails or is killed leaves at most unindexed packs, which garbage collection removes; a rerun
//! downloads the objects again.

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;

use crate::error::{Error, IoResultExt, Result};
use crate::fsutil;
use crate::id::{ObjectId, SlugId};
use crate::progress::{Progress, ProgressBars};
use crate::remote::backend::Backend;
use crate::remote::catalog::Catalog;
use crate::remote::layout::{self, IdxEntry, PackIdx};
use crate::remote::transfer_pool;
use crate::slug::{EntryKind, Manifest, SlugRecord};
use crate::snapshot::check_ref_name;
use crate::store::pack::{RecordHeader, RECORD_HEADER_LEN};
use crate::store::{check_len_hash, decode_verified, Codec, ObjectWriter, Store, IN_MEMORY_LIMIT};

/// Records of one pack closer than this are fetched in one read, gap included.
pub const MAX_GAP: u64 = 256 << 10;
/// Longest span fetched in one read (held in memory while it is checked).
pub const MAX_SPAN: u64 = 16 << 20;

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
    let fetch = Fetch {
        backend,
        writer: &writer,
        tmp: store.tmp_dir(),
        bytes: AtomicU64::new(0),
        requests: AtomicU64::new(0),
    };
    let manifest = if store.index().has_object(&slug.object())? {
        store.manifest(&slug)?
    } else {
        let (pack, entry) = find(&catalog, backend, &slug.object(), "the slug's manifest")?;
        let bytes = fetch.span(pack, &[*entry], None)?;
        Manifest::decode(&bytes).map_err(|e| {
            Error::format(
                format!("manifest of slug {} on {}", slug.short(12), backend.url()),
                e.to_string(),
            )
        })?
    };

    let mut seen = HashSet::from([slug.object()]);
    let mut objects = 1u64;
    let mut by_pack: BTreeMap<ObjectId, (&PackIdx, Vec<IdxEntry>)> = BTreeMap::new();
    for e in manifest.entries() {
        let EntryKind::File { id, .. } = &e.kind else {
            continue;
        };
        if !seen.insert(*id) {
            continue;
        }
        objects += 1;
        if store.index().has_object(id)? {
            continue;
        }
        let what = format!("{} of slug {}", e.display_path(), slug.short(12));
        let (pack, entry) = find(&catalog, backend, id, &what)?;
        by_pack
            .entry(pack.pack)
            .or_insert_with(|| (pack, Vec::new()))
            .1
            .push(*entry);
    }
    drop(manifest);
    let spans: Vec<(&PackIdx, Vec<IdxEntry>)> = by_pack
        .into_values()
        .flat_map(|(pack, entries)| plan_spans(entries).into_iter().map(move |s| (pack, s)))
        .collect();

    let objects_bar = bars.counter("objects");
    objects_bar.set_length(spans.iter().map(|(_, s)| s.len() as u64).sum());
    let bytes_bar = bars.bytes("downloading");
    bytes_bar.set_length(
        spans
            .iter()
            .map(|(_, s)| span_range(s).end - span_range(s).start)
            .sum(),
    );
    let bar = Bars {
        objects: &*objects_bar,
        bytes: &*bytes_bar,
    };
    let done: Result<()> = transfer_pool()?.install(|| {
        spans
            .par_iter()
            .try_for_each(|(pack, entries)| fetch.span(pack, entries, Some(&bar)).map(drop))
    });
    objects_bar.finish();
    bytes_bar.finish();
    done?;
    let (bytes_fetched, requests) = (fetch.bytes.into_inner(), fetch.requests.into_inner());

    let staged = writer.finish()?;
    let mut batch = store.index().batch();
    staged.stage(&mut batch);
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
            .filter_map(|(key, _)| {
                let hex = key.strip_prefix("slugs/")?.strip_suffix(".json")?;
                hex.parse().ok().map(SlugId)
            })
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

/// Groups the records needed from one pack into spans read in one request each.
fn plan_spans(mut entries: Vec<IdxEntry>) -> Vec<Vec<IdxEntry>> {
    entries.sort_by_key(|e| e.offset);
    let mut spans: Vec<Vec<IdxEntry>> = Vec::new();
    for e in entries {
        if let Some(last) = spans.last_mut() {
            let range = span_range(last);
            let big = |x: &IdxEntry| x.raw_len > IN_MEMORY_LIMIT;
            let joins = !big(&e)
                && !last.iter().any(big)
                && e.offset <= range.end + MAX_GAP
                && e.record_range().end - range.start <= MAX_SPAN;
            if joins {
                last.push(e);
                continue;
            }
        }
        spans.push(vec![e]);
    }
    spans
}

/// The bytes of a pack a span covers.
fn span_range(span: &[IdxEntry]) -> Range<u64> {
    span[0].offset..span[span.len() - 1].record_range().end
}

struct Bars<'a> {
    objects: &'a dyn Progress,
    bytes: &'a dyn Progress,
}

/// Downloads records into a writer, counting what it downloads.
struct Fetch<'a, 'w> {
    backend: &'a dyn Backend,
    writer: &'a ObjectWriter<'w>,
    /// Where large objects are staged.
    tmp: PathBuf,
    bytes: AtomicU64,
    requests: AtomicU64,
}

impl Fetch<'_, '_> {
    /// Fetches one span of a pack, checks each record and adds it to the writer. Returns the decoded
    /// bytes of the last object when there is no progress to report (used for the manifest, which
    /// is always decoded in memory); large objects of spans with `bars` are streamed instead.
    fn span(&self, pack: &PackIdx, span: &[IdxEntry], bars: Option<&Bars<'_>>) -> Result<Vec<u8>> {
        let key = layout::pack_key(&pack.pack);
        let location = format!("{}/{key}", self.backend.url());
        let range = span_range(span);
        self.requests.fetch_add(1, Ordering::Relaxed);
        if let (Some(b), [e]) = (bars, span) {
            if e.raw_len > IN_MEMORY_LIMIT {
                self.large(&key, &location, e)?;
                b.objects.inc(1);
                b.bytes.inc(range.end - range.start);
                return Ok(Vec::new());
            }
        }
        let bytes = self
            .backend
            .get_range(&key, range.clone())?
            .ok_or_else(|| gone(&location))?;
        self.bytes.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        let mut out = Vec::new();
        for e in span {
            let at = (e.offset - range.start) as usize;
            let record = &bytes[at..at + (RECORD_HEADER_LEN + e.stored_len) as usize];
            check_header(e, record, &location)?;
            let data = &record[RECORD_HEADER_LEN as usize..];
            decode_verified(&e.id, e.codec, e.raw_len, data, &mut out)
                .map_err(|err| in_pack(err, &location))?;
            self.writer.add_encoded(e.id, e.codec, e.raw_len, data)?;
            if let Some(b) = bars {
                b.objects.inc(1);
            }
        }
        if let Some(b) = bars {
            b.bytes.inc(range.end - range.start);
        }
        Ok(out)
    }

    /// Fetches an object too large for memory: the pack goes to a file, the object is decoded from
    /// it to another while hashed, and stored from there once it checks out.
    fn large(&self, key: &str, location: &str, e: &IdxEntry) -> Result<()> {
        let pack_path = self.tmp.join(fsutil::temp_name("pull-pack"));
        let raw_path = self.tmp.join(fsutil::temp_name("pull-object"));
        let result = (|| {
            let size = self
                .backend
                .get_to_file(key, &pack_path)?
                .ok_or_else(|| gone(location))?;
            self.bytes.fetch_add(size, Ordering::Relaxed);
            let mut f = File::open(&pack_path).at(&pack_path)?;
            let mut header = [0u8; RECORD_HEADER_LEN as usize];
            f.seek(SeekFrom::Start(e.offset))
                .and_then(|_| f.read_exact(&mut header))
                .at(&pack_path)?;
            check_header(e, &header, location)?;
            let mut out = HashingFile {
                file: BufWriter::with_capacity(1 << 20, File::create(&raw_path).at(&raw_path)?),
                hasher: blake3::Hasher::new(),
                len: 0,
            };
            let mut data = f.take(e.stored_len);
            let copied = match e.codec {
                Codec::Raw => std::io::copy(&mut data, &mut out).map(drop),
                Codec::Zstd => zstd::stream::copy_decode(data, &mut out),
            };
            copied
                .and_then(|_| out.file.flush())
                .map_err(|err| Error::Corrupt {
                    id: e.id,
                    detail: format!("in remote pack {location}: decoding: {err}"),
                })?;
            check_len_hash(&e.id, e.raw_len, out.len, out.hasher.finalize().into())
                .map_err(|err| in_pack(err, location))?;
            drop(out);
            self.writer.add_file_streaming(e.id, &raw_path, e.raw_len)
        })();
        let _ = fs::remove_file(&pack_path);
        let _ = fs::remove_file(&raw_path);
        result.map(drop)
    }
}

fn gone(location: &str) -> Error {
    Error::Remote {
        location: location.to_string(),
        source: "the pack is gone (was the remote pruned meanwhile?)".into(),
    }
}

/// Checks that a record's header says what the idx says.
fn check_header(e: &IdxEntry, record: &[u8], location: &str) -> Result<()> {
    match RecordHeader::decode(record) {
        Some(h)
            if h.id == e.id
                && h.codec == e.codec
                && h.raw_len == e.raw_len
                && h.stored_len == e.stored_len =>
        {
            Ok(())
        }
        _ => Err(Error::Corrupt {
            id: e.id,
            detail: format!(
                "in remote pack {location} at offset {}: the record header does not match the pack's idx",
                e.offset
            ),
        }),
    }
}

/// Adds the remote pack to a corruption error's detail.
fn in_pack(err: Error, location: &str) -> Error {
    match err {
        Error::Corrupt { id, detail } => Error::Corrupt {
            id,
            detail: format!("in remote pack {location}: {detail}"),
        },
        e => e,
    }
}

/// A file writer that hashes what goes through it.
struct HashingFile {
    file: BufWriter<File>,
    hasher: blake3::Hasher,
    len: u64,
}

impl Write for HashingFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}
