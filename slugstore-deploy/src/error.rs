//! The crate's error type.
//!
//! The store's own failures arrive whole as [`Error::Store`]; what only a deploy can get wrong (its
//! configuration, a phase, an environment) has a variant of its own, naming the file, phase or name, so
//! a caller matches on it instead of parsing a message.

use std::path::{Path, PathBuf};

use crate::diagnostic::Diagnostic;
use crate::phase::Phase;

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in a deploy, besides the store's own errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The store, a checkout, a snapshot or a remote failed.
    #[error(transparent)]
    Store(#[from] slugstore::Error),
    /// An I/O error on a named path.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory the operation was on.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The project's configuration files are invalid: one diagnostic per defect, each naming the file,
    /// line, column and key path.
    #[error("{}", Diagnostic::render_all(.0))]
    Config(Vec<Diagnostic>),
    /// A phase of a deploy failed; the deploy's record and log are kept under the target's `deploys/`.
    #[error("deploy {deploy} failed in phase {}: {source}", phase.as_str())]
    Deploy {
        /// The deploy's id.
        deploy: String,
        /// The phase that failed.
        phase: Phase,
        /// What went wrong.
        source: Box<Error>,
    },
    /// No environment deploys this git branch.
    #[error("no environment deploys branch `{0}`")]
    UnknownBranch(String),
    /// No environment has this name.
    #[error("unknown environment `{name}`{}", if known.is_empty() {
        ": no environment is defined".to_owned()
    } else {
        format!(" (known: {})", known.join(", "))
    })]
    UnknownEnvironment {
        /// The name asked for.
        name: String,
        /// The names of the environments there are.
        known: Vec<String>,
    },
    /// An environment of this name exists already.
    #[error("environment `{0}` exists already")]
    EnvironmentExists(String),
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

    /// A format error of the store's kind ([`slugstore::Error::format`]): data that should follow one
    /// of slugstore's formats (a deploy record, the environment registry) does not.
    pub fn format(what: impl Into<String>, detail: impl Into<String>) -> Self {
        Error::Store(slugstore::Error::format(what, detail))
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
