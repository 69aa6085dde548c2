//! How the contents of new objects are stored: zstd at a level, or as they are.
//!
//! Compression is most of a cold snapshot's CPU time (zstd level 3: about half of it on the benchmark
//! tree), so the level is the one knob that trades write speed for store size. Every object records
//! its own codec, so a store holds objects written at any level, or uncompressed, side by side, and
//! reading never needs to know the level. See docs/benchmarks.md for what each level costs.

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

use crate::error::Error;

/// How the contents of new objects are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// As they are: the fastest to write, about twice the size for source trees.
    Off,
    /// zstd at this level ([`Compression::MIN_LEVEL`] to [`Compression::MAX_LEVEL`]); negative levels
    /// are faster than 1 and compress less.
    Zstd(i32),
}

impl Compression {
    /// The default: zstd level 3, as the zstd tool.
    pub const DEFAULT: Compression = Compression::Zstd(3);
    /// The fastest level accepted.
    pub const MIN_LEVEL: i32 = -7;
    /// The strongest level accepted (levels above need a large window, and memory, to decode).
    pub const MAX_LEVEL: i32 = 19;

    /// The zstd level, `None` when off.
    pub fn level(self) -> Option<i32> {
        match self {
            Compression::Off => None,
            Compression::Zstd(l) => Some(l),
        }
    }
}

impl Default for Compression {
    fn default() -> Self {
        Compression::DEFAULT
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Compression::Off => f.write_str("off"),
            Compression::Zstd(l) => write!(f, "{l}"),
        }
    }
}

impl FromStr for Compression {
    type Err = Error;

    /// `off`, or a zstd level from -7 to 19.
    fn from_str(s: &str) -> Result<Self, Error> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("off") {
            return Ok(Compression::Off);
        }
        match s.parse::<i32>() {
            Ok(l) if (Self::MIN_LEVEL..=Self::MAX_LEVEL).contains(&l) && l != 0 => {
                Ok(Compression::Zstd(l))
            }
            _ => Err(Error::BadValue {
                what: "compression".into(),
                value: format!("`{s}`"),
                why: format!(
                    "neither `off` nor a zstd level from {} to {} (except 0)",
                    Self::MIN_LEVEL,
                    Self::MAX_LEVEL
                ),
            }),
        }
    }
}

impl Serialize for Compression {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_off_and_levels_in_range_and_names_what_it_refuses() {
        assert_eq!("off".parse::<Compression>().unwrap(), Compression::Off);
        assert_eq!("OFF".parse::<Compression>().unwrap(), Compression::Off);
        assert_eq!("3".parse::<Compression>().unwrap(), Compression::Zstd(3));
        assert_eq!("-7".parse::<Compression>().unwrap(), Compression::Zstd(-7));
        assert_eq!("19".parse::<Compression>().unwrap(), Compression::Zstd(19));
        for bad in ["0", "20", "-8", "fast", ""] {
            let e = bad.parse::<Compression>().unwrap_err().to_string();
            assert!(e.contains(&format!("`{bad}`")), "{e}");
            assert!(e.contains("from -7 to 19"), "{e}");
        }
        assert_eq!(Compression::Zstd(-2).to_string(), "-2");
        assert_eq!(Compression::Off.to_string(), "off");
    }
}
