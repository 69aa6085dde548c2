//! Crash-safe file writes: a temporary file beside the destination, fsynced, then moved in place.
//!
//! Every file a backend writes (a `file://` remote's objects, an object downloaded from S3) goes
//! through here, so a crash or a full disk leaves either the old file or the complete new one,
//! never a truncated one under the final name. Two ways to publish:
//! - [`TempFile::persist`] renames over the destination (last writer wins: refs, downloads);
//! - [`TempFile::persist_new`] hard-links to the destination, which fails if it already exists,
//!   so of several concurrent writers of one name exactly one creates it and the others learn it
//!   was there: the filesystem's own create-only primitive, with no window in which a reader sees
//!   a partial file.
//!
//! Temporary names come from [`crate::fsutil::temp_sibling`] and start with `.`; remote keys may
//! not start a segment with `.`, so a temporary file never shadows an object and listings skip
//! them.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use crate::error::{IoResultExt, Result};
use crate::fsutil::{sync_dir, temp_sibling};

/// A file being written beside its final destination; removed on drop unless persisted.
#[derive(Debug)]
pub(crate) struct TempFile {
    file: Option<File>,
    path: PathBuf,
    dest: PathBuf,
}

impl TempFile {
    /// Creates a new empty temporary file in `dest`'s directory, creating that directory if
    /// needed.
    pub(crate) fn beside(dest: &Path) -> Result<Self> {
        let dir = parent_dir(dest);
        fs::create_dir_all(dir).at(dir)?;
        loop {
            let path = temp_sibling(dest);
            match File::options().write(true).create_new(true).open(&path) {
                Ok(file) => {
                    return Ok(TempFile {
                        file: Some(file),
                        path,
                        dest: dest.to_path_buf(),
                    });
                }
                // Left by a crashed process that had our pid: the next call picks a new number.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e).at(&path),
            }
        }
    }

    /// The open file, for writing.
    pub(crate) fn file(&mut self) -> &mut File {
        self.file
            .as_mut()
            .expect("temporary file used after persisting")
    }

    /// The temporary file's path, for error messages.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Fsyncs and renames over the destination, replacing any file there.
    pub(crate) fn persist(mut self) -> Result<()> {
        self.sync_and_close()?;
        fs::rename(&self.path, &self.dest).at(&self.dest)?;
        sync_dir(parent_dir(&self.dest))
    }

    /// Fsyncs and publishes under the destination only if nothing is there yet; returns whether
    /// this call created it. The temporary file is removed either way.
    pub(crate) fn persist_new(mut self) -> Result<bool> {
        self.sync_and_close()?;
        match fs::hard_link(&self.path, &self.dest) {
            Ok(()) => {
                sync_dir(parent_dir(&self.dest))?;
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(e).at(&self.dest),
        }
        // Drop removes the temporary name.
    }

    fn sync_and_close(&mut self) -> Result<()> {
        if let Some(file) = self.file.take() {
            file.sync_all().at(&self.path)?;
        }
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        // After `persist` the name is gone (NotFound); after `persist_new` it is the second link.
        let _ = fs::remove_file(&self.path);
    }
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn persist_new_refuses_to_replace_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("sub/obj");
        let mut first = TempFile::beside(&dest).unwrap();
        first.file().write_all(b"first").unwrap();
        assert!(first.persist_new().unwrap());
        let mut second = TempFile::beside(&dest).unwrap();
        second.file().write_all(b"second").unwrap();
        assert!(!second.persist_new().unwrap());
        assert_eq!(fs::read(&dest).unwrap(), b"first");
        let names: Vec<_> = fs::read_dir(dir.path().join("sub"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("obj")]);
    }

    #[test]
    fn persist_replaces_and_drop_discards() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("ref");
        fs::write(&dest, b"old").unwrap();
        let mut t = TempFile::beside(&dest).unwrap();
        t.file().write_all(b"new").unwrap();
        t.persist().unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"new");
        let mut abandoned = TempFile::beside(&dest).unwrap();
        abandoned.file().write_all(b"partial").unwrap();
        let tmp = abandoned.path().to_path_buf();
        assert!(tmp.exists());
        drop(abandoned);
        assert!(!tmp.exists());
        assert_eq!(fs::read(&dest).unwrap(), b"new");
    }
}
