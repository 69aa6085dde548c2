//! Listing, removing and evicting cache entries, and what they keep alive.
//!
//! An entry's outputs are a slug, labelled `cache`, that no ref names: it is kept by `slug prune`
//! (see [`protected`]) and counted live by `slug gc` (see [`live_slugs`]) for as long as an entry
//! names it. Removing an entry (`slug cache rm`, or `slug prune --cache-max-age/--cache-max-size`,
//! least recently used first) drops the record and, in the same batch, that slug's record when
//! nothing else holds it; the next `slug gc` frees the objects no other slug shares.

use std::collections::HashSet;
use std::time::Duration;

use serde::Serialize;

use super::record::{self, Record};
use crate::error::{Error, Result};
use crate::id::{ObjectId, SlugId};
use crate::slug::now_secs;
use crate::store::Store;

/// One entry, as `slug cache ls` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct EntrySummary {
    /// The key.
    pub key: ObjectId,
    /// The step.
    pub name: String,
    /// The outputs' tree.
    pub slug: SlugId,
    /// Declared outputs.
    pub outputs: Vec<String>,
    /// Files in the outputs.
    pub files: u64,
    /// Bytes of those files.
    pub bytes: u64,
    /// When the entry was recorded, Unix seconds.
    pub created: u64,
    /// When it was last restored, Unix seconds (`None`: never).
    pub last_used: Option<u64>,
}

impl EntrySummary {
    fn of(store: &Store, r: &Record) -> Result<EntrySummary> {
        Ok(EntrySummary {
            key: r.key,
            name: r.parts.name.clone(),
            slug: r.slug,
            outputs: r.outputs.clone(),
            files: r.stats.files,
            bytes: r.stats.bytes,
            created: r.created_ns / 1_000_000_000,
            last_used: record::last_used(store, &r.key)?,
        })
    }

    /// The time that orders entries for eviction: the last hit, or the recording.
    pub fn used(&self) -> u64 {
        self.last_used.unwrap_or(self.created).max(self.created)
    }
}

/// Every entry, by name, then oldest first.
pub fn list(store: &Store) -> Result<Vec<EntrySummary>> {
    let mut v = record::all(store)?
        .iter()
        .map(|r| EntrySummary::of(store, r))
        .collect::<Result<Vec<_>>>()?;
    v.sort_by(|a, b| (&a.name, a.created, a.key).cmp(&(&b.name, b.created, b.key)));
    Ok(v)
}

/// Removes the entries of step `what`, or the entry whose key starts with `what`.
pub fn remove(store: &Store, what: &str) -> Result<Vec<EntrySummary>> {
    let all = list(store)?;
    let mut hit: Vec<EntrySummary> = all.iter().filter(|e| e.name == what).cloned().collect();
    if hit.is_empty() && what.len() >= 4 {
        hit = all
            .iter()
            .filter(|e| e.key.has_hex_prefix(&what.to_ascii_lowercase()))
            .cloned()
            .collect();
        if hit.len() > 1 {
            return Err(Error::AmbiguousCacheKey {
                prefix: what.to_owned(),
                matches: hit.len(),
            });
        }
    }
    if hit.is_empty() {
        return Err(Error::UnknownCacheEntry(format!("`{what}`")));
    }
    drop_entries(store, &hit)?;
    Ok(hit)
}

/// Evicts entries last used longer ago than `max_age`, then the least recently used until the
/// rest holds at most `max_size` bytes of outputs. With `dry_run`, only says which.
pub fn evict(
    store: &Store,
    max_age: Option<Duration>,
    max_size: Option<u64>,
    dry_run: bool,
) -> Result<Vec<EntrySummary>> {
    let mut all = list(store)?;
    // Most recently used first: what is kept is a prefix.
    all.sort_by_key(|e| std::cmp::Reverse((e.used(), e.created)));
    let oldest = max_age.map(|d| now_secs().saturating_sub(d.as_secs()));
    let mut total = 0u64;
    let mut gone = Vec::new();
    for e in all {
        total = total.saturating_add(e.bytes);
        let too_old = oldest.is_some_and(|t| e.used() < t);
        let too_big = max_size.is_some_and(|m| total > m);
        if too_old || too_big {
            total -= e.bytes;
            gone.push(e);
        }
    }
    if !dry_run && !gone.is_empty() {
        drop_entries(store, &gone)?;
    }
    Ok(gone)
}

/// Drops `entries` and the cache slugs no ref or remaining entry names, in one batch.
fn drop_entries(store: &Store, entries: &[EntrySummary]) -> Result<()> {
    let keys: HashSet<ObjectId> = entries.iter().map(|e| e.key).collect();
    let mut held: HashSet<SlugId> = store.index().refs()?.into_iter().map(|(_, s)| s).collect();
    held.extend(
        record::all(store)?
            .iter()
            .filter(|r| !keys.contains(&r.key))
            .map(|r| r.slug),
    );
    let mut batch = store.index().batch();
    for e in entries {
        record::stage_delete(&mut batch, &e.key);
        let is_cache = store
            .index()
            .slug(&e.slug)?
            .is_some_and(|s| s.labels.contains_key("cache"));
        if is_cache && held.insert(e.slug) {
            batch.delete_slug(&e.slug);
        }
    }
    batch.commit()
}

/// The slugs cache entries keep, with why (for `slug prune`).
pub fn protected(store: &Store, evicted: &[EntrySummary]) -> Result<Vec<(SlugId, String)>> {
    Ok(record::all(store)?
        .into_iter()
        .filter(|r| !evicted.iter().any(|e| e.key == r.key))
        .map(|r| (r.slug, format!("cache entry {}", r.parts.name)))
        .collect())
}

/// The slugs cache entries keep (for `slug gc`'s live set).
pub fn live_slugs(store: &Store) -> Result<Vec<SlugId>> {
    Ok(record::all(store)?.into_iter().map(|r| r.slug).collect())
}
