//! Where a deploy goes: a target directory, and the environment it is, if any.

use std::path::PathBuf;

use super::Environment;

/// Where a deploy goes: a target directory, and the environment it is, if any.
#[derive(Debug, Clone)]
pub struct Destination {
    /// The target directory (created if absent).
    pub target: PathBuf,
    /// The environment whose target it is: its variables reach the hooks.
    pub env: Option<Environment>,
}

impl Destination {
    /// A target directory outside any environment.
    pub fn dir(target: impl Into<PathBuf>) -> Destination {
        Destination {
            target: target.into(),
            env: None,
        }
    }

    /// The target of environment `env`.
    pub fn env(env: Environment) -> Destination {
        Destination {
            target: env.target.clone(),
            env: Some(env),
        }
    }
}
