//! The gzip encoder and the compression level.
//!
//! The deflate implementation was chosen by measurement (`cargo run --release --example gzip_speed`, and
//! the `gzip` criterion bench): at level 6 on web assets, libdeflate compresses faster than zlib-rs, zlib-ng,
//! system zlib and the gzip program, and its output is standard gzip. libdeflate works on whole buffers,
//! which suits static assets (a few MiB at most).
//!
//! Output is deterministic: libdeflate writes a fixed 10-byte header (no file name, MTIME 0, XFL from the
//! level, OS 255 "unknown"), so the same bytes at the same level always give the same `.gz`, on any
//! machine, with the libdeflate version pinned by the lock file.

use std::cell::RefCell;
use std::fmt;
use std::str::FromStr;

use libdeflater::{CompressionLvl, Compressor};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A gzip compression level, 0-9 as for `gzip -N`; 0 disables compression.
///
/// Deserializes from a number or a numeric string (`SCD_COMPRESSION_LEVEL: "4"` in an app's
/// `variables.env`), rejecting anything out of range with an error naming the value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "LevelRepr", into = "u32")]
pub struct Level(u8);

impl Level {
    /// Highest level.
    pub const MAX: u32 = 9;
    /// The level that turns compression off.
    pub const DISABLED: Level = Level(0);
    /// The platform's default during the build phase.
    pub const BUILD_DEFAULT: Level = Level(6);
    /// The platform's default during the deploy phase.
    pub const DEPLOY_DEFAULT: Level = Level(4);

    /// Checks that `n` is in 0-9.
    pub fn new(n: u32) -> Result<Self> {
        if n <= Self::MAX {
            Ok(Level(n as u8))
        } else {
            Err(out_of_range(n))
        }
    }

    /// The number, 0-9.
    pub fn get(self) -> u32 {
        u32::from(self.0)
    }

    /// True for level 0.
    pub fn is_disabled(self) -> bool {
        self.0 == 0
    }
}

/// The error for a level above [`Level::MAX`] (or below 0).
fn out_of_range(n: impl fmt::Display) -> Error {
    Error::BadValue {
        what: "compression level".into(),
        value: n.to_string(),
        why: "out of range: use 0-9 (0 disables compression)".into(),
    }
}

impl Default for Level {
    fn default() -> Self {
        Self::BUILD_DEFAULT
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for Level {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let n = s.trim().parse::<u32>().map_err(|_| Error::BadValue {
            what: "compression level".into(),
            value: format!("`{s}`"),
            why: "not a number: use 0-9 (0 disables compression)".into(),
        })?;
        Level::new(n)
    }
}

impl From<Level> for u32 {
    fn from(level: Level) -> u32 {
        level.get()
    }
}

/// What a level may be written as in configuration.
#[derive(Deserialize)]
#[serde(untagged)]
enum LevelRepr {
    Number(i64),
    Text(String),
}

impl TryFrom<LevelRepr> for Level {
    type Error = Error;
    fn try_from(repr: LevelRepr) -> Result<Self> {
        match repr {
            LevelRepr::Number(n) => match u32::try_from(n) {
                Ok(n) => Level::new(n),
                Err(_) => Err(out_of_range(n)),
            },
            LevelRepr::Text(s) => s.parse(),
        }
    }
}

thread_local! {
    /// One compressor per level and thread: allocating one costs more than compressing a small asset.
    static COMPRESSORS: RefCell<[Option<Compressor>; 10]> = const { RefCell::new([const { None }; 10]) };
}

/// Compresses `data` into one gzip member at `level`.
///
/// # Panics
/// If `level` is 0: a disabled level compresses nothing, the caller checks [`Level::is_disabled`].
pub fn encode(data: &[u8], level: Level) -> Vec<u8> {
    assert!(!level.is_disabled(), "gzip::encode called with level 0");
    COMPRESSORS.with(|cell| {
        let mut slots = cell.borrow_mut();
        let compressor = slots[level.0 as usize].get_or_insert_with(|| {
            Compressor::new(CompressionLvl::new(level.get() as i32).expect("levels 1-9 are valid"))
        });
        let mut out = vec![0; compressor.gzip_compress_bound(data.len())];
        let n = compressor
            .gzip_compress(data, &mut out)
            .expect("the output buffer has the size libdeflate asked for");
        out.truncate(n);
        out
    })
}

/// Length of the gzip header libdeflate writes, and of the trailer (CRC-32 and size).
const HEADER_LEN: usize = 10;
const TRAILER_LEN: usize = 8;

/// True when `gz` looks like one gzip member of `data`: magic, deflate method, and a trailer whose CRC-32
/// and size match `data`.
///
/// A cheap guard (CRC-32 runs at memory speed) against a damaged or mismatched cache entry: it catches
/// truncation and mix-ups, not a forged deflate stream.
pub fn is_member_of(gz: &[u8], data: &[u8]) -> bool {
    if gz.len() < HEADER_LEN + TRAILER_LEN || gz[..3] != [0x1f, 0x8b, 0x08] {
        return false;
    }
    let trailer = &gz[gz.len() - TRAILER_LEN..];
    let crc = u32::from_le_bytes(trailer[..4].try_into().expect("4 bytes"));
    let size = u32::from_le_bytes(trailer[4..].try_into().expect("4 bytes"));
    size == data.len() as u32 && crc == libdeflater::crc32(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_outside_0_to_9_are_refused_with_the_value() {
        for n in 0..=9 {
            assert_eq!(Level::new(n).unwrap().get(), n);
        }
        let err = Level::new(10).unwrap_err().to_string();
        assert!(err.contains("10"), "{err}");
        let err = "-1".parse::<Level>().unwrap_err().to_string();
        assert!(err.contains("-1"), "{err}");
        assert_eq!(" 4 ".parse::<Level>().unwrap(), Level::DEPLOY_DEFAULT);
    }

    #[test]
    fn levels_deserialize_from_numbers_and_strings() {
        let n: Level = serde_json::from_str("4").unwrap();
        let s: Level = serde_json::from_str("\"7\"").unwrap();
        assert_eq!((n.get(), s.get()), (4, 7));
        let err = serde_json::from_str::<Level>("12").unwrap_err().to_string();
        assert!(err.contains("12"), "{err}");
        assert!(serde_json::from_str::<Level>("-3")
            .unwrap_err()
            .to_string()
            .contains("-3"));
        assert_eq!(serde_json::to_string(&Level::BUILD_DEFAULT).unwrap(), "6");
    }

    #[test]
    fn header_is_fixed_and_output_is_deterministic() {
        let data = b"function f() { return 1; }\n".repeat(50);
        let a = encode(&data, Level::BUILD_DEFAULT);
        let b = encode(&data, Level::BUILD_DEFAULT);
        assert_eq!(a, b);
        // ID1 ID2 CM FLG(no name) MTIME=0 XFL=0 OS=255
        assert_eq!(a[..10], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
        assert!(a.len() < data.len());
        assert!(is_member_of(&a, &data));
        assert!(!is_member_of(&a, &data[1..]));
        assert!(!is_member_of(&a[..a.len() - 1], &data));
        assert!(!is_member_of(&[], &data));
    }

    #[test]
    fn higher_levels_differ_only_where_gzip_says_so() {
        let data = b"a".repeat(1000);
        let fast = encode(&data, Level::new(1).unwrap());
        let best = encode(&data, Level::new(9).unwrap());
        assert_eq!(fast[8], 4, "XFL: fastest");
        assert_eq!(best[8], 2, "XFL: slowest");
    }
}
