//! The canonical encoding of a manifest: one tree, one byte string, so that its hash can be the
//! slug's id.
//!
//! Encoding (`varint` is LEB128, unsigned):
//!
//! ```text
//! "SLUGMAN" 0x01                      magic and version
//! varint count                        number of entries
//! per entry:
//!   varint shared                     bytes shared with the previous entry's path
//!   varint suffix_len, suffix         the rest of the path
//!   u8 kind                           0 directory, 1 regular file, 2 symlink
//!   varint mode                       0o755 (dir, executable file), 0o644 (file), 0o777 (symlink)
//!   file:    varint size, id[32]      size and BLAKE3 of the content
//!   symlink: varint len, target       the link target, stored as-is
//! ```
//!
//! Decoding refuses every other spelling of the same tree (non-minimal varints, a shared prefix
//! shorter than possible, a mode other than the kind's), as it would give the tree a second id.

use super::validate::check;
use super::{bad, Entry, EntryKind, Manifest, MODE_EXEC};
use crate::error::Result;
use crate::id::ObjectId;

const MAGIC: &[u8; 8] = b"SLUGMAN\x01";

impl Manifest {
    /// The canonical bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.entries.len() * 48);
        out.extend_from_slice(MAGIC);
        put_varint(&mut out, self.entries.len() as u64);
        let mut prev: &[u8] = &[];
        for e in &self.entries {
            let shared = prev.iter().zip(&e.path).take_while(|(a, b)| a == b).count();
            put_varint(&mut out, shared as u64);
            put_bytes(&mut out, &e.path[shared..]);
            match &e.kind {
                EntryKind::Dir => {
                    out.push(0);
                    put_varint(&mut out, e.mode() as u64);
                }
                EntryKind::File { size, id, .. } => {
                    out.push(1);
                    put_varint(&mut out, e.mode() as u64);
                    put_varint(&mut out, *size);
                    out.extend_from_slice(id.as_bytes());
                }
                EntryKind::Symlink { target } => {
                    out.push(2);
                    put_varint(&mut out, e.mode() as u64);
                    put_bytes(&mut out, target);
                }
            }
            prev = &e.path;
        }
        out
    }

    /// The content ids of the files in manifest `bytes`, in entry order (repeats included), without
    /// building the entries: for walking what a slug needs (push, gc) over a manifest that was
    /// validated when it entered the store. Only the structure is checked, not the paths.
    pub fn file_ids(bytes: &[u8]) -> Result<Vec<ObjectId>> {
        let mut r = Reader { b: bytes, pos: 0 };
        if r.take(MAGIC.len())? != MAGIC {
            return Err(bad("not a slug manifest (bad magic)"));
        }
        let count = r.varint()?;
        let mut ids = Vec::new();
        for i in 0..count {
            r.varint()?;
            r.bytes()?;
            let kind = r.u8()?;
            r.varint()?;
            match kind {
                0 => {}
                1 => {
                    r.varint()?;
                    ids.push(ObjectId::from_slice(r.take(32)?).expect("32 bytes"));
                }
                2 => {
                    r.bytes()?;
                }
                k => return Err(bad(format!("entry {i}: unknown kind {k}"))),
            }
        }
        Ok(ids)
    }

    /// Decodes and validates canonical bytes.
    pub fn decode(bytes: &[u8]) -> Result<Manifest> {
        let mut r = Reader { b: bytes, pos: 0 };
        if r.take(MAGIC.len())? != MAGIC {
            return Err(bad("not a slug manifest (bad magic)"));
        }
        let count = r.varint()?;
        // Each entry takes at least 4 bytes: refuse counts the input cannot hold before allocating.
        if count > (bytes.len() as u64) / 4 {
            return Err(bad(format!(
                "claims {count} entries in {} bytes",
                bytes.len()
            )));
        }
        let mut entries: Vec<Entry> = Vec::with_capacity(count as usize);
        for i in 0..count {
            let shared = r.varint()? as usize;
            let prev = entries.last().map(|e| e.path.as_slice()).unwrap_or(&[]);
            if shared > prev.len() {
                return Err(bad(format!(
                    "entry {i}: shares {shared} bytes with a {}-byte path",
                    prev.len()
                )));
            }
            let suffix = r.bytes()?;
            // Canonical: the shared prefix is the longest one (the suffix starts where they differ).
            if shared < prev.len() && suffix.first() == Some(&prev[shared]) {
                return Err(bad("not in canonical form"));
            }
            let mut path = Vec::with_capacity(shared + suffix.len());
            path.extend_from_slice(&prev[..shared]);
            path.extend_from_slice(suffix);
            let kind_byte = r.u8()?;
            let mode = r.varint()?;
            let kind = match kind_byte {
                0 => EntryKind::Dir,
                1 => {
                    let size = r.varint()?;
                    let id = ObjectId::from_slice(r.take(32)?).expect("32 bytes");
                    EntryKind::File {
                        size,
                        id,
                        executable: mode == MODE_EXEC as u64,
                    }
                }
                2 => EntryKind::Symlink {
                    target: r.bytes()?.to_vec(),
                },
                k => return Err(bad(format!("entry {i}: unknown kind {k}"))),
            };
            let entry = Entry { path, kind };
            if entry.mode() as u64 != mode {
                return Err(bad(format!(
                    "entry {}: mode {mode:o} is not canonical",
                    entry.display_path()
                )));
            }
            entries.push(entry);
        }
        if r.pos != bytes.len() {
            return Err(bad(format!("{} trailing bytes", bytes.len() - r.pos)));
        }
        check(&entries)?;
        // One tree, one encoding: non-minimal varints, shorter-than-possible shared prefixes and
        // non-canonical modes were refused above, as they would give the same tree a second id.
        Ok(Manifest { entries })
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.b.len());
        let end = end.ok_or_else(|| bad(format!("truncated at byte {}", self.pos)))?;
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn varint(&mut self) -> Result<u64> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            // Canonical (minimal) form only: no trailing zero group, no bits past the 64th.
            if (shift > 0 && b == 0) || (shift == 63 && b > 1) {
                return Err(bad(format!(
                    "not in canonical form (varint at byte {})",
                    self.pos - 1
                )));
            }
            v |= ((b & 0x7f) as u64) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(bad(format!("varint too long at byte {}", self.pos)))
    }

    fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.varint()?;
        self.take(usize::try_from(n).map_err(|_| bad("length overflows"))?)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{dir, file};
    use super::super::TreeStats;
    use super::*;

    #[test]
    fn round_trip_is_canonical_and_order_independent() {
        let entries = vec![
            file("a/x.php", b"<?php", false),
            dir("a"),
            Entry {
                path: b"a/l".to_vec(),
                kind: EntryKind::Symlink {
                    target: b"../../etc/passwd".to_vec(),
                },
            },
            file("bin", b"#!/bin/sh", true),
            Entry {
                path: b"a/\xff\xfe".to_vec(),
                kind: EntryKind::Dir,
            },
        ];
        let m = Manifest::new(entries.clone()).unwrap();
        let mut rev = entries;
        rev.reverse();
        let m2 = Manifest::new(rev).unwrap();
        assert_eq!(m.encode(), m2.encode());
        assert_eq!(m.id(), m2.id());
        let d = Manifest::decode(&m.encode()).unwrap();
        assert_eq!(d, m);
        assert_eq!(
            d.stats(),
            TreeStats {
                files: 2,
                dirs: 2,
                symlinks: 1,
                bytes: 14
            }
        );
    }

    #[test]
    fn every_truncation_and_trailing_byte_is_refused() {
        let m = Manifest::new(vec![dir("d"), file("d/f", b"hello", false)]).unwrap();
        let bytes = m.encode();
        for n in 0..bytes.len() {
            assert!(
                Manifest::decode(&bytes[..n]).is_err(),
                "truncated at {n} accepted"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(Manifest::decode(&longer).is_err());
    }

    #[test]
    fn file_ids_lists_the_files_contents_in_order() {
        let m = Manifest::new(vec![
            dir("d"),
            file("d/f", b"one", false),
            file("d/g", b"two", true),
            file("e", b"one", false),
        ])
        .unwrap();
        let ids = Manifest::file_ids(&m.encode()).unwrap();
        assert_eq!(
            ids,
            vec![
                ObjectId::hash(b"one"),
                ObjectId::hash(b"two"),
                ObjectId::hash(b"one")
            ]
        );
        assert!(Manifest::file_ids(&m.encode()[..20]).is_err());
    }

    #[test]
    fn non_canonical_encodings_are_refused() {
        let m = Manifest::new(vec![dir("d"), file("d/f", b"hello", false)]).unwrap();
        let bytes = m.encode();
        // Second entry: share 0 bytes instead of 2 ("d/"), spelling the whole path out.
        let mut longer_suffix = bytes[..8 + 1 + 1 + 1 + 1 + 1 + 1].to_vec(); // magic, count, dir entry
        longer_suffix.extend_from_slice(&[0, 3, b'd', b'/', b'f']);
        let rest_start = 8 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1;
        longer_suffix.extend_from_slice(&bytes[rest_start..]);
        assert_eq!(
            Manifest::decode(&longer_suffix)
                .err()
                .map(|e| e.to_string().contains("canonical")),
            Some(true)
        );
        // A non-minimal varint for the entry count (2 written as 0x82 0x00).
        let mut padded = bytes[..8].to_vec();
        padded.extend_from_slice(&[0x82, 0x00]);
        padded.extend_from_slice(&bytes[9..]);
        assert!(Manifest::decode(&padded).is_err());
    }
}
