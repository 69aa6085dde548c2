//! The phases of a deploy and their states: what a deploy record, an error and the status page
//! name, so they sit below all three.

use serde::{Deserialize, Serialize};

/// The phases of a deploy, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Phase 1: read and check the configuration, report the topology change.
    Validate,
    /// Phase 2: build the source tree (or reuse an earlier build of the same tree).
    Build,
    /// Phase 3: snapshot the build output into a slug.
    Slug,
    /// Phase 4: materialize the release and wire its mounts.
    Release,
    /// Phase 5: deploy hooks, under maintenance mode.
    Deploy,
    /// Switch `current`, post-switch command, post-deploy hook, backups.
    PostDeploy,
}

impl Phase {
    /// Every phase, in order.
    pub const ALL: [Phase; 6] = [
        Phase::Validate,
        Phase::Build,
        Phase::Slug,
        Phase::Release,
        Phase::Deploy,
        Phase::PostDeploy,
    ];

    /// The phase's name (`post_deploy`).
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Validate => "validate",
            Phase::Build => "build",
            Phase::Slug => "slug",
            Phase::Release => "release",
            Phase::Deploy => "deploy",
            Phase::PostDeploy => "post_deploy",
        }
    }
}

/// Where a phase, or the whole deploy, stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhaseState {
    /// Not started.
    Pending,
    /// Running now (or the process died while it ran).
    InProgress,
    /// Done.
    Success,
    /// Stopped the deploy.
    Failed,
}

impl PhaseState {
    /// The state's name (`in_progress`).
    pub fn as_str(self) -> &'static str {
        match self {
            PhaseState::Pending => "pending",
            PhaseState::InProgress => "in_progress",
            PhaseState::Success => "success",
            PhaseState::Failed => "failed",
        }
    }
}
