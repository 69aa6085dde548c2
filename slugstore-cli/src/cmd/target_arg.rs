//! `--target DIR` or `--env NAME`: the deploy target of the release commands.

use std::path::PathBuf;

use slugstore::Error;
use slugstore_deploy::environment::destination;
use slugstore_deploy::environment::Destination;

use crate::context::Context;

/// The deploy target, given as a directory or as an environment (see `slug env`).
#[derive(clap::Args)]
pub struct TargetArg {
    /// The deploy target: holds releases/, shared/, the `current` symlink and state.json.
    #[arg(long, env = "SLUG_TARGET", value_name = "DIR")]
    pub target: Option<PathBuf>,
    /// The environment whose target to use (see `slug env ls`); wins over SLUG_TARGET.
    #[arg(long = "env", short = 'e', value_name = "ENV")]
    pub env: Option<String>,
}

impl TargetArg {
    /// Where the command acts: the environment's target when `--env` is given, else `--target`.
    pub fn destination(&self, ctx: &Context) -> slugstore_deploy::Result<Destination> {
        match (&self.env, &self.target) {
            (Some(name), _) => destination(&ctx.store_path().0, name),
            (None, Some(dir)) => Ok(Destination::dir(dir.clone())),
            (None, None) => Err(Error::external(
                "no deploy target: pass --target DIR or --env NAME (or set SLUG_TARGET)",
            )
            .into()),
        }
    }

    /// The target directory (see [`TargetArg::destination`]).
    pub fn dir(&self, ctx: &Context) -> slugstore_deploy::Result<PathBuf> {
        Ok(self.destination(ctx)?.target)
    }
}
