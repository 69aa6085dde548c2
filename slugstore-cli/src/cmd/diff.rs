//! `slug diff`.

use std::fmt::Write;
use std::process::ExitCode;

use slugstore::diff::{PathDiff, Status, Totals, What};
use slugstore::slug::{display_bytes, EntryKind};
use slugstore::DiffReport;
use slugstore_deploy::environment::manage::diff_named;

use crate::cmd::{human_bytes, CmdResult, EXIT_DIFFERENT};
use crate::context::Context;

/// Show the paths that differ between two slugs (named by environment, ref, id or id prefix).
///
/// Compares the two manifests, without reading a tree or a file: one line per path that differs,
/// sorted by path. `A` added, `D` removed (a removed directory lists every path under it), `M`
/// modified (content, executable bit or link target, in parentheses), `T` type changed (directory,
/// file, symlink). Directories end in `/`. A summary goes to stderr.
#[derive(clap::Args)]
pub struct Args {
    /// The old slug: an environment (its live release), ref name, slug id or id prefix (4+ hex
    /// digits). An environment's name wins over a ref of the same name.
    pub from: String,
    /// The new slug, named the same ways.
    pub to: String,
    /// Print only the summary: counts of added, removed and changed paths, and file bytes.
    #[arg(long, conflicts_with = "name_only")]
    pub stat: bool,
    /// Print only the paths that differ, one a line.
    #[arg(long)]
    pub name_only: bool,
    /// Exit with status 4 when the slugs differ (0 when they are the same).
    #[arg(long)]
    pub exit_code: bool,
}

pub fn run(ctx: &Context, a: Args) -> CmdResult {
    let store = ctx.open_read_only()?;
    let report = diff_named(&store, &a.from, &a.to)?;
    drop(store);
    if ctx.global.json {
        if a.stat {
            ctx.print_json(&serde_json::json!({
                "from": report.from, "to": report.to, "totals": report.totals,
            }));
        } else {
            ctx.print_json(&report);
        }
    } else if a.stat {
        out!("{}", summary(&report.totals));
    } else {
        print_paths(&report, a.name_only);
        ctx.note(&summary(&report.totals));
    }
    Ok(if a.exit_code && !report.is_empty() {
        ExitCode::from(EXIT_DIFFERENT)
    } else {
        ExitCode::SUCCESS
    })
}

/// Prints one line per path in a single write: a diff of two unrelated trees has as many lines as
/// they have paths, and a write (and flush) per line would cost more than the diff itself.
fn print_paths(report: &DiffReport, name_only: bool) {
    if report.is_empty() {
        return;
    }
    let mut text = String::new();
    for d in &report.entries {
        if !text.is_empty() {
            text.push('\n');
        }
        if name_only {
            text.push_str(&d.path.display());
        } else {
            line(&mut text, d);
        }
    }
    out!("{text}");
}

/// `A  path`, `D  dir/`, `M  path  (content 1.2 KiB -> 1.3 KiB, mode 644 -> 755)`,
/// `T  path  (file -> symlink)`.
fn line(text: &mut String, d: &PathDiff) {
    let side = d.new.as_ref().or(d.old.as_ref()).expect("a side");
    let code = match d.status {
        Status::Added => 'A',
        Status::Removed => 'D',
        Status::Changed if d.what.contains(&What::Type) => 'T',
        Status::Changed => 'M',
    };
    let _ = write!(text, "{code}  {}", d.path.display());
    match (d.status, side) {
        (Status::Added | Status::Removed, EntryKind::Dir) => text.push('/'),
        (Status::Added | Status::Removed, EntryKind::Symlink { target }) => {
            let _ = write!(text, " -> {}", display_bytes(target));
        }
        _ => {}
    }
    if let (Some(old), Some(new)) = (&d.old, &d.new) {
        let changes: Vec<String> = d.what.iter().map(|w| change(*w, old, new)).collect();
        let _ = write!(text, "  ({})", changes.join(", "));
    }
}

/// One change in words, old -> new.
fn change(what: What, old: &EntryKind, new: &EntryKind) -> String {
    match (what, old, new) {
        (What::Content, _, _) => format!("content {}", sizes(old.file_size(), new.file_size())),
        (What::Mode, _, _) => format!("mode {:o} -> {:o}", old.mode(), new.mode()),
        (What::Target, EntryKind::Symlink { target: a }, EntryKind::Symlink { target: b }) => {
            format!("target {} -> {}", display_bytes(a), display_bytes(b))
        }
        _ => format!("{} -> {}", old.name(), new.name()),
    }
}

/// Sizes rounded for humans, or exact when rounding would hide the difference.
fn sizes(old: u64, new: u64) -> String {
    let (a, b) = (human_bytes(old), human_bytes(new));
    if a != b || old == new {
        format!("{a} -> {b}")
    } else {
        format!("{old} B -> {new} B")
    }
}

/// Two lines: `3 added, 1 removed, 4 changed (2 content, 1 mode, 1 type, 0 target), 90 unchanged`
/// and `files: +12.0 KiB added, -1.0 KiB removed, 3.0 KiB -> 3.5 KiB changed, net +11.5 KiB`.
fn summary(t: &Totals) -> String {
    let net = t.net_bytes();
    let sign = if net < 0 { "-" } else { "+" };
    format!(
        "{} added, {} removed, {} changed ({} content, {} mode, {} type, {} target), {} unchanged\n\
         files: +{} added, -{} removed, {} changed, net {sign}{}",
        t.added,
        t.removed,
        t.changed,
        t.content,
        t.mode,
        t.kind,
        t.target,
        t.unchanged,
        human_bytes(t.added_bytes),
        human_bytes(t.removed_bytes),
        sizes(t.changed_old_bytes, t.changed_new_bytes),
        human_bytes(net.unsigned_abs() as u64),
    )
}
