//! Publishing a file whole: written under a temporary name beside its destination, then moved in
//! place, so that a reader (or the next process, after a crash or a full disk) sees the old file or
//! the complete new one, never a part of it under the final name.
//!
//! Every place that publishes a file goes through [`TempFile`]; what differs between them is a
//! parameter, not a copy of the dance:
//! - how durable the result must be ([`Durability`]): the store's and a target's records are fsynced
//!   with their directory, copies made in bulk skip the directory (their caller syncs once), and
//!   derived data a later run checks and rewrites (static gzip files, cached idx files) is not
//!   synced at all, since syncing thousands of small files would dominate the run;
//! - how it is published: [`TempFile::persist`] renames over the destination (last writer wins),
//!   [`TempFile::persist_new`] hard-links to it, which fails if something is there already, so of
//!   several concurrent writers of one name exactly one creates it;
//! - the temporary file's mode and name ([`TempFile::create`]).
//!
//! A temporary file that is not published is removed when dropped, on every error path.

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::error::{IoResultExt, Result};
use crate::fsutil::{sync_dir, temp_sibling};

/// How much of a publication is fsynced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Durability {
    /// The file before the rename, the directory after it: the new file survives a crash.
    Synced,
    /// The file only: a crash leaves the old file or the complete new one, and the caller syncs the
    /// directory once for many files.
    FileSynced,
    /// Nothing: for derived data that a later run checks and rewrites.
    Unsynced,
}

/// A file being written beside its final destination; removed on drop unless persisted.
#[derive(Debug)]
pub(crate) struct TempFile {
    file: Option<File>,
    path: PathBuf,
    dest: PathBuf,
}

impl TempFile {
    /// Creates a new empty temporary file beside `dest`, named by [`temp_sibling`], with the mode a
    /// plain `File::create` gives (0o666 less the umask).
    pub(crate) fn beside(dest: &Path) -> Result<Self> {
        TempFile::create(dest, 0o666, || temp_sibling(dest))
    }

    /// [`TempFile::beside`], creating `dest`'s directory first if needed.
    pub(crate) fn beside_in_new_dir(dest: &Path) -> Result<Self> {
        let dir = parent_dir(dest);
        fs::create_dir_all(dir).at(dir)?;
        TempFile::beside(dest)
    }

    /// Creates a new empty temporary file at a path `name` gives, created with `mode` (less the
    /// umask) from the start: there is no moment where the file has wider permissions. A name that
    /// exists already (left by a killed process that had this pid) is passed over for the next one.
    pub(crate) fn create(dest: &Path, mode: u32, name: impl Fn() -> PathBuf) -> Result<Self> {
        loop {
            let path = name();
            match File::options()
                .write(true)
                .create_new(true)
                .mode(mode)
                .open(&path)
            {
                Ok(file) => {
                    return Ok(TempFile {
                        file: Some(file),
                        path,
                        dest: dest.to_path_buf(),
                    });
                }
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

    /// Fsyncs the file, renames it over the destination (replacing any file or symlink there) and
    /// fsyncs the directory.
    pub(crate) fn persist(self) -> Result<()> {
        self.persist_with(Durability::Synced)
    }

    /// Renames over the destination, syncing as `durability` says.
    pub(crate) fn persist_with(mut self, durability: Durability) -> Result<()> {
        self.close(durability != Durability::Unsynced)?;
        fs::rename(&self.path, &self.dest).at(&self.dest)?;
        if durability == Durability::Synced {
            sync_dir(parent_dir(&self.dest))?;
        }
        Ok(())
    }

    /// Fsyncs and publishes under the destination only if nothing is there yet; returns whether
    /// this call created it. The temporary file is removed either way.
    pub(crate) fn persist_new(mut self) -> Result<bool> {
        self.close(true)?;
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

    fn close(&mut self, sync: bool) -> Result<()> {
        if let Some(file) = self.file.take() {
            if sync {
                file.sync_all().at(&self.path)?;
            }
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

/// The directory of `path`: its parent, or `.` for a bare name.
pub(crate) fn parent_dir(path: &Path) -> &Path {
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
        let mut first = TempFile::beside_in_new_dir(&dest).unwrap();
        first.file().write_all(b"first").unwrap();
        assert!(first.persist_new().unwrap());
        let mut second = TempFile::beside_in_new_dir(&dest).unwrap();
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
        let mut t = TempFile::beside_in_new_dir(&dest).unwrap();
        t.file().write_all(b"new").unwrap();
        t.persist().unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"new");
        let mut abandoned = TempFile::beside_in_new_dir(&dest).unwrap();
        abandoned.file().write_all(b"partial").unwrap();
        let tmp = abandoned.path().to_path_buf();
        assert!(tmp.exists());
        drop(abandoned);
        assert!(!tmp.exists());
        assert_eq!(fs::read(&dest).unwrap(), b"new");
    }
}
