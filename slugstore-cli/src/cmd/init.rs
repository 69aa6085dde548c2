//! `slug init`.

use std::process::ExitCode;

use crate::cmd::CmdResult;
use crate::context::Context;

/// Create an empty store (default: `.slugstore` in the working directory).
#[derive(clap::Args)]
pub struct Args {}

pub fn run(ctx: &Context, _: Args) -> CmdResult {
    let store = ctx.init()?;
    if ctx.global.json {
        ctx.print_json(&serde_json::json!({ "store": store.root() }));
    } else {
        out!("initialized an empty store in {}", store.root().display());
    }
    Ok(ExitCode::SUCCESS)
}
