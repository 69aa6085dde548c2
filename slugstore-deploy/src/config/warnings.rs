//! Warnings: what a valid configuration makes impossible at deploy time.
//!
//! On the platform a release is read-only except for its mounts, and a configuration without `mounts:`
//! is valid: the application then simply has nowhere to write. That is legal but rarely meant, and the
//! consequences only show at deploy (no maintenance page, logs that fail to open), so validation names
//! them up front. A warning never refuses a deploy.

use super::project::Project;
use super::APP_FILE;
use crate::diagnostic::{Diagnostic, KeyPath};

/// Paths the deploy writes into when they are mounts, and what is lost when they are not.
const WRITABLE: &[(&str, &str)] = &[
    (
        "var",
        "the maintenance flag (var/.maintenance.flag), the failure flag (var/.deploy_is_failed) and the \
         application's logs (var/log) have nowhere to go: deploy hooks run without maintenance mode",
    ),
    (
        "app/etc",
        "app/etc stays read-only: env.php cannot be written at deploy and no env.php/config.php backups \
         (.bak) are kept",
    ),
    (
        "pub/media",
        "pub/media stays read-only: the application cannot store uploaded media",
    ),
];

impl Project {
    /// What the configuration makes impossible at deploy time, one warning per path the platform
    /// expects writable but no mount covers. Empty for the usual Magento mounts.
    pub fn warnings(&self) -> Vec<Diagnostic> {
        let covered = |path: &str| {
            self.app.mounts.iter().any(|m| {
                path == m.path
                    || path
                        .strip_prefix(m.path.as_str())
                        .is_some_and(|rest| rest.starts_with('/'))
            })
        };
        let at = KeyPath::root().child("mounts");
        WRITABLE
            .iter()
            .filter(|(path, _)| !covered(path))
            .map(|(path, what)| {
                let message = format!("no mount covers `{path}`: {what}");
                Diagnostic::new(APP_FILE, None, &at, message)
            })
            .collect()
    }
}
