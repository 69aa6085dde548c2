//! The crate's error type.
//!
//! The store's own failures arrive whole as [`Error::Store`]; what only a deploy can get wrong (its
//! configuration, a phase, an environment) has a variant of its own, naming the file, phase or name, so
//! a caller matches on it instead of parsing a message.

use std::path::{Path, PathBuf};

use slugstore::id::SlugId;

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
    /// An environment name to resolve has no live release on its target.
    #[error("environment `{environment}` has no live release ({})", target.display())]
    NoLiveRelease {
        /// The environment.
        environment: String,
        /// Its deploy target.
        target: PathBuf,
    },
    /// A full slug id that the store does not hold (pruned, or never stored there).
    #[error("slug {0} is not in the store (pruned, or never stored here)")]
    SlugNotInStore(String),
    /// The slug to promote is no longer in the store.
    #[error("slug {slug} ({from}) is no longer in the store (pruned?): it cannot be promoted")]
    PromotedSlugGone {
        /// The slug.
        slug: SlugId,
        /// How it was named (`environment staging`, or the name given).
        from: String,
    },
    /// A promotion from an environment to itself.
    #[error("cannot promote environment `{0}` to itself")]
    PromoteToSelf(String),
    /// The slug to promote was built with another build key than the environment would build its
    /// source with (their build-visible variables differ).
    #[error("{subject} was built with build key {built}, but environment `{environment}` would build its source with key {expected} (its build-visible variables differ); promote with --force to deploy it anyway, or deploy the source to `{environment}` to build it there")]
    BuildKeyMismatch {
        /// The slug, as named in messages (`slug 3f2a… (live on environment staging)`).
        subject: String,
        /// The environment promoted to.
        environment: String,
        /// The key the slug was built with.
        built: String,
        /// The key the environment would build with.
        expected: String,
    },
    /// The slug to promote records no build key (it was not built by a deploy), so whether the
    /// environment would build it the same way cannot be checked.
    #[error("{subject} records no build key, so whether environment `{environment}` would build it the same way cannot be checked; promote with --force to deploy it anyway")]
    NoBuildKey {
        /// The slug, as named in messages (`slug 3f2a… (live on environment staging)`).
        subject: String,
        /// The environment promoted to.
        environment: String,
    },
    /// A directory of an earlier layout cannot be moved aside: the place it would go is taken.
    #[error("{} holds content of an earlier layout and {} exists: move one of them away", stale.display(), aside.display())]
    RelayoutBlocked {
        /// The directory holding content of the earlier layout.
        stale: PathBuf,
        /// Where it would be moved.
        aside: PathBuf,
    },
    /// A relationship of the application has no service endpoint in the environment.
    #[error("relationship `{relationship}` (service `{service}`) has no endpoint in environment `{environment}`: give it one with --service {relationship}=URL")]
    NoEndpoint {
        /// The relationship.
        relationship: String,
        /// The service it names.
        service: String,
        /// The environment.
        environment: String,
    },
    /// A service endpoint URL cannot be parsed.
    #[error("service endpoint `{url}`: {why} (expected scheme://user:password@host:port/path)")]
    BadEndpoint {
        /// The URL, its password redacted.
        url: String,
        /// The part that is wrong.
        why: String,
    },
    /// A service endpoint is not given as `NAME=URL`.
    #[error("a service endpoint is NAME=URL, e.g. database=mysql://user:password@host:3306/main")]
    NotAnEndpoint,
    /// A service endpoint's name is not valid.
    #[error("service endpoint name `{0}`: use letters, digits, `-` and `_` (a relationship or service name)")]
    InvalidEndpointName(String),
    /// A file of service endpoints is not a regular file, or too large.
    #[error("{}: not a regular file of at most {max} bytes", path.display())]
    ServicesFile {
        /// The file.
        path: PathBuf,
        /// The largest size allowed.
        max: u64,
    },
    /// A line of a file of service endpoints is not valid.
    #[error("{}:{line}: {source}", path.display())]
    ServicesLine {
        /// The file.
        path: PathBuf,
        /// The line (from 1).
        line: usize,
        /// What is wrong with it.
        source: Box<Error>,
    },
    /// Another environment deploys to this target.
    #[error("{} is already the target of environment `{environment}`", target.display())]
    TargetTaken {
        /// The target.
        target: PathBuf,
        /// The environment that has it.
        environment: String,
    },
    /// Another environment deploys this branch.
    #[error("branch `{branch}` already deploys to environment `{environment}`")]
    BranchTaken {
        /// The branch.
        branch: String,
        /// The environment that deploys it.
        environment: String,
    },
    /// An environment name is not valid.
    #[error("invalid environment name `{0}`: use 1-64 lowercase letters, digits, `-` and `_`, starting with a letter or digit")]
    InvalidEnvironmentName(String),
    /// A git branch name is not valid.
    #[error("invalid branch name `{0}`")]
    InvalidBranchName(String),
    /// A variable name is not valid.
    #[error("invalid variable name `{0}`: use letters, digits and `_`, not starting with a digit")]
    InvalidVariableName(String),
    /// A variable is not given as `NAME=VALUE`.
    #[error("`{0}` is not NAME=VALUE (a variable needs a value, possibly empty: `NAME=`)")]
    NotAnAssignment(String),
    /// A domain is not a host name.
    #[error("invalid domain `{0}`: use letters, digits, `-` and `.`")]
    InvalidDomain(String),
    /// An environment has no variable of this name.
    #[error("environment `{environment}` has no variable `{name}`")]
    UnknownVariable {
        /// The environment.
        environment: String,
        /// The variable.
        name: String,
    },
    /// An environment has no service endpoint of this name.
    #[error("environment `{environment}` has no service endpoint `{name}`")]
    UnknownEndpoint {
        /// The environment.
        environment: String,
        /// The endpoint.
        name: String,
    },
    /// A program (git, a hook, a cron job) could not be started.
    #[error("cannot run {program}{}: {source}", cwd.as_ref().map(|d| format!(" in {}", d.display())).unwrap_or_default())]
    Spawn {
        /// What was run, as named in messages: `git`, a hook (`hooks.build`), `cron NAME`.
        program: String,
        /// Its working directory, when it names one.
        cwd: Option<PathBuf>,
        /// Why it could not be started.
        source: std::io::Error,
    },
    /// Waiting for a program (git, a hook, a cron job) failed.
    #[error("waiting for {program}: {source}")]
    Wait {
        /// What was run, as named in messages: `git archive`, a hook (`hooks.build`), `cron NAME`.
        program: String,
        /// Why waiting failed.
        source: std::io::Error,
    },
    /// A hook exited with a failure status or was killed.
    #[error("{hook} {}", match code {
        Some(code) => format!("exited with status {code}"),
        None => "was killed by a signal".to_owned(),
    })]
    HookFailed {
        /// The hook (`hooks.build`).
        hook: String,
        /// Its exit status; `None` when a signal killed it.
        code: Option<i32>,
    },
    /// A hook ran past its time limit, or `slug` was interrupted, and the hook was stopped.
    #[error("{hook} {how}")]
    HookStopped {
        /// The hook (`hooks.build`).
        hook: String,
        /// Why and how it was stopped: `stopped at its time limit of 3600s; killed by signal 15 (raise
        /// the limit with --hook-timeout)`, `interrupted (SIGINT); killed by signal 15`.
        how: String,
    },
    /// A hook's output could not be read.
    #[error("reading hook output: {0}")]
    HookOutput(#[source] std::io::Error),
    /// Another deploy runs on the target, and this one holds the store it may need: it cannot wait.
    #[error("a deploy is running on {}: try again once it has ended (`slug status`)", target.display())]
    DeployRunning {
        /// The target.
        target: PathBuf,
    },
    /// The post-switch command of a deploy failed.
    #[error("post-switch command `{command}` failed: {how}")]
    PostSwitchFailed {
        /// The command.
        command: String,
        /// What went wrong: `exited with status 3`, `stopped at its time limit of 60s; ...`.
        how: String,
    },
    /// A git repository cannot be found.
    #[error("git repository {}: {source}", repo.display())]
    GitRepo {
        /// The repository as given.
        repo: PathBuf,
        /// Why it cannot be found.
        source: std::io::Error,
    },
    /// A directory is not a git repository.
    #[error("{} is not a git repository", .0.display())]
    NotAGitRepo(PathBuf),
    /// A git revision is empty or looks like an option.
    #[error("invalid git revision `{0}`")]
    BadRevision(String),
    /// A git revision does not exist in the repository.
    #[error("git revision `{rev}` does not exist in {}", repo.display())]
    UnknownRevision {
        /// The revision.
        rev: String,
        /// The repository.
        repo: PathBuf,
    },
    /// A git command failed.
    #[error("{command} failed: {stderr}")]
    GitFailed {
        /// The command (`git rev-parse --verify ...`).
        command: String,
        /// What it wrote on stderr.
        stderr: String,
    },
    /// `git archive` of a commit failed.
    #[error("git archive of {commit} failed ({status}): {stderr}")]
    GitArchiveFailed {
        /// The revision archived, as named in messages (`REPO@REV`).
        commit: String,
        /// Its exit status.
        status: std::process::ExitStatus,
        /// What it wrote on stderr.
        stderr: String,
    },
    /// A cron job's log could not be shared with the job's output stream.
    #[error("cron {job}: cannot share its log for {stream}: {source}")]
    CronLog {
        /// The job.
        job: String,
        /// The stream (`stdout`, `stderr`).
        stream: String,
        /// Why the log could not be shared.
        source: std::io::Error,
    },
    /// The live release's configuration does not validate (so its crons cannot be run).
    #[error("the live release {} has no valid configuration: {}", release.short(12), Diagnostic::render_all(diagnostics))]
    LiveConfig {
        /// The live release.
        release: SlugId,
        /// One diagnostic per defect.
        diagnostics: Vec<Diagnostic>,
    },
    /// A declared mount's source path cannot be used.
    #[error("mount `{path}`: {why}")]
    Mount {
        /// The mount's path.
        path: String,
        /// What is wrong with its source path.
        why: String,
    },
    /// A declared mount has no source path.
    #[error("mount `{path}` ({mount}) has no source path")]
    MountWithoutSource {
        /// The mount's path.
        path: String,
        /// The mount, as written in messages.
        mount: String,
    },
    /// No deploy of a target matches (or the target has no deploy at all).
    #[error("{}: no deploy{}", dir.display(), prefix.as_ref().map(|p| format!(" matches `{p}`")).unwrap_or_default())]
    NoDeploy {
        /// The target's deploys directory.
        dir: PathBuf,
        /// The id prefix given, if any.
        prefix: Option<String>,
    },
    /// A deploy id prefix matches several deploys.
    #[error("deploy `{prefix}` is ambiguous: it matches {}", candidates.join(", "))]
    AmbiguousDeploy {
        /// The prefix given.
        prefix: String,
        /// The ids it matches.
        candidates: Vec<String>,
    },
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
