//! `slug status`.

use std::process::ExitCode;

use slugstore_deploy::status::DeployRecord;
use slugstore_deploy::status::{list, load};

use crate::cmd::target_arg::TargetArg;
use crate::cmd::{deploy, CmdResult};
use crate::context::Context;

/// Show a target's live release and its last deploy, phase by phase.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: TargetArg,
}

pub fn run(ctx: &Context, a: Args) -> CmdResult {
    let root = &a.target.dir(ctx)?;
    let live = slugstore::checkout::status(root)?;
    let last = match list(root)?.last() {
        Some(id) => Some(load(root, id)?),
        None => None,
    };
    if ctx.global.json {
        ctx.print_json(&serde_json::json!({ "target": live, "last_deploy": last }));
        return Ok(ExitCode::SUCCESS);
    }
    match live.current {
        Some(id) => out!("live: {id}"),
        None => out!("live: nothing (no release is current)"),
    }
    match &last {
        Some(r) => print_record(r),
        None => out!("no deploy recorded"),
    }
    Ok(ExitCode::SUCCESS)
}

/// The deploy's summary, then one line per phase: state, start, duration, detail.
pub fn print_record(r: &DeployRecord) {
    out!("last {}", deploy::summary(r));
    for p in &r.phases {
        out!(
            "  {:<12} {:<11} {:<20} {:>9} {}",
            p.phase.as_str(),
            p.state.as_str(),
            p.started.as_deref().unwrap_or("-"),
            p.seconds.map(|s| format!("{s:.3}s")).unwrap_or_default(),
            p.detail.as_deref().unwrap_or("")
        );
    }
    if let Some(e) = &r.error {
        out!("  error: {e}");
    }
}
