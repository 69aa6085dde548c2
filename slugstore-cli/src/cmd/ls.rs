//! `slug ls`.

use std::process::ExitCode;

use slugstore::slug::format_time;

use crate::cmd::{human_bytes, CmdResult};
use crate::context::Context;

/// List the slugs in the store, oldest first, with the refs that point at them.
#[derive(clap::Args)]
pub struct Args {}

pub fn run(ctx: &Context, _: Args) -> CmdResult {
    let store = ctx.open_read_only()?;
    let slugs = store.slugs()?;
    let refs = slugstore::refs::by_slug(&store)?;
    if ctx.global.json {
        let v: Vec<_> = slugs
            .iter()
            .map(|s| {
                let mut j = serde_json::to_value(s).expect("serializes");
                j["refs"] = serde_json::json!(refs.get(&s.id).cloned().unwrap_or_default());
                j["created_at"] = serde_json::json!(format_time(s.created));
                j
            })
            .collect();
        ctx.print_json(&v);
        return Ok(ExitCode::SUCCESS);
    }
    for s in &slugs {
        let names = refs
            .get(&s.id)
            .map(|v| format!(" ({})", v.join(", ")))
            .unwrap_or_default();
        out!(
            "{}  {}  {:>7} files  {:>10}{}{}",
            s.id.short(12),
            format_time(s.created),
            s.stats.files,
            human_bytes(s.stats.bytes),
            names,
            s.message
                .as_deref()
                .map(|m| format!("  {m}"))
                .unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}
