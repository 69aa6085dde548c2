//! `slug promote`.

use std::process::ExitCode;

use slugstore_deploy::deploy::promote::{promote, PromoteOptions};
use slugstore_deploy::status::Event;

use crate::cmd::{deploy, CmdResult};
use crate::context::Context;

/// Deploy an existing slug to an environment, building nothing.
///
/// WHAT is an environment (its live release is promoted) or a slug (ref, id or id prefix). The slug goes
/// through the deploy phases on the destination (validate its stored configuration, release, deploy
/// hooks under maintenance, switch, post-deploy hooks) with the build phase skipped: the destination
/// runs the very bytes the source environment tested. Refused, with nothing changed, when the slug's
/// recorded build key differs from the one the destination's configuration would give its source (other
/// build-visible variables, see `slug env add --var`) or when the slug records none, unless --force.
#[derive(clap::Args)]
pub struct Args {
    /// An environment (its live release) or a slug name.
    #[arg(value_name = "SLUG|ENV")]
    pub what: String,
    /// The destination environment.
    #[arg(long, value_name = "ENV")]
    pub to: String,
    #[command(flatten)]
    pub opts: PromoteOptions,
}

pub fn run(ctx: &Context, a: Args) -> CmdResult {
    let store = ctx.open()?;
    let live = !ctx.global.quiet && !ctx.global.json;
    let observer = |e: Event<'_>| {
        if let (true, Event::Line(line)) = (live, e) {
            eprintln!("{line}");
        }
    };
    let (p, record) = promote(&store, &a.what, &a.to, &a.opts, &observer, &ctx.bars)?;
    if ctx.global.json {
        ctx.print_json(&serde_json::json!({ "promotion": p, "deploy": record }));
    } else {
        out!(
            "promoted {} ({}) to {}: {}",
            p.slug.short(12),
            p.from,
            p.to,
            deploy::summary(&record)
        );
    }
    Ok(ExitCode::SUCCESS)
}
