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
        /// The index directory (or the table file being written for it).
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: IndexError,
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
    /// Another process holds a deploy target's lock (a checkout, switch or rollback of it) and did
    /// not release it within the wait allowed.
    #[error("{} is locked by another slug process working on the target (gave up after {waited:?})", path.display())]
    TargetLocked {
        /// The target's lock file.
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
    /// A release that retention was about to remove could not be changed into the new one (the
    /// checkout then writes a new release).
    #[error("release {} cannot be recycled: {why}", .dir.display())]
    NotRecyclable {
        /// The release, under its temporary name.
        dir: PathBuf,
        /// Why.
        why: String,
    },
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
    /// A ref name is not valid: characters outside letters, digits and `-_./@`, or an empty or `..`
    /// component.
    #[error(
        "`{0}` is not a valid ref name (letters, digits, `-_./@`, no empty or `..` components)"
    )]
    InvalidRefName(String),
    /// A ref name could be read as a slug id (four or more hex digits).
    #[error("ref name `{0}` looks like a slug id; pick another")]
    RefLooksLikeId(String),
    /// No ref has this name.
    #[error("no ref named `{0}`")]
    UnknownRef(String),
    /// A relative path given by the caller (a mount, an include) climbs out with `..`.
    #[error("path `{path}` {why}")]
    BadPath {
        /// The path as given.
        path: String,
        /// What is wrong with it (`must not contain \`..\``).
        why: String,
    },
    /// A path that must be a directory (a tree to snapshot or watch) is not one.
    #[error("{} is not a directory", .0.display())]
    NotADirectory(PathBuf),
    /// `init` on a directory that already holds a store.
    #[error("{} already holds a slugstore", .0.display())]
    StoreExists(PathBuf),
    /// A restore into a directory that is not empty, without `force`.
    #[error("{} is not empty; restore into an empty directory or pass --force", .0.display())]
    NotEmpty(PathBuf),
    /// A file changed while it was read or stored: what was read is not one version of it. Retrying
    /// reads it again.
    #[error("{} changed while it was being {during}; retry", path.display())]
    FileChanged {
        /// The file.
        path: PathBuf,
        /// What was being done to it: `read` or `stored`.
        during: &'static str,
    },
    /// A file selected for static compression stopped being a regular file during the run.
    #[error("{}: no longer a regular file (it changed during the run)", .0.display())]
    ChangedDuringRun(PathBuf),
    /// An object is too large for this platform's address space.
    #[error("object {0} too large")]
    TooLarge(ObjectId),
    /// A declared mount cannot be laid out as declared: its storage leaves `shared/`, or a parent of
    /// its path is not a directory in the slug.
    #[error("mount `{path}`: {why}")]
    Mount {
        /// The mount's path (as declared, or normalized).
        path: String,
        /// What is wrong with it.
        why: String,
    },
    /// A declared mount's path is empty once normalized.
    #[error("mount `{0}` has no path")]
    MountWithoutPath(String),
    /// Two declared mounts overlap: one lies inside the other.
    #[error("mounts `{outer}` and `{inner}` overlap")]
    MountsOverlap {
        /// The enclosing mount.
        outer: String,
        /// The mount inside it.
        inner: String,
    },
    /// A mount's storage directory resolves (through a symlink) outside the target's `shared/`.
    #[error("mount storage {} resolves to {}, outside {}", storage.display(), resolved.display(), shared.display())]
    MountOutsideShared {
        /// The storage directory.
        storage: PathBuf,
        /// Where it resolves to.
        resolved: PathBuf,
        /// The target's `shared/` directory.
        shared: PathBuf,
    },
    /// A target's link (`current`, `previous`) points at something that is not a release.
    #[error("{} points at {}, which is not a release", link.display(), points_at.display())]
    NotARelease {
        /// The link.
        link: PathBuf,
        /// What it points at.
        points_at: PathBuf,
    },
    /// A rollback on a target with no live release.
    #[error("no release is live: nothing to roll back")]
    RollbackNothingLive,
    /// A rollback by steps when the live release is not in the target's deploy history.
    #[error("the live release {} is not in the deploy history; use --to SLUG", .0.short(12))]
    RollbackNotInHistory(SlugId),
    /// A rollback by more steps than the history holds before the live release.
    #[error("cannot go back {steps} deploy(s): {recorded} earlier deploy(s) recorded")]
    RollbackTooFar {
        /// The steps asked for.
        steps: usize,
        /// The deploys recorded before the live one.
        recorded: usize,
    },
    /// The post-switch hook could not be started.
    #[error("cannot run post-switch hook `{command}`: {source}")]
    HookSpawn {
        /// The hook's command.
        command: String,
        /// Why it could not be started.
        source: std::io::Error,
    },
    /// A remote name is not valid.
    #[error("`{0}` is not a valid remote name (1 to 64 letters, digits, `-_.`, not starting with `.` or `-`)")]
    InvalidRemoteName(String),
    /// A remote of this name exists already.
    #[error("remote `{name}` already exists ({url}); remove it first")]
    RemoteExists {
        /// The name.
        name: String,
        /// The URL of the existing remote.
        url: String,
    },
    /// No remote was named and several are configured.
    #[error("several remotes are configured ({}); name one", .0.join(", "))]
    AmbiguousRemote(Vec<String>),
    /// A remote URL cannot be used.
    #[error("invalid remote URL `{url}`: {why}")]
    RemoteUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        why: String,
    },
    /// A `file://` remote whose root is not absolute.
    #[error("file remote {} must be an absolute path", .0.display())]
    RelativeFileRemote(PathBuf),
    /// A key (or list prefix) that a remote backend refuses to use.
    #[error("{remote}: {why}")]
    RemoteKey {
        /// The remote's URL.
        remote: String,
        /// What is wrong with the key.
        why: String,
    },
    /// An S3 remote without credentials in the environment.
    #[error("s3://{bucket}: no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY ({variable} is not set)")]
    NoCredentials {
        /// The remote's bucket.
        bucket: String,
        /// The variable that is not set.
        variable: String,
    },
    /// A push stopped because an earlier pack failed (that failure is reported on its own).
    #[error("push stopped after an earlier error")]
    PushStopped,
    /// The threads of a transfer could not be started.
    #[error("cannot start transfer threads: {0}")]
    TransferThreads(String),
    /// An object and its base are too large to be stored as a patch.
    #[error("object and base too large for a patch")]
    PatchTooLarge,
    /// zstd failed to build a patch.
    #[error("zstd patch: {0}")]
    Patch(String),
    /// An archive's format cannot be told from its file name.
    #[error("cannot tell the archive format from `{}`: name it .tar, .tar.gz or .tar.zst, or pass --format", .0.display())]
    UnknownArchiveFormat(PathBuf),
    /// An imported archive has more members than the import allows.
    #[error("the archive has more than {0} members (raise --max-entries if it is trusted)")]
    TooManyMembers(u64),
    /// An imported archive's files add up to more bytes than the import allows.
    #[error("the archive's files add up to more than {0} bytes (raise --max-total-bytes if it is trusted)")]
    ArchiveTooLarge(u64),
    /// A value given for an option is not one it takes (a number out of range, text that is not a
    /// number).
    #[error("{what} {value} is {why}")]
    BadValue {
        /// The option or setting (`--repack-below`, `compression level`, `timeout`).
        what: String,
        /// The value as it is shown to the user: a number as is, text in backticks.
        value: String,
        /// What it is instead of what it should be (`not a percentage`).
        why: String,
    },
    /// A path given for an option (a build-cache step's `--tree`, `--file`, `--output`) cannot be used
    /// as that option.
    #[error("{option} {value}: {why}")]
    BadOption {
        /// The option (`--tree`).
        option: String,
        /// The value given.
        value: String,
        /// What is wrong with it.
        why: String,
    },
    /// Two outputs of a build-cache step nest.
    #[error("--output {inner} lies inside --output {outer}")]
    NestedOutputs {
        /// The enclosing output.
        outer: String,
        /// The output inside it.
        inner: String,
    },
    /// A build-cache step without a command.
    #[error("a cache step needs a command after `--`")]
    CacheNoCommand,
    /// A build-cache step without an output.
    #[error("a cache step needs at least one --output")]
    CacheNoOutput,
    /// An output of a build-cache step is neither a file, a directory nor a symlink.
    #[error("output {} is a special file", .0.display())]
    SpecialOutput(PathBuf),
    /// A build-cache step's working directory is not inside its build root.
    #[error("the working directory {} is not inside the build root {}", cwd.display(), root.display())]
    OutsideBuildRoot {
        /// The working directory.
        cwd: PathBuf,
        /// The build root.
        root: PathBuf,
    },
    /// A key prefix matches several build-cache entries.
    #[error("`{prefix}` matches {matches} cache keys; give more of the key")]
    AmbiguousCacheKey {
        /// What the user typed.
        prefix: String,
        /// How many entries it matches.
        matches: usize,
    },
    /// A new signing key would overwrite an existing file.
    #[error("{} exists; remove it first to make a new key", .0.display())]
    KeyExists(PathBuf),
    /// A public key given to trust is not one.
    #[error("`{key}` is not {why}")]
    BadPublicKey {
        /// The key as given.
        key: String,
        /// What it should be (`a public key (64 hex digits)`, `an ed25519 public key`).
        why: String,
    },
    /// Prune was asked to run without a retention policy.
    #[error("prune needs a policy: --keep-last N and/or --keep-within DURATION (or --cache-max-age, --cache-max-size)")]
    NoPolicy,
    /// A gzip entry does not fit the static-compression cache's format.
    #[error("{}: a gzip entry of {size} bytes is too large for the cache", pack.display())]
    GzipEntryTooLarge {
        /// The cache pack.
        pack: PathBuf,
        /// The entry's size.
        size: usize,
    },
    /// A watched tree was moved or deleted: the watcher stopped.
    #[error("{} was moved or deleted; stopped watching it", .0.display())]
    WatchedTreeGone(PathBuf),
    /// The inotify watch limit is reached.
    #[error("cannot watch {}: the inotify watch limit is reached (fs.inotify.max_user_watches = {limit}); raise it, e.g. `sysctl fs.inotify.max_user_watches=524288`", path.display())]
    WatchLimit {
        /// The directory that could not be watched.
        path: PathBuf,
        /// The system's limit, as read from `/proc` (`?` when unreadable).
        limit: String,
    },
    /// The watcher could not talk to a client.
    #[error("watcher client: {0}")]
    WatcherClient(#[source] std::io::Error),
    /// The watcher of a tree did not answer a request.
    #[error("the watcher of {} did not answer: {source}", root.display())]
    WatcherUnreachable {
        /// The watched tree.
        root: PathBuf,
        /// The error reading its answer.
        source: std::io::Error,
    },
    /// The watcher socket of a tree belongs to another user.
    #[error("the watcher socket of {} is held by another user (uid {uid}); not trusting it", root.display())]
    WatcherForeign {
        /// The watched tree.
        root: PathBuf,
        /// The user holding the socket.
        uid: u32,
    },
    /// An error of the caller's own, carried through this crate's [`Result`]: a front end's (its
    /// options conflict, it cannot listen) or an embedder's (a backend it implements failed). The
    /// library itself never returns it; it is free-form because only the caller knows what it means.
    #[error(transparent)]
    External(Box<dyn std::error::Error + Send + Sync>),
}

/// The RocksDB index's own error, kept out of the public API (the index's engine is an
/// implementation detail): its message is RocksDB's.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct IndexError(rocksdb::Error);

impl IndexError {
    pub(crate) fn new(e: rocksdb::Error) -> Self {
        IndexError(e)
    }
}

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    /// An error of the caller's own, with `message` as its text ([`Error::External`]).
    pub fn external(message: impl Into<String>) -> Self {
        Error::External(message.into().into())
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
