//! `slug refs`.

use std::process::ExitCode;

use slugstore::slug::format_time;

use crate::cmd::CmdResult;
use crate::context::Context;

/// List refs, show one ref's history (newest first), or remove a ref (`slug refs rm NAME`).
#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    pub action: Option<Action>,
    /// Show the history of this ref.
    pub name: Option<String>,
}

#[derive(clap::Subcommand)]
pub enum Action {
    /// Remove a ref: its slug is then kept only by what else protects it (see `slug prune`).
    ///
    /// The ref's history stays readable; the slug stays until a prune drops it, its objects until
    /// `slug gc`.
    Rm {
        /// The ref to remove (e.g. `staging`, `builds/<key>`).
        name: String,
    },
}

pub fn run(ctx: &Context, a: Args) -> CmdResult {
    if let Some(Action::Rm { name }) = a.action {
        return remove(ctx, &name);
    }
    let store = ctx.open_read_only()?;
    match a.name {
        None => {
            let refs = slugstore::refs::list(&store)?;
            if ctx.global.json {
                let m: serde_json::Map<_, _> = refs
                    .iter()
                    .map(|(n, id)| (n.clone(), id.to_hex().into()))
                    .collect();
                ctx.print_json(&m);
            } else {
                for (n, id) in refs {
                    out!("{}  {n}", id.short(12));
                }
            }
        }
        Some(name) => {
            let log = slugstore::refs::history(&store, &name)?;
            if ctx.global.json {
                ctx.print_json(&log);
            } else {
                for e in log {
                    out!(
                        "{}  {}  {}",
                        e.slug.short(12),
                        format_time(e.time),
                        e.message.unwrap_or_default()
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `slug refs rm NAME`: the one subcommand that writes, so the only one opening the store for writing.
fn remove(ctx: &Context, name: &str) -> CmdResult {
    let store = ctx.open()?;
    let slug = slugstore::refs::remove_ref(&store, name)?;
    if ctx.global.json {
        ctx.print_json(&serde_json::json!({ "removed": name, "slug": slug }));
    } else {
        out!("removed ref {name} (was {})", slug.short(12));
    }
    Ok(ExitCode::SUCCESS)
}
