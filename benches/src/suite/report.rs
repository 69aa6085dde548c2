//! Markdown tables of a suite run, with ratios against slugstore.

use std::fmt::Write;

use super::results::{Results, Row, Status};
use super::{checkout, diff, push_pull, restore, snapshot, static_gzip, store_size};

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
    static_gzip::COLD,
    static_gzip::WARM,
    static_gzip::FRESH,
    push_pull::FIRST,
    push_pull::PULL,
    push_pull::CHURN,
    checkout::WITH_PREDECESSOR,
    checkout::RECYCLED,
    checkout::COLD,
    checkout::ROLLBACK,
    diff::DIFF,
];

fn fmt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v:.digits$}"))
}

/// A figure in a notes column: counts as integers, small values with three decimals.
fn fmt_figure(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else if v.abs() < 10.0 {
        format!("{v:.3}")
    } else {
        format!("{v:.1}")
    }
}

/// A figure for display: two decimals, or four when it is below 0.1 (milliseconds then matter).
pub fn fmt_seconds(v: Option<f64>) -> String {
    match v {
        Some(v) if v < 0.1 => format!("{v:.4}"),
        _ => fmt(v, 2),
    }
}

/// `text` made safe for a Markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

/// The goals table: each goal, the measured value and whether it is met.
fn targets_table(res: &Results, s: &mut String) {
    if res.targets.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "### targets\n\n| goal | measured | met |\n|---|---:|---|"
    );
    for t in &res.targets {
        let met = match t.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "not measured",
        };
        let _ = writeln!(s, "| {} | {} | {met} |", cell(&t.goal), fmt(t.measured, 3));
    }
    s.push('\n');
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
                let _ = writeln!(s, "| {} | failed: {} |", cell(&row.tool), cell(msg));
                continue;
            }
            if figure.is_some() {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} | {} |",
                    cell(&row.tool),
                    fmt(row.headline(figure), 1),
                    fmt(row.figures.get("allocated_mib").copied(), 1),
                    fmt(ratio(&rows, row, figure), 2),
                    fmt(row.figures.get("total_snapshot_s").copied(), 1),
                    fmt(row.peak_rss_mib(), 0),
                );
            } else {
                let mut notes: Vec<String> = row
                    .figures
                    .iter()
                    .map(|(k, v)| format!("{k} {}", fmt_figure(*v)))
                    .collect();
                if res.config["runs"].as_u64() != Some(row.samples.len() as u64) {
                    notes.push(format!("{} runs", row.samples.len()));
                }
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} | {} |",
                    cell(&row.tool),
                    fmt_seconds(row.median_wall()),
                    fmt(row.median_cpu(), 2),
                    fmt(row.peak_rss_mib(), 0),
                    fmt(ratio(&rows, row, None), 2),
                    notes.join(", "),
                );
            }
        }
        s.push('\n');
    }
    targets_table(res, &mut s);
    for msg in &res.skipped {
        let _ = writeln!(s, "- {msg}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::exec::Sample;
    use crate::suite::targets::Checked;

    #[test]
    fn tables_escape_pipes_and_list_the_goals() {
        let mut row = Row::new(static_gzip::COLD, "find | xargs");
        row.samples.push(Sample {
            wall_s: 0.0123,
            ..Sample::default()
        });
        row.figures.insert("compressed".into(), 227.0);
        let res = Results {
            config: serde_json::json!({ "runs": 3 }),
            tree: serde_json::json!({}),
            skipped: vec!["push-pull: skipped: no S3 endpoint".into()],
            rows: vec![row],
            targets: vec![Checked {
                goal: "a / b: >= 2x faster than c | d".into(),
                measured: Some(1.5),
                met: Some(false),
            }],
        };
        let md = markdown(&res);
        assert!(
            md.contains("| find \\| xargs | 0.0123 | 0.00 | 0 | - | compressed 227, 1 runs |"),
            "{md}"
        );
        assert!(
            md.contains("| a / b: >= 2x faster than c \\| d | 1.500 | **no** |"),
            "{md}"
        );
        assert!(md.contains("- push-pull: skipped: no S3 endpoint"), "{md}");
    }
}
