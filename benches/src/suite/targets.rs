//! The goals the issues set for each scenario, checked against what was measured and printed next to
//! the figures, so a reader sees at once whether a run meets them.
//!
//! A goal names rows by (scenario, tool) and compares their headline figures: one row against another
//! (`cold at least 1.5x faster than the platform's command`) or one row against a fixed limit
//! (`rollback under 5 ms`). A goal whose rows were not measured is reported as such, never as met.

use serde::Serialize;

use super::results::{Row, Status};

/// A figure of one row: its median wall time, or a named figure.
#[derive(Debug, Clone, Copy)]
pub struct Figure {
    /// Scenario name of the row.
    pub scenario: &'static str,
    /// Tool name of the row.
    pub tool: &'static str,
    /// A named figure of the row (`None`: median wall seconds).
    pub figure: Option<&'static str>,
}

impl Figure {
    /// The median wall time of `tool` in `scenario`.
    pub const fn wall(scenario: &'static str, tool: &'static str) -> Figure {
        Figure {
            scenario,
            tool,
            figure: None,
        }
    }

    fn value(&self, rows: &[Row]) -> Option<f64> {
        rows.iter()
            .find(|r| {
                r.scenario == self.scenario && r.tool == self.tool && r.outcome == Status::Ok
            })?
            .headline(self.figure)
    }
}

/// What a goal asks.
#[derive(Debug, Clone, Copy)]
pub enum Goal {
    /// `subject` is at least this many times faster than `other` (other / subject >= x).
    FasterThan(Figure, f64),
    /// `subject` takes at most this fraction of `other` (subject / other <= x).
    FractionOf(Figure, f64),
    /// `subject`'s figure is below this limit, in the unit given.
    Below(f64, &'static str),
}

/// A goal on one row.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// What is measured.
    pub subject: Figure,
    /// What it must achieve.
    pub goal: Goal,
}

/// A goal checked against a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Checked {
    /// The goal in words, e.g. `static gzip (cold) / slugstore: >= 1.5x faster than find | xargs gzip`.
    pub goal: String,
    /// The measured speed-up, fraction or value (`None`: not measured).
    pub measured: Option<f64>,
    /// Whether the goal is met (`None`: not measured).
    pub met: Option<bool>,
}

impl Target {
    /// Checks the goal against `rows`.
    pub fn check(&self, rows: &[Row]) -> Checked {
        let s = self.subject;
        let subject = s.value(rows);
        let (words, measured, met) = match self.goal {
            Goal::FasterThan(other, x) => {
                let m = subject
                    .zip(other.value(rows))
                    .filter(|(a, _)| *a > 0.0)
                    .map(|(a, b)| b / a);
                (
                    format!(">= {x}x faster than {}", describe(&other, s)),
                    m,
                    m.map(|m| m >= x),
                )
            }
            Goal::FractionOf(other, x) => {
                let m = subject
                    .zip(other.value(rows))
                    .filter(|(_, b)| *b > 0.0)
                    .map(|(a, b)| a / b);
                (
                    format!("<= {x}x the time of {}", describe(&other, s)),
                    m,
                    m.map(|m| m <= x),
                )
            }
            Goal::Below(limit, unit) => (
                format!("{} < {limit} {unit}", s.figure.unwrap_or("median")),
                subject,
                subject.map(|v| v < limit),
            ),
        };
        Checked {
            goal: format!("{} / {}: {words}", s.scenario, s.tool),
            measured,
            met,
        }
    }
}

/// `other` named as briefly as it reads next to `subject`: the tool alone when in the same scenario.
fn describe(other: &Figure, subject: Figure) -> String {
    if other.scenario == subject.scenario {
        other.tool.to_string()
    } else {
        format!("{} / {}", other.scenario, other.tool)
    }
}

/// Checks every target against `rows`, leaving out those whose subject scenario was not run at all.
pub fn check_all(targets: &[Target], rows: &[Row]) -> Vec<Checked> {
    targets
        .iter()
        .filter(|t| rows.iter().any(|r| r.scenario == t.subject.scenario))
        .map(|t| t.check(rows))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::exec::Sample;

    fn row(scenario: &str, tool: &str, wall: f64) -> Row {
        let mut r = Row::new(scenario, tool);
        r.samples.push(Sample {
            wall_s: wall,
            ..Sample::default()
        });
        r
    }

    #[test]
    fn checks_speedups_fractions_and_limits() {
        let mut rows = vec![
            row("a", "fast", 1.0),
            row("a", "slow", 3.0),
            row("b", "x", 0.2),
        ];
        rows[2].figures.insert("ms".into(), 4.0);
        let faster = Target {
            subject: Figure::wall("a", "fast"),
            goal: Goal::FasterThan(Figure::wall("a", "slow"), 2.0),
        };
        let c = faster.check(&rows);
        assert_eq!((c.measured, c.met), (Some(3.0), Some(true)));
        assert_eq!(c.goal, "a / fast: >= 2x faster than slow");
        let fraction = Target {
            subject: Figure::wall("b", "x"),
            goal: Goal::FractionOf(Figure::wall("a", "fast"), 0.1),
        };
        let c = fraction.check(&rows);
        assert_eq!(c.met, Some(false));
        assert!((c.measured.expect("measured") - 0.2).abs() < 1e-12);
        let below = Target {
            subject: Figure {
                scenario: "b",
                tool: "x",
                figure: Some("ms"),
            },
            goal: Goal::Below(5.0, "ms"),
        };
        assert_eq!(below.check(&rows).met, Some(true));
    }

    #[test]
    fn unmeasured_or_failed_rows_are_never_met() {
        let rows = vec![row("a", "fast", 1.0), row("a", "slow", 3.0).failed("boom")];
        let t = Target {
            subject: Figure::wall("a", "fast"),
            goal: Goal::FasterThan(Figure::wall("a", "slow"), 2.0),
        };
        assert_eq!(t.check(&rows).met, None);
        let missing = Target {
            subject: Figure::wall("c", "none"),
            goal: Goal::Below(1.0, "s"),
        };
        assert!(check_all(&[missing, t], &rows).len() == 1);
    }
}
