//! Retention: forget slug records that fall outside a keep policy.
//!
//! Pruning only deletes slug records (one atomic index batch); the objects they used stay until
//! [`gc`](mod@crate::gc) finds them unreferenced. Splitting the two keeps prune instant and lets an operator
//! look at what a policy would drop (`--dry-run`) before any byte is gone.
//!
//! Whatever the policy says, a slug is never pruned while
//! - a ref points at it (refs are how people name releases; moving or deleting the ref is the explicit
//!   act that lets it go), except the refs the caller lets go in the same batch
//!   ([`PruneOptions::drop_refs`]: a deploy drops the build refs no deploy needs any more),
//! - a deploy target runs it (see [`crate::checkout::targets`]),
//! - it is listed in [`PruneOptions::protect`],
//! - a build-cache entry names it ([`crate::cache`]); `--cache-max-age` and `--cache-max-size` evict
//!   entries, least recently used first, before the slugs are looked at.
//!
//! The ref history (`slug refs NAME`) is kept as it is: an entry may then name a pruned slug, which a
//! rollback reports as unknown instead of restoring something else.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::checkout::targets;
use crate::error::{Error, Result};
use crate::id::SlugId;
use crate::slug::{now_secs, SlugRecord};
use crate::store::Store;

/// The keep policy.
#[derive(Debug, Clone, Default, Serialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct PruneOptions {
    /// Keep the N newest slugs (of the ref's history with --ref).
    #[cfg_attr(feature = "clap", arg(long, value_name = "N"))]
    pub keep_last: Option<usize>,
    /// Keep slugs created within this long, e.g. `30days`, `12h`.
    #[cfg_attr(feature = "clap", arg(long, value_name = "DURATION", value_parser = crate::units::parse_duration))]
    #[serde(serialize_with = "secs")]
    pub keep_within: Option<Duration>,
    /// Consider only slugs this ref has pointed at (newest = most recently set); others are kept.
    #[cfg_attr(feature = "clap", arg(long = "ref", value_name = "NAME"))]
    pub ref_name: Option<String>,
    /// Never prune these slugs (ref names, ids or id prefixes).
    #[cfg_attr(feature = "clap", arg(long, value_name = "SLUG"))]
    pub protect: Vec<String>,
    /// Report what would be pruned, change nothing.
    #[cfg_attr(feature = "clap", arg(long))]
    pub dry_run: bool,
    /// Evict build-cache entries not used within this long, e.g. `14days`.
    #[cfg_attr(feature = "clap", arg(long, value_name = "DURATION", value_parser = crate::units::parse_duration))]
    #[serde(serialize_with = "secs")]
    pub cache_max_age: Option<Duration>,
    /// Evict the least recently used build-cache entries until their outputs take at most this
    /// much, e.g. `20GiB`.
    #[cfg_attr(feature = "clap", arg(long, value_name = "SIZE", value_parser = crate::units::parse_size))]
    pub cache_max_size: Option<u64>,
    /// Refs to delete in the same batch as the pruned slugs (their history stays); the slugs they named
    /// are then protected by nothing but the policy. An embedder's own retention decides them (the
    /// deploy crate passes the build refs no deploy needs).
    #[cfg_attr(feature = "clap", arg(skip))]
    #[serde(skip)]
    pub drop_refs: Vec<String>,
}

/// A ref dropped (or to drop) by a prune.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DroppedRef {
    /// The ref's name.
    pub name: String,
    /// The slug it pointed at.
    pub slug: SlugId,
}

fn secs<S: serde::Serializer>(d: &Option<Duration>, s: S) -> std::result::Result<S::Ok, S::Error> {
    d.map(|d| d.as_secs()).serialize(s)
}

/// What a prune did (or would do, with `dry_run`).
#[derive(Debug, Clone, Serialize)]
pub struct PruneReport {
    /// Slugs removed (or to remove), oldest first.
    pub pruned: Vec<SlugRecord>,
    /// Slugs left in the store.
    pub kept: u64,
    /// Slugs kept whatever the policy says, with why.
    pub protected: BTreeMap<SlugId, Vec<String>>,
    /// The refs of [`PruneOptions::drop_refs`] dropped (or to drop).
    #[serde(rename = "build_refs_dropped")]
    pub refs_dropped: Vec<DroppedRef>,
    /// Build-cache entries evicted (or to evict), least recently used first.
    pub cache_evicted: Vec<crate::cache::EntrySummary>,
    /// True when nothing was changed on purpose.
    pub dry_run: bool,
}

/// Applies `opts` to `store`.
pub fn prune(store: &Store, opts: &PruneOptions) -> Result<PruneReport> {
    let cache_policy = opts.cache_max_age.is_some() || opts.cache_max_size.is_some();
    let slug_policy = opts.keep_last.is_some() || opts.keep_within.is_some();
    if !slug_policy && !cache_policy {
        return Err(Error::NoPolicy);
    }
    let cache_evicted = match cache_policy {
        true => crate::cache::evict(store, opts.cache_max_age, opts.cache_max_size, opts.dry_run)?,
        false => Vec::new(),
    };
    if !slug_policy {
        return Ok(PruneReport {
            pruned: Vec::new(),
            kept: store.slugs()?.len() as u64,
            protected: BTreeMap::new(),
            refs_dropped: Vec::new(),
            cache_evicted,
            dry_run: opts.dry_run,
        });
    }
    let dropped = dropped_refs(store, &opts.drop_refs)?;
    let protected = protected_slugs(store, &opts.protect, &dropped, &cache_evicted)?;
    let mut slugs = store.slugs()?;
    if opts.dry_run {
        // An evicted entry takes its outputs' slug with it (unless something else holds it, which
        // then protects it): a dry run, which evicted nothing, counts it gone as the real run does.
        slugs.retain(|r| {
            !cache_evicted.iter().any(|e| e.slug == r.id) || protected.contains_key(&r.id)
        });
    }
    let candidates = candidates(store, &slugs, opts.ref_name.as_deref())?;
    let mut keep: HashSet<SlugId> = HashSet::new();
    if let Some(n) = opts.keep_last {
        keep.extend(candidates.iter().take(n).map(|r| r.id));
    }
    if let Some(d) = opts.keep_within {
        let since = now_secs().saturating_sub(d.as_secs());
        keep.extend(
            candidates
                .iter()
                .filter(|r| r.created >= since)
                .map(|r| r.id),
        );
    }
    let mut pruned: Vec<SlugRecord> = candidates
        .iter()
        .filter(|r| !keep.contains(&r.id) && !protected.contains_key(&r.id))
        .map(|r| (*r).clone())
        .collect();
    pruned.sort_by_key(|r| r.creation_order());
    if !opts.dry_run && !pruned.is_empty() {
        let mut batch = store.index().batch();
        stage_drops(&mut batch, &dropped);
        for r in &pruned {
            batch.delete_slug(&r.id);
        }
        batch.commit()?;
    } else if !opts.dry_run {
        drop_refs(store, &dropped)?;
    }
    Ok(PruneReport {
        kept: (slugs.len() - pruned.len()) as u64,
        pruned,
        protected,
        refs_dropped: dropped,
        cache_evicted,
        dry_run: opts.dry_run,
    })
}

/// The refs of `names` that exist, with their slugs (a ref removed meanwhile is simply not dropped).
fn dropped_refs(store: &Store, names: &[String]) -> Result<Vec<DroppedRef>> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let wanted: BTreeSet<&str> = names.iter().map(String::as_str).collect();
    Ok(store
        .index()
        .refs()?
        .into_iter()
        .filter(|(name, _)| wanted.contains(name.as_str()))
        .map(|(name, slug)| DroppedRef { name, slug })
        .collect())
}

/// Adds the deletion of the `dropped` refs to `batch` (their history stays).
fn stage_drops(batch: &mut crate::store::Batch<'_>, dropped: &[DroppedRef]) {
    for d in dropped {
        batch.delete_ref(&d.name);
    }
}

/// Deletes the `dropped` refs in one batch (nothing when there are none).
fn drop_refs(store: &Store, dropped: &[DroppedRef]) -> Result<()> {
    if dropped.is_empty() {
        return Ok(());
    }
    let mut batch = store.index().batch();
    stage_drops(&mut batch, dropped);
    batch.commit()
}

/// The slugs the policy applies to, newest first: every slug, or those `ref_name` has pointed at.
fn candidates<'a>(
    store: &Store,
    slugs: &'a [SlugRecord],
    ref_name: Option<&str>,
) -> Result<Vec<&'a SlugRecord>> {
    let by_id: BTreeMap<SlugId, &SlugRecord> = slugs.iter().map(|r| (r.id, r)).collect();
    match ref_name {
        None => Ok(slugs.iter().rev().collect()),
        Some(name) => {
            let log = store.index().ref_log(name)?;
            if log.is_empty() {
                return Err(Error::UnknownSlug(name.to_string()));
            }
            let mut seen = BTreeSet::new();
            Ok(log
                .iter()
                .rev()
                .filter(|e| seen.insert(e.slug))
                .filter_map(|e| by_id.get(&e.slug).copied())
                .collect())
        }
    }
}

/// Every slug that must survive, with the reasons.
fn protected_slugs(
    store: &Store,
    explicit: &[String],
    dropped: &[DroppedRef],
    evicted: &[crate::cache::EntrySummary],
) -> Result<BTreeMap<SlugId, Vec<String>>> {
    let mut out: BTreeMap<SlugId, Vec<String>> = BTreeMap::new();
    for (name, id) in store.index().refs()? {
        if dropped.iter().any(|d| d.name == name) {
            continue;
        }
        out.entry(id).or_default().push(format!("ref {name}"));
    }
    for (target, id) in targets::list(store)? {
        out.entry(id)
            .or_default()
            .push(format!("registered on {target}"));
        if let Some(live) = targets::live(Path::new(&target))? {
            out.entry(live)
                .or_default()
                .push(format!("live on {target}"));
        }
    }
    // A dry run evicted nothing: its entries still name their slugs, but protect nothing the real run
    // would keep.
    for (id, why) in crate::cache::evict::protected(store, evicted)? {
        out.entry(id).or_default().push(why);
    }
    for name in explicit {
        let id = store.resolve(name)?;
        out.entry(id).or_default().push("--protect".into());
    }
    Ok(out)
}
