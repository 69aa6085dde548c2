//! Markdown tables of a suite run, with ratios against slugstore.

use std::fmt::Write;

use super::results::{Results, Row, Status};
use super::{restore, snapshot, store_size};

/// How a scenario is shown: its headline figure (`None`: median wall time) and unit.
pub fn headline_of(scenario: &str) -> (Option<&'static str>, &'static str) {
    if scenario == store_size::STORE_SIZE {
        (Some("store_mib"), "MiB")
    } else {
        (None, "s")
    }
}

/// Scenario names in the order they are reported.
pub const ORDER: &[&str] = &[
    snapshot::COLD,
    snapshot::CHURN,
    restore::RESTORE,
    store_size::STORE_SIZE,
];

fn fmt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v:.digits$}"))
}

/// `row`'s headline divided by slugstore's in the same scenario.
fn ratio(rows: &[&Row], row: &Row, figure: Option<&str>) -> Option<f64> {
    let slug = rows
        .iter()
        .find(|r| r.tool == "slugstore" && r.outcome == Status::Ok)?;
    let base = slug.headline(figure)?;
    (base > 0.0).then_some(row.headline(figure)? / base)
}

/// The whole report: one table per scenario.
pub fn markdown(res: &Results) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Warm-cache figures (the page cache cannot be dropped); medians of {} runs.",
        res.config["runs"]
    );
    let _ = writeln!(s, "Ratio: the tool's figure divided by slugstore's (above 1: slugstore is faster or smaller).\n");
    for scenario in ORDER {
        let rows: Vec<&Row> = res
            .rows
            .iter()
            .filter(|r| r.scenario == *scenario)
            .collect();
        if rows.is_empty() {
            continue;
        }
        let (figure, unit) = headline_of(scenario);
        let _ = writeln!(s, "### {scenario}\n");
        if figure.is_some() {
            let _ = writeln!(s, "| tool | store ({unit}) | allocated ({unit}) | vs slugstore | {} snapshots (s) | peak RSS (MiB) |", fmt(rows[0].figures.get("builds").copied(), 0));
            let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|");
        } else {
            let _ = writeln!(
                s,
                "| tool | median ({unit}) | CPU (s) | peak RSS (MiB) | vs slugstore | notes |"
            );
            let _ = writeln!(s, "|---|---:|---:|---:|---:|---|");
        }
        for row in &rows {
            if let Status::Failed(msg) = &row.outcome {
                let _ = writeln!(s, "| {} | failed: {} |", row.tool, msg.replace('|', "/"));
                continue;
            }
            if figure.is_some() {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} | {} |",
                    row.tool,
                    fmt(row.headline(figure), 1),
                    fmt(row.figures.get("allocated_mib").copied(), 1),
                    fmt(ratio(&rows, row, figure), 2),
                    fmt(row.figures.get("total_snapshot_s").copied(), 1),
                    fmt(row.peak_rss_mib(), 0),
                );
            } else {
                let notes: Vec<String> = row
                    .figures
                    .iter()
                    .map(|(k, v)| format!("{k} {v:.1}"))
                    .collect();
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} | {} |",
                    row.tool,
                    fmt(row.median_wall(), 2),
                    fmt(row.median_cpu(), 2),
                    fmt(row.peak_rss_mib(), 0),
                    fmt(ratio(&rows, row, None), 2),
                    notes.join(", "),
                );
            }
        }
        s.push('\n');
    }
    for msg in &res.skipped {
        let _ = writeln!(s, "- {msg}");
    }
    s
}
