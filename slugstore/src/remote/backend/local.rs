//! `file:///path` remotes: objects are files under a root directory.
//!
//! Useful on its own (a remote on a mounted share or a second disk) and as the reference the S3
//! backend is tested against. Create-only writes use the filesystem's own primitive: the object
//! is written to a temporary file, fsynced, and hard-linked to its name, which fails if the name
//! exists (see the `temp` module). On a shared filesystem that honours `link(2)` atomically (local
//! filesystems, NFSv3+) this is safe between machines too.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::{checked_key, range_error, Backend, PutOutcome};
use crate::error::{Error, IoResultExt, Result};
use crate::fsutil::TempFile;
use crate::remote::url::RemoteUrl;

/// A remote stored as files under a directory.
#[derive(Debug, Clone)]
pub struct LocalBackend {
    url: RemoteUrl,
    root: PathBuf,
}

impl LocalBackend {
    /// A backend rooted at the absolute directory `root`. The directory is created by the first
    /// write; reading from a missing root finds no objects.
    pub fn new(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref();
        if !root.is_absolute() {
            return Err(Error::RelativeFileRemote(root.to_path_buf()));
        }
        Ok(LocalBackend {
            url: RemoteUrl::File(root.to_path_buf()),
            root: root.to_path_buf(),
        })
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &str) -> Result<PathBuf> {
        checked_key(&self.url, key)?;
        Ok(self.root.join(key))
    }

    /// Writes a temporary file beside `key`'s path with `fill`, then publishes it create-only.
    fn create_with(
        &self,
        key: &str,
        fill: impl FnOnce(&mut File) -> io::Result<()>,
    ) -> Result<PutOutcome> {
        let dest = self.path(key)?;
        if dest.exists() {
            // Cheap early exit; the link below is what decides under a race.
            return Ok(PutOutcome::AlreadyExists);
        }
        let mut tmp = TempFile::beside_in_new_dir(&dest)?;
        let tmp_path = tmp.path().to_path_buf();
        fill(tmp.file()).at(&tmp_path)?;
        Ok(if tmp.persist_new()? {
            PutOutcome::Created
        } else {
            PutOutcome::AlreadyExists
        })
    }

    /// Opens `key`'s file for reading; `None` if it does not exist.
    fn open(&self, key: &str) -> Result<Option<(File, PathBuf)>> {
        let path = self.path(key)?;
        match File::open(&path) {
            Ok(file) => Ok(Some((file, path))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).at(&path),
        }
    }

    /// Appends every file under `dir` (whose key is `key`) to `out`, skipping temporary files.
    fn walk(&self, dir: &Path, key: &str, out: &mut Vec<(String, u64)>) -> Result<()> {
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            // Nothing under a missing directory, nor under an object (S3 lists none either).
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => return Ok(()),
            Err(e) => return Err(e).at(dir),
        };
        for entry in entries {
            let entry = entry.at(dir)?;
            let name = entry.file_name();
            let Some(name) = name.to_str().filter(|n| !n.starts_with('.')) else {
                continue;
            };
            let child_key = if key.is_empty() {
                name.to_string()
            } else {
                format!("{key}/{name}")
            };
            let path = entry.path();
            let meta = entry.metadata().at(&path)?;
            if meta.is_dir() {
                self.walk(&path, &child_key, out)?;
            } else if meta.is_file() {
                out.push((child_key, meta.len()));
            }
        }
        Ok(())
    }
}

impl Backend for LocalBackend {
    fn url(&self) -> &RemoteUrl {
        &self.url
    }

    fn put_if_absent(&self, key: &str, data: Bytes) -> Result<PutOutcome> {
        self.create_with(key, |file| file.write_all(&data))
    }

    fn put(&self, key: &str, data: Bytes) -> Result<()> {
        let mut tmp = TempFile::beside_in_new_dir(&self.path(key)?)?;
        let tmp_path = tmp.path().to_path_buf();
        tmp.file().write_all(&data).at(&tmp_path)?;
        tmp.persist()
    }

    fn put_file_if_absent(&self, key: &str, path: &Path) -> Result<PutOutcome> {
        let mut src = File::open(path).at(path)?;
        // The source is named in errors reading it, the temporary file in errors writing it.
        let mut reader = PathReader::new(&mut src, path);
        self.create_with(key, |file| io::copy(&mut reader, file).map(drop))
            .map_err(|e| reader.take_error().unwrap_or(e))
    }

    fn get(&self, key: &str) -> Result<Option<Bytes>> {
        let Some((mut file, path)) = self.open(key)? else {
            return Ok(None);
        };
        let mut buf = Vec::new();
        file.read_to_end(&mut buf).at(&path)?;
        Ok(Some(Bytes::from(buf)))
    }

    fn get_to_file(&self, key: &str, dest: &Path) -> Result<Option<u64>> {
        let Some((mut file, path)) = self.open(key)? else {
            return Ok(None);
        };
        let mut tmp = TempFile::beside_in_new_dir(dest)?;
        let mut reader = PathReader::new(&mut file, &path);
        let tmp_path = tmp.path().to_path_buf();
        let copied = io::copy(&mut reader, tmp.file());
        if let Some(e) = reader.take_error() {
            return Err(e);
        }
        let n = copied.at(&tmp_path)?;
        tmp.persist()?;
        Ok(Some(n))
    }

    fn get_range(&self, key: &str, range: Range<u64>) -> Result<Option<Bytes>> {
        let Some((mut file, path)) = self.open(key)? else {
            return Ok(None);
        };
        let size = file.metadata().at(&path)?.len();
        if range.start > range.end || range.end > size {
            return Err(range_error(path.display().to_string(), &range, size));
        }
        let mut buf = vec![0; (range.end - range.start) as usize];
        file.seek(SeekFrom::Start(range.start))
            .and_then(|_| file.read_exact(&mut buf))
            .at(&path)?;
        Ok(Some(Bytes::from(buf)))
    }

    fn size(&self, key: &str) -> Result<Option<u64>> {
        let path = self.path(key)?;
        match fs::metadata(&path) {
            Ok(meta) if meta.is_file() => Ok(Some(meta.len())),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).at(&path),
        }
    }

    fn list(&self, prefix: &str) -> Result<Vec<(String, u64)>> {
        let prefix = prefix.trim_end_matches('/');
        let dir = if prefix.is_empty() {
            self.root.clone()
        } else {
            self.path(prefix)?
        };
        let mut out = Vec::new();
        self.walk(&dir, prefix, &mut out)?;
        out.sort();
        Ok(out)
    }

    fn delete(&self, key: &str) -> Result<()> {
        let path = self.path(key)?;
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e).at(&path),
            _ => Ok(()),
        }
    }
}

/// A reader that remembers its first error as an [`Error::Io`] naming its file, so a copy
/// between two files blames the right one.
struct PathReader<'a, R> {
    inner: &'a mut R,
    path: &'a Path,
    error: Option<Error>,
}

impl<R: Read> Read for PathReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).inspect_err(|e| {
            self.error.get_or_insert_with(|| {
                Error::io(self.path, io::Error::new(e.kind(), e.to_string()))
            });
        })
    }
}

impl<'a, R> PathReader<'a, R> {
    fn new(inner: &'a mut R, path: &'a Path) -> Self {
        PathReader {
            inner,
            path,
            error: None,
        }
    }

    fn take_error(&mut self) -> Option<Error> {
        self.error.take()
    }
}
