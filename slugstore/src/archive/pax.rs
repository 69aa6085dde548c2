//! Tar header blocks: a ustar header, preceded by a pax extended header when ustar cannot say it all.
//!
//! ustar holds names of up to 100 bytes and sizes below 8 GiB, and says nothing about encodings. A pax
//! extended header (`x` member) carries what does not fit: `path` and `linkpath` for long names, for
//! names that are not UTF-8 and for names with control characters, and `size` for huge files. Writing
//! one only when needed keeps simple archives readable by old tools.
//!
//! Values are the raw name bytes. POSIX would mark non-UTF-8 values with `hdrcharset=BINARY`, but GNU
//! tar does not know that keyword and warns about it on every extraction; GNU tar, bsdtar and Python's
//! tarfile all keep the bytes of a pax name they cannot decode, so the marker is left out.

use std::io::{self, Write};

/// Size of a tar block.
pub const BLOCK: u64 = 512;

/// The largest size a ustar header holds in octal (8 GiB - 1).
const USTAR_MAX_SIZE: u64 = 0o77_777_777_777;

/// Name given to pax extended header members (the name Python's tarfile uses).
const PAX_HEADER_NAME: &[u8] = b"././@PaxHeader";

/// One archive member's metadata, as written.
pub struct Member<'a> {
    /// Path in the archive (directories end with `/`).
    pub path: &'a [u8],
    /// The member type.
    pub kind: tar::EntryType,
    /// Permission bits.
    pub mode: u32,
    /// Data length (0 for non-files).
    pub size: u64,
    /// Link target (symlinks).
    pub link: Option<&'a [u8]>,
}

/// Bytes of zero padding after `len` bytes of data.
pub fn padding(len: u64) -> u64 {
    (BLOCK - len % BLOCK) % BLOCK
}

/// Writes the header block(s) of `m`; returns how many bytes were written.
pub fn write_header(w: &mut dyn Write, m: &Member<'_>) -> io::Result<u64> {
    let mut records = Vec::new();
    let path_fits = fits_ustar(m.path);
    let link_fits = match m.link {
        Some(l) => fits_ustar(l),
        None => true,
    };
    if !path_fits {
        push_record(&mut records, "path", m.path);
    }
    if let Some(link) = m.link.filter(|_| !link_fits) {
        push_record(&mut records, "linkpath", link);
    }
    if m.size > USTAR_MAX_SIZE {
        push_record(&mut records, "size", m.size.to_string().as_bytes());
    }
    let mut written = 0;
    if !records.is_empty() {
        let h = header(
            &Member {
                path: PAX_HEADER_NAME,
                kind: tar::EntryType::XHeader,
                mode: 0o644,
                size: records.len() as u64,
                link: None,
            },
            PAX_HEADER_NAME,
            None,
        );
        w.write_all(h.as_bytes())?;
        w.write_all(&records)?;
        let pad = padding(records.len() as u64);
        w.write_all(&[0u8; BLOCK as usize][..pad as usize])?;
        written += BLOCK + records.len() as u64 + pad;
    }
    let name = if path_fits {
        m.path.to_vec()
    } else {
        fallback(m.path)
    };
    let link = m
        .link
        .map(|l| if link_fits { l.to_vec() } else { fallback(l) });
    w.write_all(header(m, &name, link.as_deref()).as_bytes())?;
    Ok(written + BLOCK)
}

/// A ustar header for `m`, with `name` and `link` already cut to fit.
fn header(m: &Member<'_>, name: &[u8], link: Option<&[u8]>) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(m.kind);
    h.set_mode(m.mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    // Above the ustar limit the tar crate writes the size in GNU base-256, which GNU tar reads too; the
    // pax `size` record says the same for strict pax readers.
    h.set_size(m.size);
    let ustar = h.as_ustar_mut().expect("a ustar header");
    ustar.name[..name.len()].copy_from_slice(name);
    if let Some(link) = link {
        ustar.linkname[..link.len()].copy_from_slice(link);
    }
    h.set_cksum();
    h
}

/// True when `b` can go in a ustar name field as is: at most 100 bytes of UTF-8 without control
/// characters (what GNU tar itself writes there).
fn fits_ustar(b: &[u8]) -> bool {
    b.len() <= 100 && std::str::from_utf8(b).is_ok() && !b.iter().any(|&c| c < 0x20 || c == 0x7f)
}

/// The ustar name written beside a pax `path`: readers that ignore pax see a truncated ASCII version.
fn fallback(b: &[u8]) -> Vec<u8> {
    b.iter()
        .take(100)
        .map(|&c| if (0x20..0x7f).contains(&c) { c } else { b'_' })
        .collect()
}

/// The records of a pax extended header, as `(key, value)`, each read by its length prefix: a value
/// may hold any byte, a newline included (a name with a newline is exported that way), which a reader
/// that splits the header into lines, such as the `tar` crate's, gets wrong.
pub fn records(data: &[u8]) -> Records<'_> {
    Records { rest: data }
}

/// Iterator of [`records`]; stops after the first malformed record.
pub struct Records<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<(&'a [u8], &'a [u8]), &'static str>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let record = self.record();
        if record.is_err() {
            self.rest = &[];
        }
        Some(record)
    }
}

impl<'a> Records<'a> {
    fn record(&mut self) -> Result<(&'a [u8], &'a [u8]), &'static str> {
        let digits = self.rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 || digits > 19 || self.rest.get(digits) != Some(&b' ') {
            return Err("a record does not start with its length");
        }
        let len: usize = std::str::from_utf8(&self.rest[..digits])
            .ok()
            .and_then(|d| d.parse().ok())
            .ok_or("a record length is out of range")?;
        if len <= digits + 1 || len > self.rest.len() {
            return Err("a record length points outside the header");
        }
        let (record, rest) = self.rest.split_at(len);
        let body = record[digits + 1..]
            .strip_suffix(b"\n")
            .ok_or("a record does not end with a newline")?;
        let eq = body
            .iter()
            .position(|&b| b == b'=')
            .ok_or("a record has no `=`")?;
        self.rest = rest;
        Ok((&body[..eq], &body[eq + 1..]))
    }
}

/// Appends one pax record, `"<len> <key>=<value>\n"`, where `<len>` counts the whole record.
fn push_record(out: &mut Vec<u8>, key: &str, value: &[u8]) {
    let rest = key.len() + value.len() + 3;
    let mut len = rest + 1;
    while len != rest + len.to_string().len() {
        len = rest + len.to_string().len();
    }
    out.extend_from_slice(len.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(key.as_bytes());
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_lengths_count_themselves() {
        for n in [0usize, 1, 5, 6, 7, 90, 95, 96, 97, 994, 995, 996, 9993] {
            let mut out = Vec::new();
            push_record(&mut out, "path", &vec![b'a'; n]);
            let recs: Vec<_> = records(&out).collect::<Result<_, _>>().unwrap();
            assert_eq!(recs.len(), 1, "value of {n} bytes");
            assert_eq!(recs[0].1.len(), n);
            let declared: usize = std::str::from_utf8(out.split(|&c| c == b' ').next().unwrap())
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(declared, out.len());
        }
    }

    #[test]
    fn values_may_hold_newlines_and_malformed_records_are_refused() {
        let mut out = Vec::new();
        push_record(&mut out, "path", b"a\nb");
        push_record(&mut out, "linkpath", b"\n");
        let recs: Vec<_> = records(&out).collect::<Result<_, _>>().unwrap();
        assert_eq!(
            recs,
            [(&b"path"[..], &b"a\nb"[..]), (&b"linkpath"[..], &b"\n"[..])]
        );
        for bad in [
            &b"x path=a\n"[..],
            b"99 path=a\n",
            b"3 p\n",
            b"11 path=ab\0",
            b"10 pathab\n",
            b"99999999999999999999 a=b\n",
        ] {
            assert!(
                records(bad).any(|r| r.is_err()),
                "{:?}",
                bad.escape_ascii().to_string()
            );
        }
    }

    #[test]
    fn short_ascii_needs_no_pax_header() {
        let mut out = Vec::new();
        let m = Member {
            path: b"a/b.txt",
            kind: tar::EntryType::Regular,
            mode: 0o644,
            size: 3,
            link: None,
        };
        assert_eq!(write_header(&mut out, &m).unwrap(), BLOCK);
        let long = vec![b'x'; 150];
        out.clear();
        let m = Member { path: &long, ..m };
        assert_eq!(write_header(&mut out, &m).unwrap(), 3 * BLOCK);
    }
}
