//! Deploy targets known to the store, so retention never drops a release that is live somewhere.
//!
//! A deploy switches a target directory to a slug; the store itself cannot see that directory, so
//! a checkout registers the target here, in the same store: one `meta` entry per target,
//! `target:<canonical path>` → slug id (hex). [`prune`](mod@crate::prune) protects every registered slug
//! and, read at that moment, the slug each registered target's `current` link points at ([`live`]): a
//! switch changes only the link, so activating or rolling back never has to open the store.
//! Registering is idempotent and cheap (one index write); a target that is torn down is removed with
//! [`unregister`].

use std::path::Path;

use crate::error::{Error, Result};
use crate::id::SlugId;
use crate::store::{Batch, Store};

const PREFIX: &str = "target:";

/// Records in `batch` that `target` now runs `live`.
pub fn register(batch: &mut Batch<'_>, target: &Path, live: SlugId) {
    batch.put_meta(&key(target), &live.to_hex());
}

/// Removes `target` from the registry in `batch`.
pub fn unregister(batch: &mut Batch<'_>, target: &Path) {
    batch.delete_meta(&key(target));
}

/// Every registered target and the slug it runs, sorted by path.
pub fn list(store: &Store) -> Result<Vec<(String, SlugId)>> {
    store
        .index()
        .meta_with_prefix(PREFIX)?
        .into_iter()
        .map(|(k, v)| {
            let id: SlugId = v.parse().map_err(|e| {
                Error::format(format!("store index, meta entry {k}"), format!("{e}"))
            })?;
            Ok((k[PREFIX.len()..].to_string(), id))
        })
        .collect()
}

/// The slug live on the registered target at `target` (its `current` link), `None` when the target is
/// gone or nothing is live.
pub fn live(target: &Path) -> Result<Option<SlugId>> {
    match super::Target::existing(target) {
        Ok(t) => t.current(),
        Err(_) => Ok(None),
    }
}

fn key(target: &Path) -> String {
    format!("{PREFIX}{}", target.display())
}
