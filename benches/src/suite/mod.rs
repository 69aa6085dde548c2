//! The end-to-end suite: generate a build tree, then time slugstore and its peers on it.
//!
//! All measurements are warm-cache: the suite cannot drop the page cache (that needs root and
//! disturbs everything else on the machine), so the tree and the repositories are read from memory
//! after the first touch. The figures compare tools under the same conditions; they are not cold-disk
//! figures.

pub mod backend;
pub mod backends;
pub mod chart;
pub mod exec;
pub mod report;
pub mod restore;
pub mod results;
pub mod snapshot;
pub mod store_size;
pub mod tools;

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
    /// Scenarios to run.
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
    let mut skipped = Vec::new();
    let mut tools = Vec::new();
    for backend in all_tools(cfg.slug.as_deref()) {
        if !cfg.tools.is_empty() && !cfg.tools.iter().any(|t| t == backend.name()) {
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

    let mut rows = Vec::new();
    for scenario in &cfg.scenarios {
        eprintln!("measuring {scenario:?}");
        match scenario {
            Scenario::Snapshot => rows.extend(snapshot::measure(&mut tools, &ws, cfg.runs)),
            Scenario::Restore => rows.extend(restore::measure(&mut tools, &ws, cfg.runs)),
            Scenario::StoreSize => {
                rows.extend(store_size::measure(&mut tools, &ws, cfg.builds, cfg.seed)?);
                tools.iter_mut().for_each(|t| t.has_base = false);
            }
        }
    }
    Ok(Results {
        config: serde_json::json!({
            "size": cfg.size,
            "seed": cfg.seed,
            "runs": cfg.runs,
            "builds": cfg.builds,
            "scenarios": cfg.scenarios,
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
    })
}
