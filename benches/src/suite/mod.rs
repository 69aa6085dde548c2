//! The end-to-end suite: generate a build tree, then time slugstore and its peers on it.
//!
//! All measurements are warm-cache: the suite cannot drop the page cache (that needs root and
//! disturbs everything else on the machine), so the tree and the repositories are read from memory
//! after the first touch. The figures compare tools under the same conditions; they are not cold-disk
//! figures.

pub mod backend;
pub mod backends;
pub mod cache_hit;
pub mod chart;
pub mod checkout;
pub mod deploy_cached;
pub mod diff;
pub mod exec;
pub mod push_pull;
pub mod report;
pub mod restore;
pub mod results;
pub mod snapshot;
pub mod static_gzip;
pub mod store_size;
pub mod targets;
pub mod timing;
pub mod tools;
pub mod two_builds;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use slugstore::Result;

use crate::churn::{churn, Scope};
use crate::gen::generate;
use crate::plan::MOUNTS;
use crate::rng::derive;
use crate::shape::Size;
use crate::walk::stats;
use backend::Backend;
use results::Results;

/// The scenarios, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// Cold snapshot and snapshot after 1 % churn.
    Snapshot,
    /// Restore of the build tree's snapshot.
    Restore,
    /// Repository size after N chained builds.
    StoreSize,
    /// Gzip of `pub/static`: the platform's command, pigz, slugstore cold and warm.
    StaticGzip,
    /// Push to and pull from an S3 server, against rclone copy (needs a server).
    PushPull,
    /// Checkout with a predecessor on disk, cold checkout and rollback, against cp -al and tar -x.
    Checkout,
    /// `slug diff` of the tree's slug and the churned tree's, against `diff -rq` of their checkouts.
    Diff,
    /// Build cache hits on `vendor/` (into an empty dir, in place, from a remote), against `tar -x`.
    CacheHit,
    /// A deploy after a one-file change with the build steps cached, against `cp -al` of the tree.
    DeployCached,
}

impl Scenario {
    /// Every scenario, in the order they run.
    pub const ALL: &'static [Scenario] = &[
        Scenario::Snapshot,
        Scenario::Restore,
        Scenario::StoreSize,
        Scenario::StaticGzip,
        Scenario::PushPull,
        Scenario::Checkout,
        Scenario::Diff,
        Scenario::CacheHit,
        Scenario::DeployCached,
    ];
}

/// The scenarios run when none are named, and notes on those left out at `size`.
///
/// At full size push-pull is left out: rclone copies 100,000 files one request each, which takes
/// minutes and would push the default run past twenty minutes on two cores.
pub fn default_scenarios(size: Size) -> (Vec<Scenario>, Vec<String>) {
    let mut notes = Vec::new();
    let mut v = Scenario::ALL.to_vec();
    if size == Size::Full {
        v.retain(|s| *s != Scenario::PushPull);
        notes.push(
            "push-pull: left out of the default run at --size full (rclone copy of the full tree \
             takes minutes); run it with --only push-pull"
                .to_string(),
        );
    }
    (v, notes)
}

/// Tools left out of the default tool list at `size`, and why: OSTree commits cost about 3 ms per
/// file, more than twenty minutes for the snapshot scenarios of the full tree.
pub fn left_out_by_default(size: Size, tool: &str) -> Option<String> {
    (size == Size::Full && tool == "ostree").then(|| {
        "ostree: left out at --size full (about 3 ms per file, over 20 minutes); \
         include it with --tools"
            .to_string()
    })
}

/// Settings of a suite run.
#[derive(Debug, Clone)]
pub struct Config {
    /// Tree size.
    pub size: Size,
    /// Seed of the tree and the churn.
    pub seed: u64,
    /// Runs per measurement (the median is reported).
    pub runs: u32,
    /// Builds in the store-size scenario.
    pub builds: u32,
    /// Scenarios to run (empty: those of [`default_scenarios`]).
    pub scenarios: Vec<Scenario>,
    /// Scratch directory (created; must not exist or be empty).
    pub workdir: PathBuf,
    /// The `slug` binary, if it is to be measured.
    pub slug: Option<PathBuf>,
    /// Tools to run, by table name (empty: all installed ones).
    pub tools: Vec<String>,
}

/// A tool taking part, and whether its snapshot repository currently holds the build tree.
pub struct Tool {
    /// The tool.
    pub backend: Box<dyn Backend>,
    /// True when the repository in [`Workspace::store_dir`] holds a snapshot of [`Workspace::base`].
    pub has_base: bool,
}

/// What the scenarios that time slugstore's commands against shell commands need.
pub struct Env<'a> {
    /// Scratch layout.
    pub ws: &'a Workspace,
    /// Tree size.
    pub size: Size,
    /// Seed of the tree and the churn.
    pub seed: u64,
    /// Runs per measurement.
    pub runs: u32,
    /// The `slug` binary, when it is measured and exists.
    pub slug: Option<PathBuf>,
}

/// The files a slug of the build tree holds (the tree without its mounts), as a hard-linked copy made
/// on first use: what `cp`, `tar` and `rclone` are given so they move the same files as slugstore.
pub fn slug_part(ws: &Workspace) -> Result<PathBuf> {
    let dir = ws.root.join("slug-part");
    if !dir.exists() {
        exec::run(Command::new("cp").arg("-al").arg(&ws.base).arg(&dir))?;
        for m in MOUNTS {
            exec::remove_tree(&dir.join(m))?;
        }
    }
    Ok(dir)
}

/// The suite's scratch layout.
#[derive(Debug, Clone)]
pub struct Workspace {
    /// Scratch root.
    pub root: PathBuf,
    /// The generated build tree.
    pub base: PathBuf,
    /// The build tree after a 1 % churn (a hard-linked copy, churned).
    pub churned: PathBuf,
    /// Seed of the 1 % churn, so a scenario can apply the same churn to a copy of its own.
    pub churn_seed: u64,
}

impl Workspace {
    /// Where `tool` keeps its repository.
    pub fn store_dir(&self, tool: &str) -> PathBuf {
        self.root.join("stores").join(tool.replace([' ', '+'], "-"))
    }
}

/// All tools the suite knows, slugstore first when its binary is given.
pub fn all_tools(slug: Option<&Path>) -> Vec<Box<dyn Backend>> {
    let mut v: Vec<Box<dyn Backend>> = Vec::new();
    if let Some(bin) = slug {
        v.push(Box::new(backends::Slug::new(bin.to_path_buf())));
        v.push(Box::new(backends::Slug::watching(bin.to_path_buf())));
        v.push(Box::new(backends::Slug::uncompressed(bin.to_path_buf())));
    }
    v.push(Box::new(backends::TarZstd::default()));
    v.push(Box::new(backends::Ostree::default()));
    v.push(Box::new(backends::Restic::default()));
    v.push(Box::new(backends::CpLink));
    v
}

/// Generates the tree and runs the configured scenarios with every installed tool.
pub fn run(cfg: &Config) -> Result<Results> {
    let ws = Workspace {
        root: cfg.workdir.clone(),
        base: cfg.workdir.join("tree"),
        churned: cfg.workdir.join("churned"),
        churn_seed: derive(cfg.seed, 0xc4a1),
    };
    // Trees are deleted after the measurements, not between runs (see `exec::defer_removal`).
    exec::defer_removal(&ws.root.join("trash"))?;
    let (scenarios, mut skipped) = if cfg.scenarios.is_empty() {
        default_scenarios(cfg.size)
    } else {
        (cfg.scenarios.clone(), Vec::new())
    };
    skipped.iter().for_each(|n| eprintln!("{n}"));
    let mut tools = Vec::new();
    for backend in all_tools(cfg.slug.as_deref()) {
        if !cfg.tools.is_empty() && !cfg.tools.iter().any(|t| t == backend.name()) {
            continue;
        }
        if let Some(note) =
            left_out_by_default(cfg.size, backend.name()).filter(|_| cfg.tools.is_empty())
        {
            eprintln!("{note}");
            skipped.push(note);
            continue;
        }
        match tools::missing(&backend.requires()) {
            Some(msg) => {
                eprintln!("{msg}");
                skipped.push(msg);
            }
            None => tools.push(Tool {
                backend,
                has_base: false,
            }),
        }
    }

    eprintln!(
        "generating a {:?} tree (seed {}) in {}",
        cfg.size,
        cfg.seed,
        ws.base.display()
    );
    let t = Instant::now();
    let generated = generate(&ws.base, cfg.size, cfg.seed)?;
    let gen_s = t.elapsed().as_secs_f64();
    let slug_part = stats(&ws.base, MOUNTS)?;
    eprintln!(
        "generated {} files, {} dirs, {:.1} MiB in {gen_s:.1} s",
        generated.files,
        generated.dirs,
        results::mib(generated.bytes)
    );
    exec::run(Command::new("cp").arg("-al").arg(&ws.base).arg(&ws.churned))?;
    let churned = churn(&ws.churned, 1.0, ws.churn_seed, Scope::Tree)?;

    let env = Env {
        ws: &ws,
        size: cfg.size,
        seed: cfg.seed,
        runs: cfg.runs,
        slug: cfg
            .slug
            .clone()
            .filter(|p| tools::find(&p.to_string_lossy()).is_some()),
    };
    let mut rows = Vec::new();
    for scenario in &scenarios {
        eprintln!("measuring {scenario:?}");
        match scenario {
            Scenario::Snapshot => rows.extend(snapshot::measure(&mut tools, &ws, cfg.runs)),
            Scenario::Restore => rows.extend(restore::measure(&mut tools, &ws, cfg.runs)),
            Scenario::StoreSize => {
                rows.extend(store_size::measure(&mut tools, &ws, cfg.builds, cfg.seed)?);
                tools.iter_mut().for_each(|t| t.has_base = false);
            }
            Scenario::StaticGzip => rows.extend(static_gzip::measure(&env, &mut skipped)?),
            Scenario::PushPull => rows.extend(push_pull::measure(&env, &mut skipped)?),
            Scenario::Checkout => rows.extend(checkout::measure(&env, &mut skipped)?),
            Scenario::Diff => rows.extend(diff::measure(&env, &mut skipped)?),
            Scenario::CacheHit => rows.extend(cache_hit::measure(&env, &mut skipped)?),
            Scenario::DeployCached => rows.extend(deploy_cached::measure(&env, &mut skipped)?),
        }
    }
    eprintln!("removing the scratch trees of the runs");
    exec::empty_trash()?;
    let all_targets: Vec<_> = [
        snapshot::TARGETS,
        static_gzip::TARGETS,
        push_pull::TARGETS,
        checkout::TARGETS,
        diff::TARGETS,
        cache_hit::TARGETS,
        deploy_cached::TARGETS,
    ]
    .concat();
    let targets = targets::check_all(&all_targets, &rows);
    Ok(Results {
        config: serde_json::json!({
            "size": cfg.size,
            "seed": cfg.seed,
            "runs": cfg.runs,
            "builds": cfg.builds,
            "scenarios": scenarios,
            "cache": "warm",
        }),
        tree: serde_json::json!({
            "generated": generated,
            "generate_seconds": gen_s,
            "without_mounts": slug_part,
            "churn_1pct": churned,
        }),
        skipped,
        rows,
        targets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_size_defaults_leave_out_push_pull_and_ostree_with_a_note() {
        let (small, notes) = default_scenarios(Size::Small);
        assert_eq!(small, Scenario::ALL);
        assert!(notes.is_empty());
        let (full, notes) = default_scenarios(Size::Full);
        assert!(!full.contains(&Scenario::PushPull));
        assert_eq!(full.len(), Scenario::ALL.len() - 1);
        assert!(notes[0].contains("--only push-pull"), "{notes:?}");
        assert!(left_out_by_default(Size::Full, "ostree").is_some());
        assert!(left_out_by_default(Size::Medium, "ostree").is_none());
        assert!(left_out_by_default(Size::Full, "restic").is_none());
    }

    #[test]
    fn slug_part_is_the_tree_without_its_mounts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ws = Workspace {
            root: dir.path().to_path_buf(),
            base: dir.path().join("tree"),
            churned: dir.path().join("churned"),
            churn_seed: 1,
        };
        for d in ["app/code", "app/etc", "pub/static/x", "pub/media", "var"] {
            std::fs::create_dir_all(ws.base.join(d)).expect("mkdir");
        }
        std::fs::write(ws.base.join("app/code/a.php"), "<?php\n").expect("write");
        std::fs::write(ws.base.join("pub/static/x/a.js"), "x\n").expect("write");
        let part = slug_part(&ws).expect("slug part");
        assert_eq!(
            std::fs::read(part.join("app/code/a.php")).expect("read"),
            b"<?php\n"
        );
        for m in MOUNTS {
            assert!(!part.join(m).exists(), "{m} left in");
        }
        assert!(
            ws.base.join("pub/static/x/a.js").is_file(),
            "source touched"
        );
    }
}
