//! Storage backends: the few operations push and pull need from wherever a remote keeps its
//! objects.
//!
//! A remote is a flat namespace of immutable objects (packs, manifests) plus a few mutable ones
//! (refs). Everything above this layer speaks only [`Backend`], so the same push/pull code runs
//! against a directory ([`local::LocalBackend`], `file:///path`) and an S3-compatible object store
//! ([`s3::S3Backend`], `s3://bucket/prefix`), and the conformance tests run one test body against
//! both.
//!
//! The API is synchronous like the rest of the crate; the S3 backend drives its async client on
//! a runtime of its own. The one operation that makes concurrent writers safe is
//! [`Backend::put_if_absent`]: a create-only write that tells the caller whether it created the
//! object. Two machines pushing the same pack both succeed, exactly one of them writes it, and
//! neither can replace what the other wrote.
//!
//! Keys are `/`-separated relative names checked by [`check_key`];
//! the same key is a file path under a `file://` remote and an object name under an S3 prefix.

pub mod local;
pub mod s3;

use std::fmt;
use std::ops::Range;
use std::path::Path;

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::remote::url::{check_key, RemoteUrl};

pub use local::LocalBackend;
pub use s3::{S3Backend, S3Config};

/// What a create-only write found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    /// This call wrote the object.
    Created,
    /// An object with this key was already there; it was left unchanged.
    AlreadyExists,
}

/// Where a remote's objects are stored.
///
/// Implementations are cheap to share between threads (`&self` everywhere) and report every
/// failure with the backend URL and the key.
pub trait Backend: Send + Sync + fmt::Debug {
    /// The remote this backend stores into.
    fn url(&self) -> &RemoteUrl;

    /// Writes `data` under `key` only if no object has that key. Atomic: concurrent callers
    /// (threads, processes, machines) with the same key get exactly one
    /// [`PutOutcome::Created`], and readers never see a partial object. (A request retried after
    /// a lost answer may find its own first attempt and report [`PutOutcome::AlreadyExists`]:
    /// "exists" is certain, "someone else wrote it" is not.)
    fn put_if_absent(&self, key: &str, data: Bytes) -> Result<PutOutcome>;

    /// Writes `data` under `key`, replacing any object there (for refs). Atomic for readers.
    fn put(&self, key: &str, data: Bytes) -> Result<()>;

    /// Uploads the file at `path` under `key` unless the key exists, streaming it (large files
    /// go up in parts, never whole in memory).
    ///
    /// Create-only like [`put_if_absent`](Backend::put_if_absent), with one caveat for S3: a file
    /// too large for a single PUT is uploaded in parts, and S3 stores cannot make the completion
    /// of a multipart upload conditional everywhere, so for such files the check is made before
    /// the upload starts and two racing writers may both report [`PutOutcome::Created`]. Use it
    /// for content-addressed keys, where racing writers write identical bytes.
    fn put_file_if_absent(&self, key: &str, path: &Path) -> Result<PutOutcome>;

    /// Reads a whole object; `None` if there is none under `key`.
    fn get(&self, key: &str) -> Result<Option<Bytes>>;

    /// Streams an object into the file at `path` (written to a temporary file beside it, fsynced,
    /// then renamed over it). Returns the object's size, or `None` (and leaves `path` alone) if
    /// there is no object under `key`.
    fn get_to_file(&self, key: &str, path: &Path) -> Result<Option<u64>>;

    /// Reads the bytes `range` of an object; `None` if there is no object under `key`. A range
    /// that reaches past the end of the object, or ends before it starts, is an error.
    fn get_range(&self, key: &str, range: Range<u64>) -> Result<Option<Bytes>>;

    /// The size of the object under `key`, or `None` if there is none.
    fn size(&self, key: &str) -> Result<Option<u64>>;

    /// Whether an object exists under `key`.
    fn exists(&self, key: &str) -> Result<bool> {
        Ok(self.size(key)?.is_some())
    }

    /// Every object whose key lies under `prefix`, as `(key, size)` sorted by key.
    ///
    /// `prefix` is matched on whole segments, like a directory: `list("packs")` returns
    /// `packs/a` and `packs/x/b` but not `packs2/c`. The empty prefix lists everything.
    fn list(&self, prefix: &str) -> Result<Vec<(String, u64)>>;

    /// Deletes the object under `key`; deleting a missing object succeeds.
    fn delete(&self, key: &str) -> Result<()>;
}

/// Opens the backend for `url`. S3 settings (endpoint, region, credentials) come from the
/// standard AWS environment variables, see [`S3Config::from_env`].
pub fn open(url: &RemoteUrl) -> Result<Box<dyn Backend>> {
    Ok(match url {
        RemoteUrl::File(root) => Box::new(LocalBackend::new(root)?),
        RemoteUrl::S3 { bucket, prefix } => {
            Box::new(S3Backend::new(S3Config::from_env(bucket, prefix)?)?)
        }
    })
}

/// Checks `key` (or a non-empty list prefix), naming the backend in the error.
fn checked_key(url: &RemoteUrl, key: &str) -> Result<()> {
    check_key(key).map_err(|why| Error::RemoteKey {
        remote: url.to_string(),
        why: why.to_string(),
    })
}

/// The error for a range that does not fit in the object (or ends before it starts).
fn range_error(location: String, range: &Range<u64>, size: u64) -> Error {
    Error::Remote {
        location,
        source: format!(
            "range {}..{} does not fit in the object ({size} bytes)",
            range.start, range.end
        )
        .into(),
    }
}
