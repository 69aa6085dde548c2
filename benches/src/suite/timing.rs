//! Repeated, timed runs of one command, shared by the scenarios that compare slugstore's commands with
//! the shell commands they replace (static gzip, push and pull, checkout).
//!
//! Those scenarios all follow one pattern: set the stage without the clock (a fresh copy of a tree, an
//! empty cache, a new remote prefix), then time one command, and repeat. Keeping the pattern here means
//! a scenario module only says *what* is prepared and run, and every contender is measured, reported
//! and failed the same way.

use std::process::Command;

use slugstore::Result;

use super::exec::{run, Finished};
use super::results::Row;

/// One contender in a scenario: its row, and what each of its runs printed on standard output.
#[derive(Debug, Clone)]
pub struct Timed {
    /// The measured row (marked failed if a run failed; earlier runs are kept).
    pub row: Row,
    /// Standard output of each successful run, in order (JSON reports of `slug --json ...`).
    pub stdout: Vec<String>,
}

impl Timed {
    /// True when every run succeeded.
    pub fn ok(&self) -> bool {
        self.row.outcome == super::results::Status::Ok
    }

    /// Records `name` = `value` as a figure of the row.
    pub fn figure(&mut self, name: &str, value: f64) {
        self.row.figures.insert(name.to_string(), value);
    }

    /// Records the median over the runs of the numeric JSON field at `pointer` (e.g. `/compressed`)
    /// as figure `name`; runs whose output lacks it are left out.
    pub fn json_figure(&mut self, name: &str, pointer: &str) {
        let values: Vec<f64> = self
            .stdout
            .iter()
            .filter_map(|s| serde_json::from_str::<serde_json::Value>(s.trim()).ok())
            .filter_map(|v| v.pointer(pointer).and_then(serde_json::Value::as_f64))
            .collect();
        if let Some(m) = super::exec::median(&values) {
            self.figure(name, m);
        }
    }
}

/// Runs for a contender whose command takes well under a second (a warm rerun, a small push): at
/// least [`SHORT_RUNS`]. Such a command is at the mercy of one slow directory read or one slow request,
/// and its runs are cheap, so its median is taken over more of them (hyperfine, for one, keeps running
/// a command for at least three seconds). A scenario that uses this must be able to prepare any run
/// index below the result.
pub fn short_runs(runs: u32) -> u32 {
    runs.max(SHORT_RUNS)
}

/// The least number of runs of a short command, see [`short_runs`].
pub const SHORT_RUNS: u32 = 7;

/// Runs a contender `runs` times: before each run `prepare(run)` sets the stage (not timed), then
/// the command `command(run)` returns is run and timed. The first failure ends the contender; it is
/// reported on stderr and in the row, and the scenario carries on with the next contender.
pub fn timed(
    scenario: &str,
    tool: &str,
    runs: u32,
    prepare: impl FnMut(u32) -> Result<()>,
    command: impl FnMut(u32) -> Command,
) -> Timed {
    let contender = Contender::new(tool, prepare, command);
    interleaved(scenario, runs, vec![contender])
        .pop()
        .expect("one contender")
}

/// A contender of [`interleaved`]: its tool, what sets the stage before each of its runs (not
/// timed) and the command a run times.
pub struct Contender<'a> {
    tool: &'a str,
    prepare: Box<dyn FnMut(u32) -> Result<()> + 'a>,
    command: Box<dyn FnMut(u32) -> Command + 'a>,
}

impl<'a> Contender<'a> {
    /// The contender `tool`, prepared by `prepare(run)` and timed running `command(run)`.
    pub fn new(
        tool: &'a str,
        prepare: impl FnMut(u32) -> Result<()> + 'a,
        command: impl FnMut(u32) -> Command + 'a,
    ) -> Self {
        Contender {
            tool,
            prepare: Box::new(prepare),
            command: Box::new(command),
        }
    }
}

/// [`timed`] for several contenders of one scenario, their runs interleaved (run 1 of each, then run
/// 2 of each, ...). Commands that create tens of thousands of files are slowed by what ran just
/// before them (writeback, and ext4 skipping recently freed inodes): interleaved, that falls on
/// every contender alike instead of on whichever ran second. Rows come back in the given order.
pub fn interleaved(scenario: &str, runs: u32, mut contenders: Vec<Contender<'_>>) -> Vec<Timed> {
    let mut out: Vec<Timed> = contenders
        .iter()
        .map(|c| Timed {
            row: Row::new(scenario, c.tool),
            stdout: Vec::new(),
        })
        .collect();
    for i in 0..runs {
        for (c, t) in contenders.iter_mut().zip(out.iter_mut()) {
            if !t.ok() {
                continue;
            }
            let done = (c.prepare)(i).and_then(|()| run(&mut (c.command)(i)));
            match done {
                Ok(Finished { sample, stdout }) => {
                    t.row.push(sample);
                    t.stdout.push(stdout);
                }
                Err(e) => {
                    eprintln!("{scenario} / {}: {e}", c.tool);
                    t.row = t.row.clone().failed(e);
                }
            }
        }
    }
    out
}

/// Records that `scenario` was skipped and why (on stderr and in the results); no rows.
pub fn skip(skipped: &mut Vec<String>, scenario: &str, why: impl std::fmt::Display) -> Vec<Row> {
    let msg = format!("{scenario}: skipped: {why}");
    eprintln!("{msg}");
    skipped.push(msg);
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::exec::shell;

    #[test]
    fn prepares_before_each_timed_run_and_reads_json_figures() {
        let dir = tempfile::tempdir().expect("tempdir");
        let marker = dir.path().join("n");
        let mut prepared = Vec::new();
        let mut t = timed(
            "s",
            "tool",
            3,
            |i| {
                prepared.push(i);
                std::fs::write(&marker, format!("{{\"n\": {}}}", i * 10))
                    .map_err(|e| slugstore::Error::io(&marker, e))
            },
            |_| shell(&format!("cat {}", crate::suite::exec::quote(&marker))),
        );
        assert!(t.ok());
        assert_eq!(prepared, vec![0, 1, 2]);
        assert_eq!(t.row.samples.len(), 3);
        t.json_figure("n", "/n");
        assert_eq!(t.row.figures["n"], 10.0);
    }

    #[test]
    fn a_failing_run_fails_the_row_and_stops() {
        let mut calls = 0;
        let t = timed(
            "s",
            "tool",
            5,
            |_| Ok(()),
            |_| {
                calls += 1;
                shell("echo nope >&2; exit 1")
            },
        );
        assert!(!t.ok());
        assert_eq!(calls, 1);
        assert!(t.row.samples.is_empty());
        assert!(
            matches!(&t.row.outcome, super::super::results::Status::Failed(m) if m.contains("nope"))
        );
    }
}
