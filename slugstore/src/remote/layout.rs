//! Where push puts things on a remote, and the pack index files that describe remote packs.
//!
//! ```text
//! packs/<pack-id>.pack    a pack file, byte for byte in the local pack format; <pack-id> = BLAKE3 of it
//! packs/<pack-id>.idx     the list of the pack's records (below), uploaded beside the pack
//! slugs/<slug-id>.json    a slug record (the manifest itself is an object inside some pack)
//! refs/<escaped name>     the hex id of the slug the ref points at; written last, overwritten
//! ```
//!
//! Every name but the refs' is a content hash, so every write but a ref's is create-only: two machines
//! pushing at once can only write identical bytes under the same key, and neither can replace what the
//! other wrote. A PUT is atomic (an object is listed only once all its bytes are stored), so a pack
//! whose `.pack` and `.idx` are both listed is complete: that is what push checks to skip objects, and
//! what lets an interrupted push resume. The two are uploaded side by side (the idx is small; waiting
//! for the pack before sending it would add a round trip to every push). The idx repeats what the
//! pack's record headers say, so a reader learns where every object is without downloading the packs.
//!
//! Idx format (all integers little-endian):
//!
//! ```text
//! "SLUGIDX\x01"      magic and version (8 bytes)
//! pack id   [32]     the pack this describes
//! pack_len  u64      its size in bytes
//! count     u64      number of entries
//! entry*    id[32] offset u64 codec u8 raw_len u64 stored_len u64   (57 bytes, by offset)
//! checksum  [32]     BLAKE3 of everything before it
//! ```

use crate::error::{Error, Result};
use crate::id::{ObjectId, SlugId};
use crate::store::pack::{Codec, RECORD_HEADER_LEN};

/// Magic and version at the start of an idx file.
pub const IDX_MAGIC: &[u8; 8] = b"SLUGIDX\x01";
const IDX_HEADER_LEN: usize = 8 + 32 + 8 + 8;
const IDX_ENTRY_LEN: usize = 32 + 8 + 1 + 8 + 8;

/// The directory of packs and their idx files.
pub const PACKS_DIR: &str = "packs";
/// The directory of slug records.
pub const SLUGS_DIR: &str = "slugs";
/// The directory of refs.
pub const REFS_DIR: &str = "refs";

/// The key of pack `id`.
pub fn pack_key(id: &ObjectId) -> String {
    format!("{PACKS_DIR}/{}.pack", id.to_hex())
}

/// The key of the idx of pack `id`.
pub fn idx_key(id: &ObjectId) -> String {
    format!("{PACKS_DIR}/{}.idx", id.to_hex())
}

/// The pack id of an idx key (`packs/<hex>.idx`), or `None` for any other key.
pub fn pack_of_idx_key(key: &str) -> Option<ObjectId> {
    pack_of_key(key, ".idx")
}

/// The pack id of a pack key (`packs/<hex>.pack`), or `None` for any other key.
pub fn pack_of_pack_key(key: &str) -> Option<ObjectId> {
    pack_of_key(key, ".pack")
}

fn pack_of_key(key: &str, suffix: &str) -> Option<ObjectId> {
    let hex = key
        .strip_prefix(PACKS_DIR)?
        .strip_prefix('/')?
        .strip_suffix(suffix)?;
    hex.parse().ok()
}

/// The key of the record of slug `id`.
pub fn slug_key(id: &SlugId) -> String {
    format!("{SLUGS_DIR}/{}.json", id.to_hex())
}

/// The slug of a slug record key (`slugs/<hex>.json`), or `None` for any other key.
pub fn slug_of_key(key: &str) -> Option<SlugId> {
    let hex = key
        .strip_prefix(SLUGS_DIR)?
        .strip_prefix('/')?
        .strip_suffix(".json")?;
    hex.parse().ok().map(SlugId)
}

/// The key of ref `name`. Bytes that remote keys do not allow (`_`, `=`, and a `.` starting a
/// segment) are written `=XX` with two uppercase hex digits, so `release_1` is `refs/release=5F1`.
pub fn ref_key(name: &str) -> String {
    let mut key = String::from(REFS_DIR);
    for segment in name.split('/') {
        key.push('/');
        for (i, c) in segment.char_indices() {
            let plain = c.is_ascii_alphanumeric() || "+@-".contains(c) || (c == '.' && i > 0);
            if plain {
                key.push(c);
            } else {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    key.push_str(&format!("={b:02X}"));
                }
            }
        }
    }
    key
}

/// One record of a remote pack, as listed in its idx.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdxEntry {
    /// The object.
    pub id: ObjectId,
    /// Offset of the record header in the pack.
    pub offset: u64,
    /// Encoding of the stored bytes.
    pub codec: Codec,
    /// Uncompressed length.
    pub raw_len: u64,
    /// Stored length.
    pub stored_len: u64,
}

impl IdxEntry {
    /// The byte range of the whole record (header and data) in the pack.
    pub fn record_range(&self) -> std::ops::Range<u64> {
        self.offset..self.offset + RECORD_HEADER_LEN + self.stored_len
    }
}

/// The contents of an idx file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackIdx {
    /// The pack described.
    pub pack: ObjectId,
    /// Its size in bytes.
    pub pack_len: u64,
    /// Its records, by offset.
    pub entries: Vec<IdxEntry>,
}

impl PackIdx {
    /// Encodes the idx file.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(IDX_HEADER_LEN + self.entries.len() * IDX_ENTRY_LEN + 32);
        b.extend_from_slice(IDX_MAGIC);
        b.extend_from_slice(self.pack.as_bytes());
        b.extend_from_slice(&self.pack_len.to_le_bytes());
        b.extend_from_slice(&(self.entries.len() as u64).to_le_bytes());
        for e in &self.entries {
            b.extend_from_slice(e.id.as_bytes());
            b.extend_from_slice(&e.offset.to_le_bytes());
            b.push(e.codec as u8);
            b.extend_from_slice(&e.raw_len.to_le_bytes());
            b.extend_from_slice(&e.stored_len.to_le_bytes());
        }
        let sum = blake3::hash(&b);
        b.extend_from_slice(sum.as_bytes());
        b
    }

    /// Decodes an idx file, checking its checksum, that it describes `pack`, and that its records lie
    /// inside the pack one after the other. `what` names the file in errors.
    pub fn decode(bytes: &[u8], pack: &ObjectId, what: &str) -> Result<PackIdx> {
        let bad = |detail: String| Error::format(what, detail);
        if bytes.len() < IDX_HEADER_LEN + 32 || !bytes.starts_with(IDX_MAGIC) {
            return Err(bad("not a pack idx (bad magic or too short)".into()));
        }
        let (body, sum) = bytes.split_at(bytes.len() - 32);
        if blake3::hash(body).as_bytes() != sum {
            return Err(bad("checksum mismatch".into()));
        }
        let u64_at = |i: usize| u64::from_le_bytes(body[i..i + 8].try_into().unwrap());
        let described = ObjectId::from_slice(&body[8..40]).expect("32 bytes");
        if described != *pack {
            return Err(bad(format!("describes pack {described}")));
        }
        let pack_len = u64_at(40);
        let count = u64_at(48);
        let rest = &body[IDX_HEADER_LEN..];
        if count.checked_mul(IDX_ENTRY_LEN as u64) != Some(rest.len() as u64) {
            return Err(bad(format!(
                "{count} entries do not fit in {} bytes",
                rest.len()
            )));
        }
        let mut entries = Vec::with_capacity(count as usize);
        let mut next = crate::store::pack::PACK_HEADER.len() as u64;
        for (i, e) in rest.chunks_exact(IDX_ENTRY_LEN).enumerate() {
            let u = |at: usize| u64::from_le_bytes(e[at..at + 8].try_into().unwrap());
            let entry = IdxEntry {
                id: ObjectId::from_slice(&e[..32]).expect("32 bytes"),
                offset: u(32),
                codec: Codec::from_u8(e[40])
                    .ok_or_else(|| bad(format!("entry {i}: unknown codec {}", e[40])))?,
                raw_len: u(41),
                stored_len: u(49),
            };
            let end = entry
                .stored_len
                .checked_add(RECORD_HEADER_LEN)
                .and_then(|n| n.checked_add(entry.offset));
            if entry.offset != next || end.is_none_or(|end| end > pack_len) {
                return Err(bad(format!(
                    "entry {i} (offset {}) does not follow the previous record inside the pack",
                    entry.offset
                )));
            }
            next = end.expect("checked");
            entries.push(entry);
        }
        if next != pack_len {
            return Err(bad(format!(
                "records end at {next}, the pack has {pack_len} bytes"
            )));
        }
        Ok(PackIdx {
            pack: *pack,
            pack_len,
            entries,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> PackIdx {
        let a = ObjectId::hash(b"a");
        PackIdx {
            pack: ObjectId::hash(b"pack"),
            pack_len: 12 + 49 + 10 + 49 + 3,
            entries: vec![
                IdxEntry {
                    id: a,
                    offset: 12,
                    codec: Codec::Zstd,
                    raw_len: 100,
                    stored_len: 10,
                },
                IdxEntry {
                    id: ObjectId::hash(b"b"),
                    offset: 12 + 49 + 10,
                    codec: Codec::Raw,
                    raw_len: 3,
                    stored_len: 3,
                },
            ],
        }
    }

    #[test]
    fn idx_round_trips_and_rejects_damage() {
        let idx = sample();
        let bytes = idx.encode();
        assert_eq!(PackIdx::decode(&bytes, &idx.pack, "t").unwrap(), idx);
        for i in [0, 9, 45, 60, bytes.len() - 1] {
            let mut bad = bytes.clone();
            bad[i] ^= 1;
            assert!(PackIdx::decode(&bad, &idx.pack, "t").is_err(), "byte {i}");
        }
        assert!(PackIdx::decode(&bytes, &ObjectId::hash(b"other"), "t").is_err());
        assert!(PackIdx::decode(&bytes[..bytes.len() - 1], &idx.pack, "t").is_err());
    }

    #[test]
    fn idx_with_gaps_is_refused() {
        let mut idx = sample();
        idx.entries[1].offset += 1;
        idx.pack_len += 1;
        assert!(PackIdx::decode(&idx.encode(), &idx.pack, "t").is_err());
    }

    #[test]
    fn keys() {
        let id = ObjectId::hash(b"x");
        assert_eq!(pack_of_idx_key(&idx_key(&id)), Some(id));
        assert_eq!(pack_of_idx_key(&pack_key(&id)), None);
        assert_eq!(ref_key("production"), "refs/production");
        assert_eq!(ref_key("release_1/.x"), "refs/release=5F1/=2Ex");
        for name in ["a_b", "x/.y", "a=b", "v1.2@host"] {
            crate::remote::url::check_key(&ref_key(name)).unwrap();
        }
    }
}
