//! The crate's error type.
//!
//! Every error that concerns a file names it: a user reading `slug: cannot read build/app/x.php: permission
//! denied` knows what to fix, while a bare `permission denied` sends them searching.

use std::path::{Path, PathBuf};

use crate::id::{ObjectId, SlugId};

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in slugstore.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O error on a named path.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory the operation was on.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The RocksDB index failed.
    #[error("store index {}: {source}", path.display())]
    Index {
        /// The index directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: rocksdb::Error,
    },
    /// The index's own files (its write-ahead log, a table file) are damaged. The store refuses to
    /// open rather than go on without what they hold; docs/operating.md, "Failure modes", says how to
    /// recover.
    #[error("store index {} is damaged: {detail} (in {}); keep a copy of the store and see \"Failure modes\" in the operating guide", path.display(), files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", "))]
    IndexDamaged {
        /// The index directory.
        path: PathBuf,
        /// The damaged files, or the files that may be (RocksDB does not always say which log).
        files: Vec<PathBuf>,
        /// What RocksDB found.
        detail: String,
    },
    /// Another process holds the store and did not release it within the wait allowed.
    #[error("the store at {} is locked by another slug process (gave up after {waited:?})", path.display())]
    Locked {
        /// The store's index directory.
        path: PathBuf,
        /// How long this process waited.
        waited: std::time::Duration,
    },
    /// No store exists at the path.
    #[error("no slugstore at {}", .0.display())]
    NoStore(PathBuf),
    /// Stored bytes do not hash to their id: the store is damaged.
    #[error("object {id} is corrupt: {detail}")]
    Corrupt {
        /// The damaged object.
        id: ObjectId,
        /// What was found.
        detail: String,
    },
    /// An object the index or a manifest refers to is absent.
    #[error("object {0} is missing from the store")]
    MissingObject(ObjectId),
    /// A name given by the user matched no slug or ref.
    #[error("no slug or ref named `{0}`")]
    UnknownSlug(String),
    /// An id prefix matched several slugs.
    #[error("`{prefix}` is ambiguous: it matches {}", candidates.join(", "))]
    AmbiguousSlug {
        /// What the user typed.
        prefix: String,
        /// Short ids of the matches.
        candidates: Vec<String>,
    },
    /// Data that should follow one of slugstore's formats does not.
    #[error("{what}: {detail}")]
    Format {
        /// What was being decoded (a manifest, a pack, a record).
        what: String,
        /// What is wrong with it.
        detail: String,
    },
    /// A remote storage backend (S3, a `file://` remote) failed on an object.
    #[error("{location}: {source}")]
    Remote {
        /// The remote object, as a URL: `s3://bucket/prefix/key`.
        location: String,
        /// The underlying error (never carries credentials).
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// No remote of the store has this name.
    #[error("no remote named `{0}`")]
    UnknownRemote(String),
    /// Something needs a remote and the store has none configured.
    #[error("no remote configured")]
    NoRemote,
    /// A directory is not a deploy target: it has no releases directory.
    #[error("{} is not a deploy target (no releases/ directory)", .0.display())]
    NotATarget(PathBuf),
    /// A deploy target has no complete release of a slug (it was never checked out there, or
    /// retention removed it).
    #[error("{} has no complete release of slug {}", releases.display(), slug.short(12))]
    NoRelease {
        /// The target.
        target: PathBuf,
        /// Its releases directory.
        releases: PathBuf,
        /// The slug.
        slug: SlugId,
    },
    /// A watcher already runs for this tree.
    #[error("a watcher already runs for {}", .0.display())]
    WatcherRunning(PathBuf),
    /// The layout of a release (its mounts, read from its own config by the caller's
    /// [`ReleaseLayout`](crate::checkout::ReleaseLayout)) could not be read.
    #[error("{source}")]
    Layout {
        /// The release (or tree) whose config was read.
        dir: PathBuf,
        /// What the layout reported.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A build-cache step exited 0 without one of the outputs it declared: nothing was recorded.
    #[error("cache step `{name}` exited 0 but did not produce its output {}: nothing recorded", path.display())]
    CacheOutputMissing {
        /// The step's name.
        name: String,
        /// The declared output that is absent.
        path: PathBuf,
    },
    /// Another run of the same build-cache key held its lock past the deadline.
    #[error("cache step `{name}` (key {key}) is being run by another process (gave up after {waited:?})")]
    CacheBusy {
        /// The step's name.
        name: String,
        /// The key's hex prefix.
        key: String,
        /// How long this process waited.
        waited: std::time::Duration,
    },
    /// No build-cache entry (or last miss) answers to what the user named.
    #[error("no cache entry {0}")]
    UnknownCacheEntry(String),
    /// A build-cache record from a remote is unsigned, signed by a key this store does not trust, or
    /// its signature does not verify: it is never restored.
    #[error("cache record {key} is not trusted: {why}")]
    UntrustedRecord {
        /// The key's hex prefix.
        key: String,
        /// What is wrong with it.
        why: String,
    },
    /// Another writer recorded the same build-cache key first, with different outputs.
    #[error("step is not deterministic: `{name}` (key {key}) produced {ours} here, the remote holds {theirs}")]
    NotDeterministic {
        /// The step's name.
        name: String,
        /// The key's hex prefix.
        key: String,
        /// The outputs this run produced (slug id prefix).
        ours: String,
        /// The outputs recorded first (slug id prefix).
        theirs: String,
    },
    /// The user asked for something that cannot be done as asked.
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    /// A format error. Both parts usually quote untrusted data (a member name of an archive, a
    /// path in a manifest from a remote), so their control characters are escaped
    /// ([`crate::escape`]): the message is safe to print on a terminal.
    pub fn format(what: impl Into<String>, detail: impl Into<String>) -> Self {
        Error::Format {
            what: crate::escape::text(&what.into()).into_owned(),
            detail: crate::escape::text(&detail.into()).into_owned(),
        }
    }
}

/// Attach a path to `std::io::Result`s: `fs::read(p).at(p)?`.
pub trait IoResultExt<T> {
    /// Converts the error into [`Error::Io`] naming `path`.
    fn at(self, path: impl AsRef<Path>) -> Result<T>;
}

impl<T> IoResultExt<T> for std::io::Result<T> {
    fn at(self, path: impl AsRef<Path>) -> Result<T> {
        self.map_err(|e| Error::io(path, e))
    }
}
