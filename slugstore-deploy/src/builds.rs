//! Retention of builds: which `builds/<key>` refs a prune lets go.
//!
//! Every deploy that builds records its slug under the ref `builds/<key>`, so that the same tree and
//! configuration are never built twice. Refs protect their slugs from [`prune`](mod@slugstore::prune), so
//! without this every build ever made would stay in the store. A build ref is still worth keeping while
//! its slug may be deployed again without a build: when it is live on a deploy target, materialized as
//! a release on one (a rollback needs no store, but a re-checkout does), among the newest deploys of an
//! environment's history that the prune's policy keeps (`--keep-last N` deploys, those within
//! `--keep-within`), or protected by name. Every other build ref is dropped by the prune, in the same
//! index batch as the slugs it frees; its slug then goes by the ordinary policy.
//!
//! The targets looked at are those registered in the store ([`slugstore::checkout::targets`]) and those of the
//! environments (`environments.json`); a target that is gone protects nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use slugstore::checkout::Target;
use slugstore::id::SlugId;
use slugstore::prune::{DroppedRef, PruneOptions, PruneReport};
use slugstore::slug::now_secs;
use slugstore::store::Store;

use crate::deploy::reuse::BUILD_REF_PREFIX;
use crate::environment::{history, Registry};
use crate::error::Result;
use crate::status::PhaseState;

/// Prunes `store` as `opts` say ([`slugstore::prune()`]), dropping in the same batch the build refs
/// no deploy needs ([`droppable_refs`]).
pub fn prune(store: &Store, opts: &PruneOptions) -> Result<PruneReport> {
    let mut opts = opts.clone();
    if opts.keep_last.is_some() || opts.keep_within.is_some() {
        opts.drop_refs = droppable_refs(store, &opts)?
            .into_iter()
            .map(|d| d.name)
            .collect();
    }
    Ok(slugstore::prune(store, &opts)?)
}

/// The build refs `opts` lets go: none when the prune is limited to one ref's history (`--ref`).
pub fn droppable_refs(store: &Store, opts: &PruneOptions) -> Result<Vec<DroppedRef>> {
    if opts.ref_name.is_some() {
        return Ok(Vec::new());
    }
    let needed = needed(store, opts)?;
    let refs = slugstore::refs::list(store)?;
    // A slug another ref also names stays anyway: keep its build ref, so its build is still reused.
    let named: BTreeSet<SlugId> = refs
        .iter()
        .filter(|(name, _)| !name.starts_with(BUILD_REF_PREFIX))
        .map(|(_, id)| *id)
        .collect();
    Ok(refs
        .into_iter()
        .filter(|(name, id)| {
            name.starts_with(BUILD_REF_PREFIX) && !needed.contains_key(id) && !named.contains(id)
        })
        .map(|(name, slug)| DroppedRef { name, slug })
        .collect())
}

/// Every slug a deploy may still need without a build, with why.
pub fn needed(store: &Store, opts: &PruneOptions) -> Result<BTreeMap<SlugId, Vec<String>>> {
    let mut out: BTreeMap<SlugId, Vec<String>> = BTreeMap::new();
    let registry = Registry::load(store.root())?;
    let mut targets: BTreeSet<PathBuf> = BTreeSet::new();
    for (path, id) in slugstore::checkout::targets::list(store)? {
        // What the target last switched to, as recorded, even if the target cannot be read now.
        out.entry(id)
            .or_default()
            .push(format!("registered on {path}"));
        targets.insert(PathBuf::from(path));
    }
    targets.extend(registry.environments.values().map(|e| e.target.clone()));
    for dir in &targets {
        let Ok(target) = Target::existing(dir) else {
            continue;
        };
        if let Some(live) = target.current()? {
            out.entry(live)
                .or_default()
                .push(format!("live on {}", dir.display()));
        }
        for id in target.releases()? {
            out.entry(id)
                .or_default()
                .push(format!("release on disk in {}", dir.display()));
        }
    }
    let since = opts
        .keep_within
        .map(|d| now_secs().saturating_sub(d.as_secs()));
    for env in registry.environments.values() {
        let mut seen = BTreeSet::new();
        let deployed = history(env)?
            .into_iter()
            .rev()
            .filter(|h| h.state == PhaseState::Success)
            .filter_map(|h| Some((h.slug?, h.time)));
        for (slug, time) in deployed {
            let newest = seen.insert(slug) && seen.len() <= opts.keep_last.unwrap_or(0);
            let recent = since.is_some_and(|since| unix(&time) >= since);
            if newest || recent {
                out.entry(slug)
                    .or_default()
                    .push(format!("kept in the history of environment {}", env.name));
            }
        }
    }
    for name in &opts.protect {
        out.entry(store.resolve(name)?)
            .or_default()
            .push("--protect".into());
    }
    Ok(out)
}

/// Unix seconds of an RFC 3339 time of a history entry (0 when unreadable: never "recent").
fn unix(time: &str) -> u64 {
    humantime::parse_rfc3339_weak(time)
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::environment::Environment;
    use slugstore::id::ObjectId;
    use slugstore::store::OpenOptions;

    fn slug(n: u8) -> SlugId {
        SlugId(ObjectId::hash(&[n]))
    }

    /// A deploy record of `slug` started at Unix time `at`, ended in `state`.
    fn deployed(target: &std::path::Path, id: &str, slug: SlugId, at: u64, state: &str) {
        let dir = target.join(crate::status::DEPLOYS);
        std::fs::create_dir_all(&dir).unwrap();
        let record = serde_json::json!({
            "id": id, "source": "src", "started": slugstore::slug::format_time(at),
            "state": state, "slug": slug, "phases": [],
        });
        std::fs::write(dir.join(format!("{id}.json")), record.to_string()).unwrap();
    }

    #[test]
    fn an_environment_keeps_its_newest_and_its_recent_successful_deploys() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::init(&dir.path().join("store"), &OpenOptions::default()).unwrap();
        let target = dir.path().join("prod");
        let now = now_secs();
        let day = 86_400;
        deployed(&target, "1", slug(1), now - 30 * day, "success");
        deployed(&target, "2", slug(2), now - 20 * day, "success");
        deployed(&target, "3", slug(3), now - 3 * day, "success");
        deployed(&target, "4", slug(4), now - 2 * day, "failed");
        deployed(&target, "5", slug(5), now - day, "success");
        deployed(&target, "6", slug(3), now - 60, "success");
        let mut registry = Registry::load(store.root()).unwrap();
        // From its stored form, so that fields added to environments keep their defaults.
        let env: Environment =
            serde_json::from_value(serde_json::json!({"name": "prod", "target": target})).unwrap();
        registry.add(env).unwrap();
        registry.save(&store).unwrap();
        let kept = |keep_last: Option<usize>, days: Option<u64>| -> Vec<SlugId> {
            let opts = PruneOptions {
                keep_last,
                keep_within: days.map(|d| std::time::Duration::from_secs(d * day)),
                ..PruneOptions::default()
            };
            needed(&store, &opts).unwrap().into_keys().collect()
        };
        let sorted = |mut v: Vec<SlugId>| {
            v.sort();
            v
        };
        // The newest distinct successful deploys: 3 (again, a minute ago) and 5; failed 4 never counts.
        assert_eq!(kept(Some(2), None), sorted(vec![slug(3), slug(5)]));
        assert_eq!(kept(Some(3), None), sorted(vec![slug(2), slug(3), slug(5)]));
        // Within 25 days: 2, 3, 5.
        assert_eq!(
            kept(None, Some(25)),
            sorted(vec![slug(2), slug(3), slug(5)])
        );
        assert_eq!(kept(Some(0), None), Vec::<SlugId>::new());
    }
}
