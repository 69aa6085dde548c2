//! Directory listings in the stat cache: what a directory held when a scan last read it, so that the
//! next scan need not read it again while it is unchanged.
//!
//! Reading a directory costs an `openat`, two `getdents64` and a `close`; statting it costs one call.
//! A directory's mtime and ctime change whenever an entry is created, removed or renamed in it (not when
//! a file in it is edited in place: files are still statted one by one), so a listing is valid while
//! the directory's inode, mtime and ctime are those recorded. Like a file's stat-cache entry, a listing
//! is recorded only when the directory's mtime is older than the scan by the racy margin: a change in
//! the same timestamp tick as the read would leave the times unchanged.
//!
//! A listing lives in the `stat` family beside the files' entries, keyed by the tree key, a `0x00`
//! byte and the directory's path (`b""` for the root): no file's path starts with `0x00`, so a tree's
//! listings are one range of keys, read before the walk starts, and its files' entries the next one,
//! read while the walk runs. The value: inode (u64), mtime and ctime (i64 ns), mode (u32), all little-endian, then
//! for each entry in directory order: its kind (`d`, `f`, `l`, `s`), its name (u16 length + bytes) and,
//! for a symlink, its target (u16 length + bytes). A symlink's target cannot change without a new
//! entry (and so new directory times), which is why it can be kept here.

use crate::error::{Error, Result};
use crate::fsutil::dir::{Kind, Stat};

use super::{Batch, TreeKey, TABLE_MIN};

const HEADER: usize = 8 + 8 + 8 + 4;

/// A directory's recorded listing (its raw encoding, read lazily).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirListing(Box<[u8]>);

/// One entry of a [`DirListing`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listed<'a> {
    /// The entry's name.
    pub name: &'a [u8],
    /// What it is.
    pub kind: Kind,
    /// A symlink's target (empty for other kinds).
    pub target: &'a [u8],
}

impl DirListing {
    /// Starts the listing of a directory whose status, taken before reading it, is `st`:
    /// [`ListingBuilder::push`] each entry, then [`ListingBuilder::finish`].
    pub fn builder(st: &Stat) -> ListingBuilder {
        let mut b = Vec::with_capacity(HEADER + 256);
        b.extend_from_slice(&st.ino.to_le_bytes());
        b.extend_from_slice(&st.mtime_ns.to_le_bytes());
        b.extend_from_slice(&st.ctime_ns.to_le_bytes());
        b.extend_from_slice(&st.mode.to_le_bytes());
        ListingBuilder(b)
    }

    /// True when the directory's status `st` is the one recorded: same inode, times and mode.
    pub fn matches(&self, st: &Stat) -> bool {
        let b = &self.0;
        u64::from_le_bytes(b[0..8].try_into().expect("8 bytes")) == st.ino
            && i64::from_le_bytes(b[8..16].try_into().expect("8 bytes")) == st.mtime_ns
            && i64::from_le_bytes(b[16..24].try_into().expect("8 bytes")) == st.ctime_ns
            && u32::from_le_bytes(b[24..28].try_into().expect("4 bytes")) == st.mode
    }

    /// The recorded entries, in directory order.
    pub fn entries(&self) -> impl Iterator<Item = Listed<'_>> {
        let mut rest = &self.0[HEADER..];
        std::iter::from_fn(move || {
            let (&tag, tail) = rest.split_first()?;
            let (name, tail) = take(tail);
            let kind = match tag {
                b'd' => Kind::Dir,
                b'f' => Kind::File,
                b'l' => Kind::Symlink,
                _ => Kind::Special,
            };
            let (target, tail) = match kind {
                Kind::Symlink => take(tail),
                _ => (&tail[..0], tail),
            };
            rest = tail;
            Some(Listed { name, kind, target })
        })
    }

    /// The encoded value.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Checks an encoded value (every length in bounds) and takes it.
    pub fn decode(b: &[u8]) -> Result<DirListing> {
        let bad = || Error::format("index", "bad directory listing in the stat cache");
        if b.len() < HEADER {
            return Err(bad());
        }
        let mut rest = &b[HEADER..];
        while let Some((&tag, tail)) = rest.split_first() {
            rest = skip(tail).ok_or_else(bad)?;
            match tag {
                b'l' => rest = skip(rest).ok_or_else(bad)?,
                b'd' | b'f' | b's' => {}
                _ => return Err(bad()),
            }
        }
        Ok(DirListing(b.into()))
    }
}

/// Builds a [`DirListing`] as a directory is read.
pub struct ListingBuilder(Vec<u8>);

impl ListingBuilder {
    /// Adds an entry (`target`: a symlink's, ignored for other kinds).
    pub fn push(&mut self, name: &[u8], kind: Kind, target: &[u8]) {
        self.0.push(match kind {
            Kind::Dir => b'd',
            Kind::File => b'f',
            Kind::Symlink => b'l',
            Kind::Special => b's',
        });
        put(&mut self.0, name);
        if kind == Kind::Symlink {
            put(&mut self.0, target);
        }
    }

    /// The listing.
    pub fn finish(self) -> DirListing {
        DirListing(self.0.into_boxed_slice())
    }
}

fn put(b: &mut Vec<u8>, s: &[u8]) {
    // Names are at most 255 bytes and link targets at most PATH_MAX (4096).
    b.extend_from_slice(&(s.len() as u16).to_le_bytes());
    b.extend_from_slice(s);
}

/// Splits a length-prefixed string off `b`; [`DirListing::decode`] checked the bounds.
fn take(b: &[u8]) -> (&[u8], &[u8]) {
    let n = u16::from_le_bytes([b[0], b[1]]) as usize;
    (&b[2..2 + n], &b[2 + n..])
}

fn skip(b: &[u8]) -> Option<&[u8]> {
    let n = u16::from_le_bytes([*b.first()?, *b.get(1)?]) as usize;
    b.get(2 + n..)
}

/// The key of the listing of directory `rel` (`b""`: the root) of `tree`.
pub(super) fn listing_key(tree: &TreeKey, rel: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(16 + 1 + rel.len());
    k.extend_from_slice(tree);
    k.push(0);
    k.extend_from_slice(rel);
    k
}

impl Batch<'_> {
    /// Writes the listings of directories of `tree`; `listings` must be sorted by path, without
    /// duplicates.
    pub fn put_listings(
        &mut self,
        tree: &TreeKey,
        listings: &[(Vec<u8>, DirListing)],
    ) -> Result<()> {
        if listings.len() < TABLE_MIN {
            for (rel, l) in listings {
                self.inner
                    .put_cf(self.index.cf("stat"), listing_key(tree, rel), l.as_bytes());
            }
            return Ok(());
        }
        let rows = listings
            .iter()
            .map(|(rel, l)| (listing_key(tree, rel), l.as_bytes()));
        self.put_table("stat", rows)
    }

    /// Removes a directory's listing.
    pub fn delete_listing(&mut self, tree: &TreeKey, rel: &[u8]) {
        self.inner
            .delete_cf(self.index.cf("stat"), listing_key(tree, rel));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(ino: u64) -> Stat {
        Stat {
            dev: 1,
            ino,
            size: 4096,
            mode: 0o40755,
            mtime_ns: 1_700_000_000_123_456_789,
            ctime_ns: -5,
        }
    }

    #[test]
    fn a_listing_reads_back_its_entries_and_matches_only_its_status() {
        let mut b = DirListing::builder(&stat(7));
        b.push(b"a.php", Kind::File, b"ignored");
        b.push(b"current", Kind::Symlink, b"../releases/x");
        b.push(b"sub", Kind::Dir, b"");
        b.push(b"\xffodd", Kind::Special, b"");
        let l = DirListing::decode(b.finish().as_bytes()).unwrap();
        let got: Vec<_> = l.entries().map(|e| (e.name, e.kind, e.target)).collect();
        assert_eq!(
            got,
            vec![
                (&b"a.php"[..], Kind::File, &b""[..]),
                (b"current", Kind::Symlink, b"../releases/x"),
                (b"sub", Kind::Dir, b""),
                (b"\xffodd", Kind::Special, b""),
            ]
        );
        assert!(l.matches(&stat(7)));
        assert!(!l.matches(&stat(8)));
        let mut touched = stat(7);
        touched.ctime_ns += 1;
        assert!(!l.matches(&touched));
        let mut chmod = stat(7);
        chmod.mode = 0o40700;
        assert!(!l.matches(&chmod));
    }

    #[test]
    fn a_truncated_or_unknown_listing_is_refused() {
        let mut b = DirListing::builder(&stat(1));
        b.push(b"link", Kind::Symlink, b"target");
        let bytes = b.finish().as_bytes().to_vec();
        for cut in 0..bytes.len() {
            if cut != HEADER {
                assert!(DirListing::decode(&bytes[..cut]).is_err(), "cut at {cut}");
            }
        }
        let mut odd = bytes.clone();
        odd[HEADER] = b'x';
        assert!(DirListing::decode(&odd).is_err());
        assert!(DirListing::decode(&bytes).is_ok());
    }
}
