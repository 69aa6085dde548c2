//! `slug rollback`.

use slugstore::checkout::RollbackOptions;
use slugstore_deploy::layout::MagentoLayout;

use crate::cmd::checkout::print_checkout;
use crate::cmd::target_arg::TargetArg;
use crate::cmd::{activate, CmdResult};
use crate::context::Context;

/// Switch the live release back to an earlier one.
///
/// By default one deploy back; --steps N goes N deploys back, --to SLUG to a given slug. A release no
/// longer on disk is first materialized again from the store (any slug ever stored can be rolled back
/// to); one still on disk is a bare atomic switch that does not open the store.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: TargetArg,
    #[command(flatten)]
    pub opts: RollbackOptions,
}

pub fn run(ctx: &Context, a: Args) -> CmdResult {
    let root = a.target.dir(ctx)?;
    let r =
        slugstore::checkout::rollback(&root, &a.opts, &|| ctx.open(), &MagentoLayout, &ctx.bars)?;
    if ctx.global.json {
        ctx.print_json(&r);
    } else if let Some(c) = &r.rematerialized {
        print_checkout(ctx, c);
    }
    Ok(activate::finish(ctx, &r.switch, &root, Ok(())))
}
