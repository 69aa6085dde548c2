//! Choosing the release a rollback goes back to.
//!
//! `--steps N` walks back along the *deploy* history: the slugs made live by activation, in order, with
//! repeats in a row collapsed. The walk starts from the live release's last place in that history, so
//! rolling back twice goes two deploys back (not back and forth between the last two).
//!
//! `--to NAME` is matched against the target's own releases and history first (full id or a prefix of 4+
//! hex digits): that needs no store, so a rollback to a release on disk is a bare switch. Other names
//! (refs, slugs never deployed here) are resolved by the store.

use serde::{Deserialize, Serialize};

use crate::checkout::target::{State, SwitchKind, Target};
use crate::error::{Error, Result};
use crate::id::SlugId;
use crate::store::Store;

/// Where to roll back to.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct RollbackTo {
    /// The slug to go back to (ref, id or id prefix) instead of counting deploys.
    #[cfg_attr(
        feature = "clap",
        arg(long, value_name = "SLUG", conflicts_with = "steps")
    )]
    pub to: Option<String>,
    /// Go back this many deploys (default 1).
    #[cfg_attr(feature = "clap", arg(long, value_name = "N"))]
    pub steps: Option<usize>,
}

/// The slugs activated as deploys, oldest first, repeats in a row collapsed.
pub fn deploy_history(state: &State) -> Vec<SlugId> {
    let mut out: Vec<SlugId> = Vec::new();
    for a in state
        .activations
        .iter()
        .filter(|a| a.kind == SwitchKind::Activate)
    {
        if out.last() != Some(&a.slug) {
            out.push(a.slug);
        }
    }
    out
}

/// The slug `steps` deploys before the live one.
pub fn steps_back(state: &State, current: Option<SlugId>, steps: usize) -> Result<SlugId> {
    let history = deploy_history(state);
    let current = current.ok_or(Error::RollbackNothingLive)?;
    let pos = history
        .iter()
        .rposition(|s| *s == current)
        .ok_or(Error::RollbackNotInHistory(current))?;
    if steps == 0 || steps > pos {
        return Err(Error::RollbackTooFar {
            steps,
            recorded: pos,
        });
    }
    Ok(history[pos - steps])
}

/// Resolves `name` against the target's releases and history, without a store.
pub fn match_local(target: &Target, state: &State, name: &str) -> Result<Option<SlugId>> {
    let is_hex = name.len() >= 4 && name.len() <= 64 && name.bytes().all(|c| c.is_ascii_hexdigit());
    if !is_hex {
        return Ok(None);
    }
    let mut known = target.releases()?;
    known.extend(state.activations.iter().map(|a| a.slug));
    known.sort();
    known.dedup();
    known.retain(|id| id.object().has_hex_prefix(name));
    Ok(match known.as_slice() {
        [one] => Some(*one),
        _ => None,
    })
}

/// Resolves the rollback destination, with `store` when one is open: `None` when the answer needs the
/// store and none is (a name the target does not know).
pub fn resolve(
    target: &Target,
    state: &State,
    to: &RollbackTo,
    store: Option<&Store>,
) -> Result<Option<SlugId>> {
    match &to.to {
        Some(name) => resolve_name(target, state, name, store),
        None => Ok(Some(steps_back(
            state,
            target.current()?,
            to.steps.unwrap_or(1),
        )?)),
    }
}

/// Resolves a user-given slug name: locally when the target knows it, else through `store`; `None`
/// when the store is needed and not given.
pub fn resolve_name(
    target: &Target,
    state: &State,
    name: &str,
    store: Option<&Store>,
) -> Result<Option<SlugId>> {
    if let Some(id) = match_local(target, state, name)? {
        return Ok(Some(id));
    }
    store.map(|s| s.resolve(name)).transpose()
}
