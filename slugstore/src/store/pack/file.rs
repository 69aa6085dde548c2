//! Reading an open pack: positioned reads of records, whole or streamed.

use std::fs::File;
use std::io::Read;
use std::path::PathBuf;

use super::PACK_HEADER;
use crate::error::{Error, IoResultExt, Result};

/// An open, immutable pack read with positioned reads (`pread`).
///
/// Packs are not memory-mapped: a restore touches every page of every pack, and mapped pages count
/// toward the process's resident set, which would then grow with the store instead of staying bounded.
#[derive(Debug)]
pub struct PackFile {
    file: File,
    len: u64,
    path: PathBuf,
}

impl PackFile {
    /// Opens the pack at `path` and checks its header.
    pub fn open(path: PathBuf) -> Result<PackFile> {
        use std::os::unix::fs::FileExt;
        let file = File::open(&path).at(&path)?;
        let len = file.metadata().at(&path)?.len();
        let mut header = [0u8; PACK_HEADER.len()];
        // Object reads check their record headers and bytes; the pack header is checked here, once per
        // open, so damage to it is reported too instead of going unnoticed.
        if file.read_exact_at(&mut header, 0).is_err() || &header != PACK_HEADER {
            return Err(Error::format(
                path.display().to_string(),
                "damaged pack: missing SLUGPACK header",
            ));
        }
        Ok(PackFile { file, len, path })
    }

    /// The pack's size in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True for a pack holding nothing, not even a header (never the case for an opened pack).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Fills `buf` from `offset`.
    pub fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        use std::os::unix::fs::FileExt;
        self.file.read_exact_at(buf, offset).at(&self.path)
    }

    /// A reader of `len` bytes from `offset`, for streaming large records.
    pub fn reader(&self, offset: u64, len: u64) -> impl Read + '_ {
        PackReader {
            pack: self,
            pos: offset,
            end: offset + len,
        }
    }
}

struct PackReader<'a> {
    pack: &'a PackFile,
    pos: u64,
    end: u64,
}

impl Read for PackReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let want = buf.len().min((self.end - self.pos) as usize);
        if want == 0 {
            return Ok(0);
        }
        let n = self.pack.file.read_at(&mut buf[..want], self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}
