//! `slug log`.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::process::ExitCode;

use slugstore::error::IoResultExt;
use slugstore_deploy::status::{load, log_path, resolve};

use crate::cmd::target_arg::TargetArg;
use crate::cmd::CmdResult;
use crate::context::Context;

/// Print the log of a deploy (the last one by default): every phase's start, output and timing.
#[derive(clap::Args)]
pub struct Args {
    /// The deploy id, or a unique prefix of it (see `slug status`).
    #[arg(value_name = "DEPLOY")]
    pub deploy: Option<String>,
    #[command(flatten)]
    pub target: TargetArg,
}

pub fn run(ctx: &Context, a: Args) -> CmdResult {
    let root = &a.target.dir(ctx)?;
    let id = resolve(root, a.deploy.as_deref())?;
    let path = log_path(root, &id);
    let file = File::open(&path).at(&path)?;
    if ctx.global.json {
        let lines = BufReader::new(file)
            .lines()
            .collect::<std::io::Result<Vec<String>>>()
            .at(&path)?;
        ctx.print_json(&serde_json::json!({ "deploy": load(root, &id)?, "log": lines }));
    } else {
        let mut out = std::io::stdout().lock();
        std::io::copy(&mut BufReader::new(file), &mut out).at(&path)?;
    }
    Ok(ExitCode::SUCCESS)
}
