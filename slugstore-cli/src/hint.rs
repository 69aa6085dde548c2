//! What to run next, added to the library's errors when they are printed.
//!
//! The library's errors carry the facts (which remote, which target, which store); only the CLI
//! knows its own commands, so the `slug ...` hint that tells a user how to fix the error is added
//! here, where the error is printed.

use slugstore::checkout::target::RELEASES;
use slugstore::Error;
use slugstore_deploy::Error as DeployError;

/// `e` as the user reads it: its message, with the `slug` command that fixes it when there is one
/// (also for the error a failed deploy phase carries).
pub fn message(e: &DeployError) -> String {
    match e {
        DeployError::Store(e) => store_message(e),
        DeployError::UnknownBranch(_) => format!("{e} (see `slug env add --branch`)"),
        DeployError::UnknownEnvironment { known, .. } if known.is_empty() => {
            format!("{e} (see `slug env add`)")
        }
        DeployError::EnvironmentExists(name) => {
            format!("{e} (remove it first with `slug env rm {name}`)")
        }
        DeployError::NoBuildKey {
            subject,
            environment,
        } => format!(
            "{subject} records no build key (it was not built by `slug deploy`), so whether \
             environment `{environment}` would build it the same way cannot be checked; promote \
             with --force to deploy it anyway"
        ),
        DeployError::Deploy {
            deploy,
            phase,
            source,
        } => format!(
            "deploy {deploy} failed in phase {}: {}",
            phase.as_str(),
            message(source)
        ),
        _ => e.to_string(),
    }
}

/// A store error as the user reads it, with its hint.
pub fn store_message(e: &Error) -> String {
    match e {
        Error::NoStore(_) => format!("{e} (run `slug init` or pass --store)"),
        Error::UnknownRemote(_) => format!("{e} (see `slug remote ls`)"),
        Error::NoRemote => format!("{e} (add one with `slug remote add NAME URL`)"),
        Error::NotATarget(root) => format!(
            "{} is not a deploy target (no {RELEASES}/ directory; run `slug checkout` first)",
            root.display()
        ),
        Error::NoRelease { target, slug, .. } => format!(
            "{e} (run `slug checkout {} --target {}`)",
            slug.short(12),
            target.display()
        ),
        Error::WatcherRunning(root) => {
            format!("{e} (stop it with `slug watch --stop {}`)", root.display())
        }
        _ => e.to_string(),
    }
}

/// The message of an error among the causes of another: with its hint when it is one of ours.
pub fn cause(e: &(dyn std::error::Error + 'static)) -> String {
    if let Some(e) = e.downcast_ref::<DeployError>() {
        return message(e);
    }
    match e.downcast_ref::<Error>() {
        Some(e) => store_message(e),
        None => e.to_string(),
    }
}
