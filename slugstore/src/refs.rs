//! Refs as a caller sees them: the list, which refs name each slug, a ref's history, and removing
//! a ref, the explicit act that lets its slug go.
//!
//! A ref protects its slug from [`prune`](mod@crate::prune); removing it is how an operator says a
//! release (or a build, `builds/<key>`) is no longer wanted. Only the name goes: the ref's history
//! stays readable (`slug refs NAME`), the slug stays until a prune's policy drops it, and its objects
//! until the next [`gc`](mod@crate::gc).

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::id::SlugId;
use crate::store::{RefLogEntry, Store};

/// Every ref of `store` with its slug, by name.
pub fn list(store: &Store) -> Result<Vec<(String, SlugId)>> {
    store.index().refs()
}

/// The names of the refs pointing at each slug that has any, each list by name.
pub fn by_slug(store: &Store) -> Result<BTreeMap<SlugId, Vec<String>>> {
    let mut refs: BTreeMap<SlugId, Vec<String>> = BTreeMap::new();
    for (name, id) in list(store)? {
        refs.entry(id).or_default().push(name);
    }
    Ok(refs)
}

/// The history of ref `name`, newest first: every slug it was set to, removed refs included
/// ([`Error::UnknownSlug`] when no ref of that name ever was).
pub fn history(store: &Store, name: &str) -> Result<Vec<RefLogEntry>> {
    let mut log = store.index().ref_log(name)?;
    if log.is_empty() {
        return Err(Error::UnknownSlug(name.to_owned()));
    }
    log.reverse();
    Ok(log)
}

/// Removes the ref `name` and returns the slug it pointed at; an error when there is no such ref.
pub fn remove_ref(store: &Store, name: &str) -> Result<SlugId> {
    let Some(slug) = store.index().get_ref(name)? else {
        return Err(Error::UnknownRef(name.to_owned()));
    };
    let mut batch = store.index().batch();
    batch.delete_ref(name);
    batch.commit()?;
    Ok(slug)
}
