//! The record of a deploy: each phase's state and timing, and its log.
//!
//! An operator must be able to tell, during a deploy and long after it, which phase ran, how long it
//! took and where it stopped. So every deploy gets a record, `TARGET/deploys/<id>.json`, rewritten
//! atomically at every phase change (a reader never sees half a file, and a killed deploy leaves the
//! phase it died in marked in progress), and a log, `TARGET/deploys/<id>.log`, appended line by line as
//! hook output arrives. The same events go to an observer for a live view on the terminal.
//!
//! Deploy ids are the start time in UTC (`20261122T060832Z-123`, milliseconds last), so they sort in
//! the order the deploys ran.
//!
//! The types of a record live here; `recorder` writes a running deploy's record and log, `lookup`
//! finds and reads them afterwards (the CLI's `slug log`, the status page, the environment history).

mod lookup;
mod recorder;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use crate::phase::{Phase, PhaseState};
pub use lookup::{list, load, log_path, resolve};
pub use recorder::Recorder;

use slugstore::id::SlugId;

/// A resolved revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitCommit {
    /// The repository.
    pub repo: PathBuf,
    /// The revision as given.
    pub rev: String,
    /// The commit id.
    pub commit: String,
    /// The commit's tree id: the build's identity.
    pub tree: String,
}

/// Directory of deploy records under a target.
pub const DEPLOYS: &str = "deploys";

/// One phase of one deploy.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PhaseStatus {
    /// Which phase.
    pub phase: Phase,
    /// Where it stands.
    pub state: PhaseState,
    /// When it started (RFC 3339 UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<String>,
    /// How long it ran, in seconds, once finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
    /// A one-line summary (`reused build 3f2a…`) or the error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The stored record of a deploy (`TARGET/deploys/<id>.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeployRecord {
    /// The deploy's id.
    pub id: String,
    /// What was deployed: a source directory, `REPO@REV (commit)`, or `slug <id> (promoted from …)`.
    pub source: String,
    /// The environment deployed to, when the target is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    /// The git commit deployed, for a deploy from git.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git: Option<GitCommit>,
    /// Where the slug was promoted from (an environment or a slug name): nothing was built.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promoted_from: Option<String>,
    /// When it started (RFC 3339 UTC).
    pub started: String,
    /// Overall state: in progress, success, or failed.
    pub state: PhaseState,
    /// Total wall time in seconds, once finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
    /// The source tree's build key (the "tree id" of the platform).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tree: Option<String>,
    /// The slug deployed, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slug: Option<SlugId>,
    /// True when the build was reused instead of run.
    #[serde(default)]
    pub reused_build: bool,
    /// The release live when the deploy started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<SlugId>,
    /// Every phase, in order.
    pub phases: Vec<PhaseStatus>,
    /// The error that stopped the deploy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl DeployRecord {
    /// The status of `phase`.
    pub fn phase(&self, phase: Phase) -> &PhaseStatus {
        self.phases
            .iter()
            .find(|p| p.phase == phase)
            .expect("every phase is recorded")
    }
}

/// What the observer of a deploy is told.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// A phase changed state.
    Phase(&'a PhaseStatus),
    /// A line of output (hook output or a message of the pipeline), as written to the log.
    Line(&'a str),
}

/// Receives a deploy's events as they happen (from several threads while a hook runs).
pub type Observer<'a> = &'a (dyn Fn(Event<'_>) + Sync);
