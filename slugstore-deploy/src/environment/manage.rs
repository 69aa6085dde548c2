//! The environment operations of a store as whole steps: load the registry, change or read it, save.
//!
//! [`Registry`] is the file and its rules; a caller managing environments (the `env` commands, a
//! status page, an embedder's own tooling) wants the step itself, loaded and saved the one way, and
//! the deploy destination an environment name or a git branch stands for.

use std::path::Path;

use crate::error::{Error, Result};
use slugstore::diff::DiffReport;
use slugstore::id::SlugId;
use slugstore::store::Store;

use super::{
    absolute_target, history, resolve, Destination, Environment, HistoryEntry, Registry, Settings,
};

/// Adds environment `name` deploying to `target` (made absolute), with `branch` (the name when
/// `None`) and `settings`, to the registry of `store`. Returns it.
pub fn add(
    store: &Store,
    name: &str,
    target: &Path,
    branch: Option<String>,
    settings: &Settings,
) -> Result<Environment> {
    let mut registry = Registry::load(store.root())?;
    let mut env = Environment::new(name, absolute_target(target)?);
    env.branch = branch;
    settings.apply(&mut env)?;
    registry.add(env.clone())?;
    registry.save(store)?;
    Ok(env)
}

/// Changes environment `name` of `store` as `settings` say, all or nothing. Returns it changed.
pub fn update(store: &Store, name: &str, settings: &Settings) -> Result<Environment> {
    let mut registry = Registry::load(store.root())?;
    let env = registry.get_mut(name)?;
    settings.apply(env)?;
    let changed = env.clone();
    registry.save(store)?;
    Ok(changed)
}

/// Removes environment `name` from `store` (its target directory is left as it is). Returns it.
pub fn remove(store: &Store, name: &str) -> Result<Environment> {
    let mut registry = Registry::load(store.root())?;
    let env = registry.remove(name)?;
    registry.save(store)?;
    Ok(env)
}

/// Every environment of the store at `store_root`, by name, with its live release.
pub fn list_live(store_root: &Path) -> Result<Vec<(Environment, Option<SlugId>)>> {
    Registry::load(store_root)?
        .environments
        .into_values()
        .map(|e| {
            let live = slugstore::checkout::targets::live(&e.target)?;
            Ok((e, live))
        })
        .collect()
}

/// Environment `name` of the store at `store_root`, with its live release.
pub fn get_live(store_root: &Path, name: &str) -> Result<(Environment, Option<SlugId>)> {
    let env = Registry::load(store_root)?.get(name)?.clone();
    let live = slugstore::checkout::targets::live(&env.target)?;
    Ok((env, live))
}

/// The history of environment `name` of the store at `store_root` (see [`history()`]).
pub fn history_of(store_root: &Path, name: &str) -> Result<Vec<HistoryEntry>> {
    history(Registry::load(store_root)?.get(name)?)
}

/// The environment git branch `branch` deploys to, in the store at `store_root`
/// ([`Error::UnknownBranch`] when none does).
pub fn for_branch(store_root: &Path, branch: &str) -> Result<Environment> {
    Registry::load(store_root)?
        .for_branch(branch)
        .cloned()
        .ok_or_else(|| Error::UnknownBranch(branch.to_owned()))
}

/// The deploy destination of environment `name` of the store at `store_root`.
pub fn destination(store_root: &Path, name: &str) -> Result<Destination> {
    Ok(Destination::env(
        Registry::load(store_root)?.get(name)?.clone(),
    ))
}

/// The deploy destination of the environment git branch `branch` deploys to (see [`for_branch`]).
pub fn destination_for_branch(store_root: &Path, branch: &str) -> Result<Destination> {
    Ok(Destination::env(for_branch(store_root, branch)?))
}

/// The paths that differ between two slugs of `store`, each named by environment (its live
/// release; an environment's name wins over a ref of the same name), ref, id or id prefix.
pub fn diff_named(store: &Store, from: &str, to: &str) -> Result<DiffReport> {
    let registry = Registry::load(store.root())?;
    let (from, _) = resolve(store, &registry, from)?;
    let (to, _) = resolve(store, &registry, to)?;
    Ok(slugstore::diff::diff(store, &from, &to)?)
}
