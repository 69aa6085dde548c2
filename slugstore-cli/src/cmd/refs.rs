//! `slug refs`.

use std::process::ExitCode;

use slugstore::slug::format_time;

use crate::cmd::CmdResult;
use crate::context::Context;

/// List refs, or show one ref's history (newest first).
#[derive(clap::Args)]
pub struct Args {
    /// Show the history of this ref.
    pub name: Option<String>,
}

pub fn run(ctx: &Context, a: Args) -> CmdResult {
    let store = ctx.open_read_only()?;
    match a.name {
        None => {
            let refs = store.index().refs()?;
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
            let mut log = store.index().ref_log(&name)?;
            if log.is_empty() {
                return Err(slugstore::Error::UnknownSlug(name));
            }
            log.reverse();
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
