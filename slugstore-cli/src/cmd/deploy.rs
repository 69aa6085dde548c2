//! `slug deploy`.

use std::path::PathBuf;
use std::process::ExitCode;

use slugstore::deploy::{deploy, DeployOptions, DeployRecord, Event};

use crate::cmd::checkout::TargetArg;
use crate::cmd::CmdResult;
use crate::context::Context;

/// Deploy a project's source tree to a target, phase by phase.
///
/// validate (the three YAML files; any defect refuses the deploy), build (hooks.build in a private copy
/// of the tree, or the stored build of the same tree and build configuration), slug, release (materialized
/// beside the live one, init/ content copied into the mounts), deploy (hooks.deploy in the new release under
/// var/.maintenance.flag; on failure the previous release keeps serving), post_deploy (atomic switch of
/// `current`, post-switch command, backups, hooks.post_deploy). Each phase's state and timing are shown
/// as they happen and kept under TARGET/deploys/ (see `slug status` and `slug log`).
#[derive(clap::Args)]
pub struct Args {
    /// The project's source tree (with .magento.app.yaml and .magento/).
    #[arg(value_name = "SRC")]
    pub source: PathBuf,
    #[command(flatten)]
    pub target: TargetArg,
    #[command(flatten)]
    pub opts: DeployOptions,
}

pub fn run(ctx: &Context, a: Args) -> CmdResult {
    let store = ctx.open_or_init()?;
    let live = !ctx.global.quiet && !ctx.global.json;
    let observer = |e: Event<'_>| {
        if let (true, Event::Line(line)) = (live, e) {
            eprintln!("{line}");
        }
    };
    let record = deploy(
        &store,
        &a.source,
        &a.target.target,
        &a.opts,
        &observer,
        &ctx.bars,
    )?;
    if ctx.global.json {
        ctx.print_json(&record);
    } else {
        out!("{}", summary(&record));
    }
    Ok(ExitCode::SUCCESS)
}

/// `deploy 20261122T060832Z-123: slug 3f2a… live (build reused) in 0.412s`.
pub fn summary(r: &DeployRecord) -> String {
    format!(
        "deploy {}: {}{}{}",
        r.id,
        r.slug
            .map(|s| format!("slug {} ", s.short(12)))
            .unwrap_or_default(),
        r.state.as_str(),
        match (r.reused_build, r.seconds) {
            (true, Some(s)) => format!(" (build reused) in {s:.3}s"),
            (false, Some(s)) => format!(" in {s:.3}s"),
            (_, None) => String::new(),
        }
    )
}
