//! What the last run over a directory saw, so a rerun need not read what has not changed.
//!
//! Bringing a `.gz` up to date costs reading and hashing its asset and reading the `.gz` back, even when
//! nothing changed: on a rerun over an 8k-asset `pub/static`, that is most of the time. Like git's index,
//! a run records for each asset the [`StatKey`] of the asset and of its `.gz` as it left them; the next
//! run over the same directory trusts an asset whose two keys are unchanged and does not open either
//! file. Anything that rewrites a file changes its ctime (which no user call can set back) and usually
//! its inode, so a changed asset or a replaced or edited `.gz` is read again.
//!
//! Racy files: the kernel stamps times from a clock that ticks every few milliseconds, so a file written
//! in the same tick as it was statted could change again without its key changing. An asset whose
//! ctime is later than [`RACY_MARGIN`] before the run started is therefore never trusted on the next
//! run: it is recorded, but read again. The record is derived data: a damaged or foreign file is
//! ignored (every asset is then read, as on a first run), never an error.

use foldhash::HashMap;
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long before a run a file must have last changed for the next run to trust its key.
pub const RACY_MARGIN: Duration = Duration::from_millis(50);

/// Start of a record file.
const MAGIC: &[u8; 8] = b"SLUGGZS1";

/// What identifies a file's state without reading it: device, inode, size, mtime and ctime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatKey {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i64,
    ctime_ns: i64,
}

impl StatKey {
    /// Length of the encoded key.
    const LEN: usize = 5 * 8;

    /// The key of the file `meta` describes (from `lstat`/`fstat`).
    pub fn of(meta: &Metadata) -> Self {
        StatKey {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime_ns: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
            ctime_ns: meta.ctime() * 1_000_000_000 + meta.ctime_nsec(),
        }
    }

    /// The file's size.
    pub fn size(&self) -> u64 {
        self.size
    }

    fn encode(&self, out: &mut Vec<u8>) {
        for v in [self.dev, self.ino, self.size] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for v in [self.mtime_ns, self.ctime_ns] {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }

    fn decode(b: &[u8]) -> Self {
        let u = |i: usize| u64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
        StatKey {
            dev: u(0),
            ino: u(1),
            size: u(2),
            mtime_ns: u(3) as i64,
            ctime_ns: u(4) as i64,
        }
    }
}

impl From<&crate::fsutil::dir::Stat> for StatKey {
    fn from(s: &crate::fsutil::dir::Stat) -> Self {
        StatKey {
            dev: s.dev,
            ino: s.ino,
            size: s.size,
            mtime_ns: s.mtime_ns,
            ctime_ns: s.ctime_ns,
        }
    }
}

/// An asset and its `.gz` as a run left them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pair {
    /// The asset, as statted when the run selected it.
    pub asset: StatKey,
    /// Its `.gz`, as statted once the run had brought it up to date.
    pub gz: StatKey,
}

/// The record of one run over one directory: [`Pair`]s by path relative to the directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    /// The gzip level of the run; a run at another level trusts nothing.
    level: u8,
    /// Assets whose ctime is before this (ns since the epoch) may be trusted.
    trust_before_ns: i64,
    pairs: HashMap<Vec<u8>, Pair>,
}

impl Seen {
    /// An empty record for a run at `level` that started at `start`.
    pub fn new(level: u8, start: SystemTime) -> Self {
        let cutoff = start.checked_sub(RACY_MARGIN).unwrap_or(UNIX_EPOCH);
        let trust_before_ns = cutoff
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
        Seen {
            level,
            trust_before_ns,
            pairs: HashMap::default(),
        }
    }

    /// Records `pair` for the asset at `rel`.
    pub fn insert(&mut self, rel: Vec<u8>, pair: Pair) {
        self.pairs.insert(rel, pair);
    }

    /// Number of assets recorded.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// True when nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The recorded `.gz` key of the asset at `rel`, when this record may vouch for that asset at
    /// `level` as it is now (`asset`): same level, same asset key, and the asset was not racy then.
    pub fn trusted_gz(&self, rel: &[u8], asset: &StatKey, level: u8) -> Option<StatKey> {
        let pair = self.pairs.get(rel)?;
        (self.level == level && pair.asset == *asset && asset.ctime_ns < self.trust_before_ns)
            .then_some(pair.gz)
    }

    /// The record as bytes: magic, level, cutoff, count, the pairs, then a BLAKE3 hash of all that.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + self.pairs.len() * (2 * StatKey::LEN + 64));
        out.extend_from_slice(MAGIC);
        out.push(self.level);
        out.extend_from_slice(&self.trust_before_ns.to_le_bytes());
        out.extend_from_slice(&(self.pairs.len() as u64).to_le_bytes());
        for (rel, pair) in &self.pairs {
            out.extend_from_slice(&(rel.len() as u32).to_le_bytes());
            out.extend_from_slice(rel);
            pair.asset.encode(&mut out);
            pair.gz.encode(&mut out);
        }
        let hash = blake3::hash(&out);
        out.extend_from_slice(hash.as_bytes());
        out
    }

    /// Parses [`Self::encode`]'s bytes; `None` when they are damaged or not a record.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let (body, hash) = bytes.split_at_checked(bytes.len().checked_sub(32)?)?;
        if blake3::hash(body).as_bytes() != hash {
            return None;
        }
        let mut r = Reader(body.strip_prefix(MAGIC)?);
        let level = r.take(1)?[0];
        let trust_before_ns = i64::from_le_bytes(r.take(8)?.try_into().ok()?);
        let count = u64::from_le_bytes(r.take(8)?.try_into().ok()?);
        let mut pairs = HashMap::with_capacity_and_hasher(
            usize::try_from(count).ok()?.min(1 << 20),
            Default::default(),
        );
        for _ in 0..count {
            let len = u32::from_le_bytes(r.take(4)?.try_into().ok()?) as usize;
            let rel = r.take(len)?.to_vec();
            let asset = StatKey::decode(r.take(StatKey::LEN)?);
            let gz = StatKey::decode(r.take(StatKey::LEN)?);
            pairs.insert(rel, Pair { asset, gz });
        }
        r.0.is_empty().then_some(Seen {
            level,
            trust_before_ns,
            pairs,
        })
    }
}

/// Consumes a byte slice front to back.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, tail) = self.0.split_at_checked(n)?;
        self.0 = tail;
        Some(head)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u64, ctime_ns: i64) -> StatKey {
        StatKey {
            dev: 1,
            ino: n,
            size: n * 10,
            mtime_ns: 5,
            ctime_ns,
        }
    }

    #[test]
    fn round_trips_and_rejects_damage() {
        let start = UNIX_EPOCH + Duration::from_secs(1_000);
        let mut seen = Seen::new(6, start);
        seen.insert(
            b"a.js".to_vec(),
            Pair {
                asset: key(1, 7),
                gz: key(2, 8),
            },
        );
        seen.insert(
            b"d/\xff.css".to_vec(),
            Pair {
                asset: key(3, 9),
                gz: key(4, 10),
            },
        );
        let bytes = seen.encode();
        assert_eq!(Seen::decode(&bytes), Some(seen));
        for i in [0, 9, 20, bytes.len() / 2, bytes.len() - 1] {
            let mut bad = bytes.clone();
            bad[i] ^= 1;
            assert_eq!(Seen::decode(&bad), None, "flip at {i}");
        }
        assert_eq!(Seen::decode(&bytes[..bytes.len() - 1]), None);
        assert_eq!(Seen::decode(b""), None);
    }

    #[test]
    fn trusts_only_unchanged_settled_assets_at_the_same_level() {
        let start = UNIX_EPOCH + Duration::from_secs(1_000);
        let settled = 900 * 1_000_000_000;
        let racy = (1_000 * 1_000_000_000) - 1_000_000;
        let mut seen = Seen::new(6, start);
        seen.insert(
            b"old.js".to_vec(),
            Pair {
                asset: key(1, settled),
                gz: key(2, 0),
            },
        );
        seen.insert(
            b"new.js".to_vec(),
            Pair {
                asset: key(3, racy),
                gz: key(4, 0),
            },
        );
        assert_eq!(
            seen.trusted_gz(b"old.js", &key(1, settled), 6),
            Some(key(2, 0))
        );
        assert_eq!(seen.trusted_gz(b"old.js", &key(1, settled), 9), None);
        assert_eq!(seen.trusted_gz(b"old.js", &key(1, settled + 1), 6), None);
        assert_eq!(seen.trusted_gz(b"new.js", &key(3, racy), 6), None);
        assert_eq!(seen.trusted_gz(b"other.js", &key(1, settled), 6), None);
    }
}
