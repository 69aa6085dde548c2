//! `slug remote add|ls|rm`.

use std::process::ExitCode;

use slugstore::remote::config;
use slugstore::remote::url::RemoteUrl;

use crate::cmd::CmdResult;
use crate::context::Context;

/// Manage the remotes slugs are pushed to and pulled from.
///
/// A remote is a name and a URL: `file:///abs/path` or `s3://bucket/prefix`. Only the URL is stored;
/// S3 endpoint, region and credentials come from the standard AWS environment variables
/// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION, AWS_ENDPOINT_URL) at each
/// push and pull, and are never stored or printed.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(clap::Subcommand)]
pub enum Action {
    /// Add a remote.
    Add {
        /// Its name (letters, digits, `-_.`).
        name: String,
        /// `file:///abs/path` or `s3://bucket/prefix`.
        url: String,
    },
    /// List the remotes.
    Ls,
    /// Remove a remote (and the local cache of its pack lists; nothing on the remote is touched).
    Rm {
        /// The remote's name.
        name: String,
    },
}

pub fn run(ctx: &Context, a: Args) -> CmdResult {
    let store = ctx.open()?;
    match a.action {
        Action::Add { name, url } => {
            let r = config::add(&store, &name, &RemoteUrl::parse(&url)?)?;
            if ctx.global.json {
                ctx.print_json(&r);
            } else {
                ctx.note(&format!("added remote {} ({})", r.name, r.url));
            }
        }
        Action::Ls => {
            let all = config::list(&store)?;
            if ctx.global.json {
                ctx.print_json(&all);
            } else {
                for r in all {
                    out!("{}\t{}", r.name, r.url);
                }
            }
        }
        Action::Rm { name } => {
            let r = config::remove(&store, &name)?;
            if ctx.global.json {
                ctx.print_json(&r);
            } else {
                ctx.note(&format!("removed remote {} ({})", r.name, r.url));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
