//! Reading a whole small file in few system calls, without following symlinks or blocking on a FIFO.
//!
//! A run reads three small files per asset (the asset, its cache entry, its `.gz`), so a warm run is
//! mostly these calls: open, fstat, read until end, close. The open never follows a symlink (a `.gz`
//! that is a symlink is never "up to date", it is replaced) and never waits on a FIFO or device that
//! sits where a file was expected.

use std::fs::{File, Metadata, OpenOptions};
use std::io::{ErrorKind, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::error::{IoResultExt, Result};

/// A regular file's bytes and metadata, or `None` when nothing is there or it is not a regular file
/// (a symlink, directory, FIFO, ...).
pub fn read_regular(path: &Path) -> Result<Option<(Vec<u8>, Metadata)>> {
    let Some((file, meta)) = open_regular(path)? else {
        return Ok(None);
    };
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // Through `take`, read_to_end skips std's size probe (we have the size) and stops at the real end.
    file.take(u64::MAX).read_to_end(&mut bytes).at(path)?;
    Ok(Some((bytes, meta)))
}

/// Opens `path` for reading if it is a regular file, as [`read_regular`] decides.
pub fn open_regular(path: &Path) -> Result<Option<(File, Metadata)>> {
    let opened = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path);
    let file = match opened {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound || e.raw_os_error() == Some(libc::ELOOP) => {
            return Ok(None)
        }
        Err(e) => return Err(e).at(path),
    };
    let meta = file.metadata().at(path)?;
    Ok(meta.is_file().then_some((file, meta)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_regular_files_only() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.js");
        std::fs::write(&file, b"bytes").unwrap();
        let (bytes, meta) = read_regular(&file).unwrap().unwrap();
        assert_eq!((bytes.as_slice(), meta.len()), (&b"bytes"[..], 5));
        std::os::unix::fs::symlink(&file, dir.path().join("link")).unwrap();
        assert!(read_regular(&dir.path().join("link")).unwrap().is_none());
        assert!(read_regular(&dir.path().join("absent")).unwrap().is_none());
        assert!(read_regular(dir.path()).unwrap().is_none());
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        assert!(
            read_regular(&fifo).unwrap().is_none(),
            "a FIFO must neither block nor be read"
        );
    }
}
