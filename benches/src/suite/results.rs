//! What a suite run produces: one row per (scenario, tool), with every sample kept.

use std::collections::BTreeMap;

use serde::Serialize;

use super::exec::{median, Sample};

/// How a row ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "lowercase", tag = "status", content = "detail")]
pub enum Status {
    /// Measured.
    Ok,
    /// The tool failed; the message says how.
    Failed(String),
}

/// One tool in one scenario.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// Scenario name, e.g. `snapshot (cold)`.
    pub scenario: String,
    /// Tool name, e.g. `ostree`.
    pub tool: String,
    /// Every measured run.
    pub samples: Vec<Sample>,
    /// Other figures (store sizes, restored file counts), by name.
    pub figures: BTreeMap<String, f64>,
    /// Whether it worked.
    pub outcome: Status,
}

impl Row {
    /// An empty, successful row.
    pub fn new(scenario: &str, tool: &str) -> Row {
        Row {
            scenario: scenario.to_string(),
            tool: tool.to_string(),
            samples: Vec::new(),
            figures: BTreeMap::new(),
            outcome: Status::Ok,
        }
    }

    /// Records a measured run and reports it on stderr, so a long suite shows progress.
    pub fn push(&mut self, sample: Sample) {
        self.samples.push(sample);
        eprintln!(
            "  {} / {} run {}: {:.2} s, {:.0} MiB peak RSS",
            self.scenario,
            self.tool,
            self.samples.len(),
            sample.wall_s,
            sample.max_rss_kib as f64 / 1024.0
        );
    }

    /// Marks the row failed with `err`, keeping what was measured before.
    pub fn failed(mut self, err: impl std::fmt::Display) -> Row {
        self.outcome = Status::Failed(err.to_string());
        self
    }

    /// Median wall-clock seconds.
    pub fn median_wall(&self) -> Option<f64> {
        median(&self.samples.iter().map(|s| s.wall_s).collect::<Vec<_>>())
    }

    /// Median CPU seconds (user + system).
    pub fn median_cpu(&self) -> Option<f64> {
        median(
            &self
                .samples
                .iter()
                .map(|s| s.user_s + s.sys_s)
                .collect::<Vec<_>>(),
        )
    }

    /// Highest peak RSS over the runs, MiB.
    pub fn peak_rss_mib(&self) -> Option<f64> {
        self.samples
            .iter()
            .map(|s| s.max_rss_kib)
            .max()
            .map(|k| k as f64 / 1024.0)
    }

    /// The row's headline number: a named figure when the scenario is about one, else median wall time.
    pub fn headline(&self, figure: Option<&str>) -> Option<f64> {
        match figure {
            Some(f) => self.figures.get(f).copied(),
            None => self.median_wall(),
        }
    }
}

/// Everything a suite run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Results {
    /// The settings of the run.
    pub config: serde_json::Value,
    /// Figures of the generated tree and of the churn.
    pub tree: serde_json::Value,
    /// Tools that were not run, and why.
    pub skipped: Vec<String>,
    /// Measured rows, in scenario order.
    pub rows: Vec<Row>,
    /// The goals of the scenarios that ran, checked against the rows.
    pub targets: Vec<super::targets::Checked>,
}

/// Bytes to MiB.
pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}
