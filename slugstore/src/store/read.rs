//! Reading objects back, always verified against their id.

use std::cell::RefCell;
use std::io::{Read, Write};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::id::ObjectId;
use crate::store::pack::{Codec, Location, PackFile, RecordHeader, RECORD_HEADER_LEN};
use crate::store::Store;

thread_local! {
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
    static STORED: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    static DECODED: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Objects up to this size are decoded in memory; larger ones are streamed.
pub const IN_MEMORY_LIMIT: u64 = 8 << 20;

impl Store {
    /// Where `id` is stored, or [`Error::MissingObject`].
    pub fn locate(&self, id: &ObjectId) -> Result<Location> {
        self.index().object(id)?.ok_or(Error::MissingObject(*id))
    }

    /// Where each of `ids` is stored, in the order given; an error names the first one missing.
    pub fn locate_all(&self, ids: &[ObjectId]) -> Result<Vec<Location>> {
        let found = self.index().objects_of(ids)?;
        (ids.iter().zip(found))
            .map(|(id, loc)| loc.ok_or(Error::MissingObject(*id)))
            .collect()
    }

    /// Opens the pack of the record at `loc` after checking the record lies inside it and its header
    /// matches the index.
    fn checked_pack(&self, id: &ObjectId, loc: &Location) -> Result<Arc<PackFile>> {
        let corrupt = |detail: String| Error::Corrupt { id: *id, detail };
        let pack = self.pack(&loc.pack)?;
        let end = loc.data_offset().checked_add(loc.stored_len);
        if end.is_none_or(|e| e > pack.len()) {
            return Err(corrupt(format!(
                "pack {} is shorter than the index says",
                loc.pack.short(12)
            )));
        }
        let mut raw = [0u8; RECORD_HEADER_LEN as usize];
        pack.read_exact_at(&mut raw, loc.offset)?;
        match RecordHeader::decode(&raw) {
            Some(h)
                if h.id == *id
                    && h.codec == loc.codec
                    && h.raw_len == loc.raw_len
                    && h.stored_len == loc.stored_len =>
            {
                Ok(pack)
            }
            _ => Err(corrupt(format!(
                "record header in pack {} does not match the index",
                loc.pack.short(12)
            ))),
        }
    }

    /// Calls `f` with the stored (still encoded) bytes of object `id` at `loc`, read into a per-thread
    /// buffer.
    fn with_stored_at<R>(
        &self,
        id: &ObjectId,
        loc: &Location,
        f: impl FnOnce(&[u8]) -> Result<R>,
    ) -> Result<R> {
        let pack = self.checked_pack(id, loc)?;
        let len = usize::try_from(loc.stored_len).map_err(|_| Error::TooLarge(*id))?;
        // Taken out of the thread-local for the call, so `f` may read other objects.
        let mut buf = STORED.with(|b| std::mem::take(&mut *b.borrow_mut()));
        buf.resize(len, 0);
        let result = pack
            .read_exact_at(&mut buf, loc.data_offset())
            .and_then(|()| f(&buf));
        STORED.with(|b| *b.borrow_mut() = buf);
        result
    }

    /// Reads object `id` into `out` (cleared first) and checks its hash.
    pub fn read_object_into(&self, id: &ObjectId, out: &mut Vec<u8>) -> Result<()> {
        let loc = self.locate(id)?;
        self.with_stored_at(id, &loc, |data| {
            decode_verified(id, loc.codec, loc.raw_len, data, out)
        })
    }

    /// Checks object `id`, stored at `loc` (decoding and hashing it), then hands its stored bytes,
    /// still encoded as in its pack, to `f`: for copying objects into other packs without compressing
    /// them again.
    pub fn with_verified_stored<T>(
        &self,
        id: &ObjectId,
        loc: &Location,
        f: impl FnOnce(&[u8]) -> Result<T>,
    ) -> Result<T> {
        if loc.raw_len > IN_MEMORY_LIMIT {
            self.verify_object(id)?;
            return self.with_stored_at(id, loc, f);
        }
        // One read: the bytes handed on are the bytes checked, decoded with the thread's decoder.
        self.with_stored_at(id, loc, |data| {
            DECODED.with(|out| {
                decode_verified(id, loc.codec, loc.raw_len, data, &mut out.borrow_mut())
            })?;
            f(data)
        })
    }

    /// Reads object `id` into a new buffer and checks its hash.
    pub fn read_object(&self, id: &ObjectId) -> Result<Vec<u8>> {
        let mut v = Vec::new();
        self.read_object_into(id, &mut v)?;
        Ok(v)
    }

    /// Streams object `id` into `w`, hashing on the way; returns an error *after* writing if the bytes do
    /// not match, so callers must write to a temporary place and publish only on success.
    pub fn stream_object(&self, id: &ObjectId, w: &mut dyn Write) -> Result<u64> {
        let loc = self.locate(id)?;
        let pack = self.checked_pack(id, &loc)?;
        let data = pack.reader(loc.data_offset(), loc.stored_len);
        decode_stream(id, loc.codec, loc.raw_len, data, w)?;
        Ok(loc.raw_len)
    }

    /// Calls `f` with the location of object `id` and its stored (encoded) bytes as they are in its pack,
    /// after checking the record header against the index. The bytes are not verified: callers that copy
    /// them elsewhere verify the object first.
    pub fn with_stored<R>(
        &self,
        id: &ObjectId,
        f: impl FnOnce(&Location, &[u8]) -> R,
    ) -> Result<R> {
        let loc = self.locate(id)?;
        self.with_stored_at(id, &loc, |data| Ok(f(&loc, data)))
    }

    /// Calls `f` with a reader of the stored (encoded) bytes of object `id` at `loc`, after checking the
    /// record header against the index: [`Store::with_stored`] for records too large to hold in memory.
    /// The bytes are not verified.
    pub fn with_stored_reader<R>(
        &self,
        id: &ObjectId,
        loc: &Location,
        f: impl FnOnce(&mut dyn Read) -> R,
    ) -> Result<R> {
        let pack = self.checked_pack(id, loc)?;
        let mut data = pack.reader(loc.data_offset(), loc.stored_len);
        Ok(f(&mut data))
    }

    /// Re-reads and re-hashes object `id` without keeping its bytes.
    pub fn verify_object(&self, id: &ObjectId) -> Result<()> {
        self.stream_object(id, &mut std::io::sink()).map(|_| ())
    }
}

/// Decodes the stored bytes `data` of object `id` into `out` (cleared first) and checks that they are
/// `raw_len` bytes hashing to `id`; [`Error::Corrupt`] otherwise.
pub fn decode_verified(
    id: &ObjectId,
    codec: Codec,
    raw_len: u64,
    data: &[u8],
    out: &mut Vec<u8>,
) -> Result<()> {
    out.clear();
    match codec {
        Codec::Raw => out.extend_from_slice(data),
        Codec::Zstd => {
            let cap = usize::try_from(raw_len).map_err(|_| Error::TooLarge(*id))?;
            out.reserve(cap);
            DECOMPRESSOR
                .with(|d| {
                    let mut d = d.borrow_mut();
                    let d = match d.as_mut() {
                        Some(d) => d,
                        None => d.insert(zstd::bulk::Decompressor::new()?),
                    };
                    d.decompress_to_buffer(data, out)
                })
                .map_err(|e| Error::Corrupt {
                    id: *id,
                    detail: format!("zstd: {e}"),
                })?;
        }
        Codec::Patch => return Err(patch_without_base(id)),
    }
    check_len_hash(id, raw_len, out.len() as u64, ObjectId::hash(out))
}

/// A patch record where an object must decode on its own (a local pack, or a large object).
fn patch_without_base(id: &ObjectId) -> Error {
    Error::Corrupt {
        id: *id,
        detail: "stored as a patch against another object, which only remote packs may do".into(),
    }
}

/// Checks a decoded length and hash against what object `id` must be.
pub fn check_len_hash(id: &ObjectId, raw_len: u64, len: u64, got: ObjectId) -> Result<()> {
    if len != raw_len {
        return Err(Error::Corrupt {
            id: *id,
            detail: format!("decoded {len} bytes, expected {raw_len}"),
        });
    }
    if got != *id {
        return Err(Error::Corrupt {
            id: *id,
            detail: format!("bytes hash to {}", got.short(16)),
        });
    }
    Ok(())
}

/// Decodes the stored bytes read from `data` into `w` as they stream, and checks that they are `raw_len`
/// bytes hashing to `id` ([`Error::Corrupt`] otherwise, after writing: write to a temporary place).
pub fn decode_stream(
    id: &ObjectId,
    codec: Codec,
    raw_len: u64,
    mut data: impl Read,
    w: &mut dyn Write,
) -> Result<()> {
    let mut tee = HashingWriter {
        inner: w,
        hasher: blake3::Hasher::new(),
        len: 0,
    };
    let io = match codec {
        Codec::Raw => std::io::copy(&mut data, &mut tee).map(|_| ()),
        Codec::Zstd => zstd::stream::copy_decode(data, &mut tee),
        Codec::Patch => return Err(patch_without_base(id)),
    };
    io.and_then(|_| tee.flush()).map_err(|e| Error::Corrupt {
        id: *id,
        detail: format!("decoding: {e}"),
    })?;
    check_len_hash(id, raw_len, tee.len, tee.hasher.finalize().into())
}

struct HashingWriter<'a> {
    inner: &'a mut dyn Write,
    hasher: blake3::Hasher,
    len: u64,
}

impl Write for HashingWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
