//! `slug releases`.

use std::process::ExitCode;

use slugstore::checkout::SwitchKind;
use slugstore::slug::format_time;

use crate::cmd::target_arg::TargetArg;
use crate::cmd::CmdResult;
use crate::context::Context;

/// Show a deploy target: the live release, the releases on disk and the activation history.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: TargetArg,
    /// Show at most this many activations.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub history: usize,
}

pub fn run(ctx: &Context, a: Args) -> CmdResult {
    let mut r = slugstore::checkout::status(&a.target.dir(ctx)?)?;
    r.activations.truncate(a.history);
    if ctx.global.json {
        ctx.print_json(&r);
        return Ok(ExitCode::SUCCESS);
    }
    let time = |t: Option<u64>| t.map(format_time).unwrap_or_else(|| "-".into());
    out!("releases in {}:", r.target.display());
    for rel in &r.releases {
        out!(
            "{} {}  materialized {}  last live {}",
            if rel.current { "*" } else { " " },
            rel.slug.short(12),
            time(rel.materialized),
            time(rel.last_activated)
        );
    }
    if r.current
        .is_some_and(|c| !r.releases.iter().any(|rel| rel.slug == c))
    {
        out!("warning: `current` points at a release that is not on disk");
    }
    out!("history (newest first):");
    for act in &r.activations {
        out!(
            "  {}  {:<8} {}{}",
            format_time(act.time),
            match act.kind {
                SwitchKind::Activate => "activate",
                SwitchKind::Rollback => "rollback",
            },
            act.slug.short(12),
            act.previous
                .map(|p| format!(" (was {})", p.short(12)))
                .unwrap_or_default()
        );
    }
    if !r.leftovers.is_empty() {
        out!(
            "{} leftover(s) of interrupted commands (removed by the next checkout)",
            r.leftovers.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}
