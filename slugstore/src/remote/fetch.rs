//! Fetching objects from a remote's packs, for [`pull`](super::pull) and for
//! [`repair`](crate::verify::repair).
//!
//! Objects are fetched with ranged reads: the records needed from one pack are merged into spans
//! (neighbours less than [`MAX_GAP`] apart, up to [`MAX_SPAN`] bytes), so a pack needed whole costs a
//! few large reads and a pack needed for two files costs two small ones. An object too large to decode
//! in memory (alone in its pack, see push) is downloaded to a file and streamed.
//!
//! The remote is not trusted: every object is decoded and hashed before its stored bytes (still
//! compressed) go to the writer; a mismatch is an error naming the object and the remote pack. A
//! [`patch`] is decoded against its base (from the local store when it has a good copy,
//! else fetched whole from the remote, not stored) and the object stored compressed on its own.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufWriter, Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;

use crate::error::{Error, IoResultExt, Result};
use crate::fsutil;
use crate::id::ObjectId;
use crate::progress::{Progress, ProgressBars};
use crate::remote::backend::Backend;
use crate::remote::catalog::Catalog;
use crate::remote::layout::{self, IdxEntry, PackIdx};
use crate::remote::{patch, transfer_pool};
use crate::store::pack::{Codec, RecordHeader, RECORD_HEADER_LEN};
use crate::store::{
    check_len_hash, decode_stream, decode_verified, ObjectWriter, Store, IN_MEMORY_LIMIT,
};

/// Records of one pack closer than this are fetched in one read, gap included.
pub const MAX_GAP: u64 = 256 << 10;
/// Longest span fetched in one read (held in memory while it is checked).
pub const MAX_SPAN: u64 = 16 << 20;

/// Groups the records needed from one pack into spans read in one request each.
fn plan_spans(mut entries: Vec<IdxEntry>) -> Vec<Vec<IdxEntry>> {
    entries.sort_by_key(|e| e.offset);
    let mut spans: Vec<Vec<IdxEntry>> = Vec::new();
    for e in entries {
        if let Some(last) = spans.last_mut() {
            let range = span_range(last);
            let joins = !streamed(&e)
                && !last.iter().any(streamed)
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

/// Whether a record is too large to decode in memory (and is streamed through files). Patches are
/// always decoded in memory: their size is bounded by [`patch::fits`].
fn streamed(e: &IdxEntry) -> bool {
    e.raw_len > IN_MEMORY_LIMIT && e.codec != Codec::Patch
}

/// The bytes of a pack a span covers.
fn span_range(span: &[IdxEntry]) -> Range<u64> {
    span[0].offset..span[span.len() - 1].record_range().end
}

struct Bars<'a> {
    objects: &'a dyn Progress,
    bytes: &'a dyn Progress,
}

/// Downloads records of a remote's packs into a writer, counting what it downloads.
pub(crate) struct Fetcher<'a, 'w> {
    backend: &'a dyn Backend,
    catalog: &'a Catalog,
    store: &'a Store,
    writer: &'a ObjectWriter<'w>,
    /// Where large objects are staged.
    tmp: PathBuf,
    bytes: AtomicU64,
    requests: AtomicU64,
}

impl<'a, 'w> Fetcher<'a, 'w> {
    /// A fetcher from `backend`, whose packs `catalog` lists, into `writer`, staging large objects in
    /// `store`'s temporary directory and reading the bases of patches from `store` when it has them.
    pub fn new(
        backend: &'a dyn Backend,
        catalog: &'a Catalog,
        writer: &'a ObjectWriter<'w>,
        store: &'a Store,
    ) -> Self {
        Fetcher {
            backend,
            catalog,
            store,
            writer,
            tmp: store.tmp_dir(),
            bytes: AtomicU64::new(0),
            requests: AtomicU64::new(0),
        }
    }

    /// Fetches one object (a manifest), checks and stores it, and returns its decoded bytes.
    pub fn one(&self, pack: &PackIdx, entry: &IdxEntry) -> Result<Vec<u8>> {
        self.span(pack, &[*entry], None)
    }

    /// Fetches every wanted record, merged into spans per pack, on the transfer pool, with progress
    /// bars for objects and bytes.
    pub fn many<'c>(
        &self,
        wanted: impl IntoIterator<Item = (&'c PackIdx, IdxEntry)>,
        bars: &dyn ProgressBars,
    ) -> Result<()> {
        let mut by_pack: BTreeMap<ObjectId, (&PackIdx, Vec<IdxEntry>)> = BTreeMap::new();
        for (pack, entry) in wanted {
            by_pack
                .entry(pack.pack)
                .or_insert_with(|| (pack, Vec::new()))
                .1
                .push(entry);
        }
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
                .try_for_each(|(pack, entries)| self.span(pack, entries, Some(&bar)).map(drop))
        });
        objects_bar.finish();
        bytes_bar.finish();
        done
    }

    /// Bytes downloaded and read requests made so far.
    pub fn totals(&self) -> (u64, u64) {
        (
            self.bytes.load(Ordering::Relaxed),
            self.requests.load(Ordering::Relaxed),
        )
    }

    /// Fetches one span of a pack, checks each record and adds it to the writer. Returns the decoded
    /// bytes of the last object when there is no progress to report (used for the manifest, which
    /// is always decoded in memory); large objects of spans with `bars` are streamed instead.
    fn span(&self, pack: &PackIdx, span: &[IdxEntry], bars: Option<&Bars<'_>>) -> Result<Vec<u8>> {
        let key = layout::pack_key(&pack.pack);
        let location = format!("{}/{key}", self.backend.url());
        let range = span_range(span);
        if let (Some(b), [e]) = (bars, span) {
            if streamed(e) {
                self.requests.fetch_add(1, Ordering::Relaxed);
                self.large(&key, &location, e)?;
                b.objects.inc(1);
                b.bytes.inc(range.end - range.start);
                return Ok(Vec::new());
            }
        }
        let bytes = self.read(&key, &location, range.clone())?;
        let mut out = Vec::new();
        for e in span {
            let at = (e.offset - range.start) as usize;
            let record = &bytes[at..at + (RECORD_HEADER_LEN + e.stored_len) as usize];
            check_header(e, record, &location)?;
            let data = &record[RECORD_HEADER_LEN as usize..];
            if e.codec == Codec::Patch {
                self.unpatch(e, data, &mut out)
                    .map_err(|err| in_pack(err, &location))?;
                self.writer.add_with_id(e.id, &out)?;
            } else {
                decode_verified(&e.id, e.codec, e.raw_len, data, &mut out)
                    .map_err(|err| in_pack(err, &location))?;
                self.writer.add_encoded(e.id, e.codec, e.raw_len, data)?;
            }
            if let Some(b) = bars {
                b.objects.inc(1);
            }
        }
        if let Some(b) = bars {
            b.bytes.inc(range.end - range.start);
        }
        Ok(out)
    }

    /// Decodes patch record `e` (stored bytes `data`) into `out` and checks its hash. The base comes
    /// from the local store when it has a good copy, else from the remote, where it must be whole.
    fn unpatch(&self, e: &IdxEntry, data: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let corrupt = |detail: String| Error::Corrupt { id: e.id, detail };
        let base = patch::base_of(data).ok_or_else(|| corrupt("patch without a base".into()))?;
        let base_bytes = match self.store.read_object(&base).ok() {
            Some(bytes) => bytes,
            None => {
                let Some((pack, entry)) = self.catalog.find(&base) else {
                    return Err(corrupt(format!(
                        "a patch against object {base}, which is neither here nor on the remote"
                    )));
                };
                if entry.codec == Codec::Patch {
                    return Err(corrupt(format!(
                        "a patch against object {base}, itself a patch"
                    )));
                }
                self.whole(pack, entry)?
            }
        };
        patch::decode(&e.id, data, &base_bytes, e.raw_len, out)?;
        check_len_hash(&e.id, e.raw_len, out.len() as u64, ObjectId::hash(out))
    }

    /// Fetches and checks one object of the remote (the base of a patch) without storing it.
    fn whole(&self, pack: &PackIdx, e: &IdxEntry) -> Result<Vec<u8>> {
        let key = layout::pack_key(&pack.pack);
        let location = format!("{}/{key}", self.backend.url());
        let record = self.read(&key, &location, e.record_range())?;
        check_header(e, &record, &location)?;
        let mut out = Vec::new();
        decode_verified(
            &e.id,
            e.codec,
            e.raw_len,
            &record[RECORD_HEADER_LEN as usize..],
            &mut out,
        )
        .map_err(|err| in_pack(err, &location))?;
        Ok(out)
    }

    /// Reads `range` of the pack at `key` (described as `location`), counting the request and bytes.
    fn read(&self, key: &str, location: &str, range: Range<u64>) -> Result<bytes::Bytes> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let bytes = self
            .backend
            .get_range(key, range)?
            .ok_or_else(|| gone(location))?;
        self.bytes.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        Ok(bytes)
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
            let mut out = BufWriter::with_capacity(1 << 20, File::create(&raw_path).at(&raw_path)?);
            decode_stream(&e.id, e.codec, e.raw_len, f.take(e.stored_len), &mut out)
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
