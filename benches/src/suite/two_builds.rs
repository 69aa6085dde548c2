//! What the scenarios that time a `slug` command on two builds start from (checkout, diff): the `slug`
//! binary, if it has the command, and a store of the scenario's own holding the build tree's slug and
//! the slug of the tree after the 1 % churn. Set up outside the clock.

use std::path::{Path, PathBuf};
use std::process::Command;

use slugstore::{Error, Result};

use super::backend::Backend;
use super::backends::Slug;
use super::exec::remove_tree;
use super::timing::skip;
use super::Env;

/// The `slug` binary of `env` when it has the subcommand `command`; otherwise `None`, with the reason
/// `scenario` is skipped recorded in `skipped`.
pub fn slug_with<'a>(
    env: &'a Env,
    scenario: &str,
    command: &str,
    skipped: &mut Vec<String>,
) -> Option<&'a Path> {
    let Some(bin) = env.slug.as_deref() else {
        skip(skipped, scenario, "no slug binary");
        return None;
    };
    // `slug COMMAND --help` fails on a binary older than the command.
    let has_command = Command::new(bin)
        .args([command, "--help"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_command {
        let why = format!("{} has no `{command}` command", bin.display());
        skip(skipped, scenario, why);
        return None;
    }
    Some(bin)
}

/// The two builds in a new store at `root/store` (`root` emptied first).
pub struct TwoBuilds {
    /// The store.
    pub store: PathBuf,
    /// The slug of the build tree.
    pub first: String,
    /// The slug of the tree after the 1 % churn.
    pub next: String,
}

/// Snapshots the build tree, then the churned tree, into a new store under `root`.
pub fn two_builds(env: &Env, bin: &Path, root: &Path) -> Result<TwoBuilds> {
    remove_tree(root)?;
    let mut source = Slug::new(bin.to_path_buf());
    let store = root.join("store");
    source.init(&store)?;
    source.snapshot(&env.ws.base)?;
    source.snapshot(&env.ws.churned)?;
    let [first, next] = source.slugs() else {
        return Err(Error::external(format!(
            "{}: expected two slugs, got {:?}",
            store.display(),
            source.slugs()
        )));
    };
    Ok(TwoBuilds {
        first: first.clone(),
        next: next.clone(),
        store,
    })
}
