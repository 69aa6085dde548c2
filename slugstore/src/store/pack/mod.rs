//! Pack files: many objects appended into one file.
//!
//! A build tree holds ~100k small files. One file per object (git's loose objects) would make every snapshot
//! create 100k files, which costs more than hashing and compressing all of their bytes. Objects are therefore
//! appended to large pack files, written once under `tmp/`, fsynced, and renamed into `packs/` under the
//! BLAKE3 of their contents. Packs are immutable after the rename; the index (RocksDB) maps each object id to
//! its pack and offset, and is only updated once the pack is durable.
//!
//! Layout: a 12-byte header (`SLUGPACK`, format version as u32 LE) followed by records. Each record is
//! `id[32] codec[1] raw_len[u64 LE] stored_len[u64 LE] data[stored_len]`. Records are self-describing, so a
//! pack can be scanned without the index (to rebuild it or to import a pack from a remote).
//!
//! This file holds the format (headers, codecs, locations, scanning records); `writer` appends records
//! to a new pack and publishes it, `file` reads an open pack with positioned reads.

mod file;
mod writer;

pub use file::PackFile;
pub use writer::{pack_path, FinishedPack, PackWriter, PendingRecord};

use crate::error::{Error, Result};
use crate::id::ObjectId;

/// Magic bytes and version at the start of every pack.
pub const PACK_HEADER: &[u8; 12] = b"SLUGPACK\x01\x00\x00\x00";
/// Size of a record header.
pub const RECORD_HEADER_LEN: u64 = 32 + 1 + 8 + 8;

/// How an object's bytes are stored in its record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Codec {
    /// Stored as-is (compression did not pay).
    Raw = 0,
    /// A zstd frame.
    Zstd = 1,
    /// A base object's id, then a zstd frame compressed against that object's bytes. Only in remote
    /// packs (see `remote::patch`); decoding needs the base.
    Patch = 2,
}

impl Codec {
    /// Decodes the codec byte.
    pub fn from_u8(b: u8) -> Option<Codec> {
        match b {
            0 => Some(Codec::Raw),
            1 => Some(Codec::Zstd),
            2 => Some(Codec::Patch),
            _ => None,
        }
    }
}

/// Where an object lives: which pack, at which offset, how it is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// The pack's id (BLAKE3 of the pack file).
    pub pack: ObjectId,
    /// Offset of the record header in the pack.
    pub offset: u64,
    /// Encoding of the stored bytes.
    pub codec: Codec,
    /// Uncompressed length.
    pub raw_len: u64,
    /// Stored (possibly compressed) length.
    pub stored_len: u64,
}

impl Location {
    /// Encoded length in the index.
    pub const ENCODED_LEN: usize = 32 + 8 + 1 + 8 + 8;

    /// Offset of the first data byte.
    pub fn data_offset(&self) -> u64 {
        self.offset + RECORD_HEADER_LEN
    }

    /// Fixed-size binary encoding for the index.
    pub fn encode(&self) -> [u8; Self::ENCODED_LEN] {
        let mut b = [0u8; Self::ENCODED_LEN];
        b[..32].copy_from_slice(self.pack.as_bytes());
        b[32..40].copy_from_slice(&self.offset.to_le_bytes());
        b[40] = self.codec as u8;
        b[41..49].copy_from_slice(&self.raw_len.to_le_bytes());
        b[49..57].copy_from_slice(&self.stored_len.to_le_bytes());
        b
    }

    /// Decodes [`Location::encode`]'s output.
    pub fn decode(b: &[u8]) -> Result<Location> {
        let bad = || {
            Error::format(
                "index entry",
                format!("bad object location of {} bytes", b.len()),
            )
        };
        if b.len() != Self::ENCODED_LEN {
            return Err(bad());
        }
        let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap());
        Ok(Location {
            pack: ObjectId::from_slice(&b[..32]).ok_or_else(bad)?,
            offset: u64_at(32),
            codec: Codec::from_u8(b[40]).ok_or_else(bad)?,
            raw_len: u64_at(41),
            stored_len: u64_at(49),
        })
    }
}

/// A record header as read from a pack.
#[derive(Debug, Clone, Copy)]
pub struct RecordHeader {
    /// Object id the record claims.
    pub id: ObjectId,
    /// Encoding.
    pub codec: Codec,
    /// Uncompressed length.
    pub raw_len: u64,
    /// Stored length.
    pub stored_len: u64,
}

impl RecordHeader {
    fn encode(&self) -> [u8; RECORD_HEADER_LEN as usize] {
        let mut b = [0u8; RECORD_HEADER_LEN as usize];
        b[..32].copy_from_slice(self.id.as_bytes());
        b[32] = self.codec as u8;
        b[33..41].copy_from_slice(&self.raw_len.to_le_bytes());
        b[41..49].copy_from_slice(&self.stored_len.to_le_bytes());
        b
    }

    /// Parses a record header from the start of `b`.
    pub fn decode(b: &[u8]) -> Option<RecordHeader> {
        if b.len() < RECORD_HEADER_LEN as usize {
            return None;
        }
        Some(RecordHeader {
            id: ObjectId::from_slice(&b[..32])?,
            codec: Codec::from_u8(b[32])?,
            raw_len: u64::from_le_bytes(b[33..41].try_into().ok()?),
            stored_len: u64::from_le_bytes(b[41..49].try_into().ok()?),
        })
    }
}

/// Iterates the records of a pack held in memory (or mapped), for scans that do not use the index.
/// Yields `(header, record offset)`; stops after the first error.
pub fn records(pack: &[u8]) -> impl Iterator<Item = Result<(RecordHeader, u64)>> + '_ {
    let mut next: Option<u64> = Some(0);
    std::iter::from_fn(move || {
        let offset = next?;
        if offset == 0 {
            if !pack.starts_with(PACK_HEADER) {
                next = None;
                return Some(Err(Error::format("pack", "missing SLUGPACK header")));
            }
            next = Some(PACK_HEADER.len() as u64);
            return records_step(pack, PACK_HEADER.len() as u64, &mut next);
        }
        records_step(pack, offset, &mut next)
    })
}

fn records_step(
    pack: &[u8],
    offset: u64,
    next: &mut Option<u64>,
) -> Option<Result<(RecordHeader, u64)>> {
    if offset == pack.len() as u64 {
        *next = None;
        return None;
    }
    *next = None;
    let Some(h) = RecordHeader::decode(&pack[offset as usize..]) else {
        return Some(Err(Error::format(
            "pack",
            format!("truncated record header at offset {offset}"),
        )));
    };
    let end = offset
        .checked_add(RECORD_HEADER_LEN + h.stored_len)
        .filter(|&e| e <= pack.len() as u64);
    let Some(end) = end else {
        return Some(Err(Error::format(
            "pack",
            format!("record at offset {offset} runs past the end"),
        )));
    };
    *next = Some(end);
    Some(Ok((h, offset)))
}
