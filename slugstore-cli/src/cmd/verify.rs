//! `slug verify`.

use std::process::ExitCode;

use slugstore::VerifyOptions;

use crate::cmd::{CmdResult, EXIT_DAMAGED};
use crate::context::Context;

/// Re-hash stored objects and check every slug's manifest.
///
/// Names each damaged or missing object with the slugs and paths it breaks. Exit status 3 when anything
/// is damaged.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub opts: VerifyOptions,
}

pub fn run(ctx: &Context, a: Args) -> CmdResult {
    let store = ctx.open()?;
    let r = slugstore::verify(&store, &a.opts, &ctx.bars)?;
    if ctx.global.json {
        ctx.print_json(&r);
    } else {
        for b in &r.bad {
            println!("BAD {}: {}", b.id, b.problem);
            for (slug, path) in &b.used_by {
                println!("    breaks slug {} at {}", slug.short(12), path);
            }
        }
        for p in &r.bad_packs {
            println!("BAD pack {}: {}", p.pack, p.problem);
        }
        println!(
            "{} of {} objects checked{}, {} slugs: {}",
            r.objects_checked,
            r.objects_total,
            if r.complete { "" } else { " (partial)" },
            r.slugs_checked,
            if r.ok() {
                "ok".to_string()
            } else {
                format!("{} damaged or missing", r.bad.len())
            }
        );
    }
    Ok(if r.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_DAMAGED)
    })
}
