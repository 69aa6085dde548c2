//! A read-only picture of every environment: what is live, what is on disk, how the last deploys went.
//!
//! This is what a status page shows and refreshes while deploys run, so it is built from files alone,
//! without opening the store: the store's lock is held by every running `slug` command, a deploy's for
//! minutes, and a page that waited on it would freeze exactly when there is something to watch. Every
//! file read here is replaced whole by its writers (the registry, each target's `state.json`, each
//! deploy's record), so a reader sees a state that was true at some instant, never half a write.
//!
//! A target that cannot be read (deleted, or a damaged `state.json`) does not fail the overview: its
//! environment carries the error instead, and the others are shown as usual.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::cron::CronRun;
use crate::deploy::DeployRecord;
use crate::environment::{Environment, Registry};
use crate::error::Result;
use crate::status::{list, load};
use slugstore::checkout::{self, Activation, ReleaseStatus};
use slugstore::id::SlugId;

/// How much of each environment's past to include.
#[derive(Debug, Clone, Copy)]
pub struct OverviewOptions {
    /// The newest deploys to include per environment (their records, phases included).
    pub deploys: usize,
    /// The newest switches of `current` (deploys and rollbacks) to include per environment.
    pub activations: usize,
}

impl Default for OverviewOptions {
    fn default() -> Self {
        OverviewOptions {
            deploys: 10,
            activations: 10,
        }
    }
}

/// Every environment of a store, by name.
#[derive(Debug, Clone, Serialize)]
pub struct Overview {
    /// The environments, sorted by name.
    pub environments: Vec<EnvironmentView>,
}

/// One environment as it stands.
#[derive(Debug, Clone, Serialize)]
pub struct EnvironmentView {
    /// Its name.
    pub name: String,
    /// Its deploy target directory.
    pub target: PathBuf,
    /// The git branch whose pushes deploy here.
    pub branch: String,
    /// The live release, if any.
    pub live: Option<SlugId>,
    /// Releases on disk, most recently used first.
    pub releases: Vec<ReleaseStatus>,
    /// Switches of `current`, newest first (at most [`OverviewOptions::activations`]).
    pub activations: Vec<Activation>,
    /// Deploy records, newest first (at most [`OverviewOptions::deploys`]).
    pub deploys: Vec<DeployRecord>,
    /// How many deploys the target has recorded in all.
    pub deploy_count: usize,
    /// The newest run of each cron job, by job name (see [`crate::cron::record`]).
    pub crons: Vec<CronRun>,
    /// Why the target could not be read, when it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The overview of the environments of the store at `store_root`. Takes no lock and writes nothing.
/// Fails only when the registry itself cannot be read.
pub fn overview(store_root: &Path, opts: &OverviewOptions) -> Result<Overview> {
    let registry = Registry::load(store_root)?;
    let environments = registry
        .environments
        .values()
        .map(|env| view(env, opts))
        .collect();
    Ok(Overview { environments })
}

fn view(env: &Environment, opts: &OverviewOptions) -> EnvironmentView {
    let mut v = EnvironmentView {
        name: env.name.clone(),
        target: env.target.clone(),
        branch: env.branch().to_owned(),
        live: None,
        releases: Vec::new(),
        activations: Vec::new(),
        deploys: Vec::new(),
        deploy_count: 0,
        crons: Vec::new(),
        error: None,
    };
    if let Err(e) = fill(&mut v, opts) {
        v.error = Some(e.to_string());
    }
    v
}

fn fill(v: &mut EnvironmentView, opts: &OverviewOptions) -> Result<()> {
    // A target is created by its first deploy: before that, the environment is simply empty.
    if !v.target.exists() {
        return Ok(());
    }
    let ids = list(&v.target)?;
    v.deploy_count = ids.len();
    for id in ids.iter().rev().take(opts.deploys) {
        v.deploys.push(load(&v.target, id)?);
    }
    // A target whose first deploy has not reached its release phase has no releases/ yet.
    if v.target.join(checkout::target::RELEASES).is_dir() {
        let status = checkout::status(&v.target)?;
        v.live = status.current;
        v.releases = status.releases;
        v.activations = status.activations;
        v.activations.truncate(opts.activations);
    }
    v.crons = crate::cron::record::last_runs(&v.target)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry(store: &Path, envs: &[(&str, &Path)]) {
        let mut r = Registry {
            version: 1,
            ..Registry::default()
        };
        for (name, target) in envs {
            r.environments
                .insert((*name).to_owned(), Environment::new(*name, *target));
        }
        std::fs::write(Registry::path(store), serde_json::to_vec(&r).unwrap()).unwrap();
    }

    #[test]
    fn missing_and_damaged_targets_do_not_hide_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let (fresh, broken) = (root.join("fresh"), root.join("broken"));
        std::fs::create_dir_all(broken.join("releases")).unwrap();
        std::fs::write(broken.join("state.json"), "{ not json").unwrap();
        registry(root, &[("fresh", &fresh), ("broken", &broken)]);

        let o = overview(root, &OverviewOptions::default()).unwrap();
        let names: Vec<&str> = o.environments.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["broken", "fresh"]);
        let (b, f) = (&o.environments[0], &o.environments[1]);
        assert!(f.error.is_none() && f.live.is_none() && f.deploys.is_empty());
        assert_eq!(f.branch, "fresh");
        let err = b.error.as_deref().expect("the damaged state is reported");
        assert!(err.contains("state.json"), "{err}");
    }

    #[test]
    fn only_the_newest_deploys_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("t");
        let deploys = target.join(crate::status::DEPLOYS);
        std::fs::create_dir_all(&deploys).unwrap();
        let record = |id: &str| {
            serde_json::json!({"id": id, "source": "src", "started": "2026-12-06T10:00:00Z",
                               "state": "success", "phases": []})
        };
        for id in [
            "20261206T100000Z-001",
            "20261206T100000Z-002",
            "20261206T100000Z-003",
        ] {
            std::fs::write(deploys.join(format!("{id}.json")), record(id).to_string()).unwrap();
        }
        // An older record that is damaged is never read when it is not among the newest.
        std::fs::write(deploys.join("20261206T090000Z-000.json"), "{").unwrap();
        registry(dir.path(), &[("qa", &target)]);
        let opts = OverviewOptions {
            deploys: 2,
            activations: 1,
        };
        let o = overview(dir.path(), &opts).unwrap();
        let e = &o.environments[0];
        assert!(e.error.is_none(), "{:?}", e.error);
        assert_eq!(e.deploy_count, 4);
        let ids: Vec<&str> = e.deploys.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["20261206T100000Z-003", "20261206T100000Z-002"]);
    }
}
