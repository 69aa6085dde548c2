//! Content addresses.
//!
//! Every object in a store — a file's bytes, a slug's manifest, a cached `.gz` — is named by the BLAKE3
//! hash of its uncompressed bytes. [`ObjectId`] is that hash as a type, so a raw `[u8; 32]` never travels
//! through the API unlabeled (the habit of `gix-hash`). A [`SlugId`] is the [`ObjectId`] of a slug's
//! canonical manifest bytes: the same tree always has the same slug id.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The BLAKE3 hash of an object's uncompressed bytes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ObjectId([u8; 32]);

/// Hashes the first 8 bytes only: they are already uniformly distributed (a BLAKE3 output), and sets of
/// ~100k ids (the objects a slug needs, the objects a remote holds) are hashed on every push, pull and
/// gc. Equality still compares all 32 bytes.
impl std::hash::Hash for ObjectId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(u64::from_le_bytes(self.0[..8].try_into().expect("8 bytes")));
    }
}

impl ObjectId {
    /// Length of an id in bytes.
    pub const LEN: usize = 32;

    /// Hashes `bytes` and returns their id.
    pub fn hash(bytes: &[u8]) -> Self {
        Self(*blake3::hash(bytes).as_bytes())
    }

    /// Wraps a raw hash.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Reads an id from a slice of exactly [`ObjectId::LEN`] bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; 32]>::try_from(bytes).ok().map(Self)
    }

    /// The raw hash bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lowercase hex, 64 characters.
    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push(HEX[(b >> 4) as usize] as char);
            s.push(HEX[(b & 15) as usize] as char);
        }
        s
    }

    /// The first `n` hex characters, for display.
    pub fn short(&self, n: usize) -> String {
        let mut s = self.to_hex();
        s.truncate(n.min(64));
        s
    }

    /// True when the lowercase hex form of this id starts with `prefix`.
    pub fn has_hex_prefix(&self, prefix: &str) -> bool {
        self.to_hex().starts_with(&prefix.to_ascii_lowercase())
    }
}

impl From<blake3::Hash> for ObjectId {
    fn from(h: blake3::Hash) -> Self {
        Self(*h.as_bytes())
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Error parsing a hex id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a 64-character hex object id")]
pub struct ParseIdError(pub String);

impl FromStr for ObjectId {
    type Err = ParseIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseIdError(s.to_string());
        if s.len() != 64 {
            return Err(err());
        }
        let mut out = [0u8; 32];
        for (i, pair) in s.as_bytes().chunks(2).enumerate() {
            let hi = hex_val(pair[0]).ok_or_else(err)?;
            let lo = hex_val(pair[1]).ok_or_else(err)?;
            out[i] = (hi << 4) | lo;
        }
        Ok(Self(out))
    }
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectId({})", self.short(16))
    }
}

impl Serialize for ObjectId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for ObjectId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The id of a slug: the [`ObjectId`] of its canonical manifest bytes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SlugId(pub ObjectId);

impl SlugId {
    /// The manifest object's id.
    pub fn object(&self) -> ObjectId {
        self.0
    }
    /// Lowercase hex, 64 characters.
    pub fn to_hex(&self) -> String {
        self.0.to_hex()
    }
    /// The first `n` hex characters, for display.
    pub fn short(&self, n: usize) -> String {
        self.0.short(n)
    }
}

impl fmt::Display for SlugId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for SlugId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SlugId({})", self.0.short(16))
    }
}

impl FromStr for SlugId {
    type Err = ParseIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(SlugId)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        let id = ObjectId::hash(b"hello");
        assert_eq!(id.to_hex().len(), 64);
        assert_eq!(id.to_hex().parse::<ObjectId>().unwrap(), id);
        assert_eq!(id.to_hex(), blake3::hash(b"hello").to_hex().as_str());
        assert!(id.has_hex_prefix(&id.short(7).to_uppercase()));
        assert!("zz".parse::<ObjectId>().is_err());
        assert!("g".repeat(64).parse::<ObjectId>().is_err());
    }
}
