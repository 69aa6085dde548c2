//! Removing a ref: the explicit act that lets its slug go.
//!
//! A ref protects its slug from [`prune`](mod@crate::prune); removing it is how an operator says a
//! release (or a build, `builds/<key>`) is no longer wanted. Only the name goes: the ref's history
//! stays readable (`slug refs NAME`), the slug stays until a prune's policy drops it, and its objects
//! until the next [`gc`](mod@crate::gc).

use crate::error::{Error, Result};
use crate::id::SlugId;
use crate::store::Store;

/// Removes the ref `name` and returns the slug it pointed at; an error when there is no such ref.
pub fn remove_ref(store: &Store, name: &str) -> Result<SlugId> {
    let Some(slug) = store.index().get_ref(name)? else {
        return Err(Error::Invalid(format!("no ref named `{name}`")));
    };
    let mut batch = store.index().batch();
    batch.delete_ref(name);
    batch.commit()?;
    Ok(slug)
}
