//! The live object set: what the remaining slugs need.

use std::collections::HashSet;

use crate::error::Result;
use crate::id::ObjectId;
use crate::store::Store;

/// Every object a slug of `store` needs: each slug's manifest and every file content it names, and
/// the same for the outputs of every build-cache entry.
///
/// Fails if a manifest cannot be read: without it there is no knowing what that slug needs, and deleting
/// anything would risk it.
pub fn live_objects(store: &Store) -> Result<HashSet<ObjectId>> {
    let mut live = HashSet::new();
    for rec in store.index().slugs()? {
        live.extend(store.slug_objects(&rec.id)?);
    }
    // Cache entries are roots until evicted, whatever became of their slug's record.
    for slug in crate::cache::evict::live_slugs(store)? {
        live.extend(store.slug_objects(&slug)?);
    }
    Ok(live)
}
