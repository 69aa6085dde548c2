//! `slug activate`.

use std::path::Path;
use std::process::ExitCode;

use slugstore::checkout::{SwitchOptions, SwitchReport};

use crate::cmd::target_arg::TargetArg;
use crate::cmd::{CmdResult, EXIT_ERROR};
use crate::context::Context;
use crate::hint;

/// Make a checked-out release live.
///
/// Points TARGET/current at the release atomically (a new symlink renamed over the old one): a process
/// resolving `current` sees the old release or the new one, never nothing. The release must be complete
/// on disk (see `slug checkout`). Runs the post-switch hook, if any.
#[derive(clap::Args)]
pub struct Args {
    /// Slug id or prefix of a release of the target, or any name the store resolves.
    pub slug: String,
    #[command(flatten)]
    pub target: TargetArg,
    #[command(flatten)]
    pub opts: SwitchOptions,
}

pub fn run(ctx: &Context, a: Args) -> CmdResult {
    let root = &a.target.dir(ctx)?;
    let id = slugstore::checkout::resolve_name(root, &a.slug, &|| ctx.open())?;
    let r = slugstore::checkout::activate(root, &id, &a.opts)?;
    if ctx.global.json {
        ctx.print_json(&r);
    }
    Ok(finish(ctx, &r, root, Ok(())))
}

/// After a switch: prints it for humans, and turns a failed hook or a failure to record the live
/// slug in the store into a failing exit code. Only a checkout that activates records it
/// (`registered`); a bare switch never opens the store (a checkout registered the target already, and
/// `slug prune` follows its `current` link).
pub fn finish(
    ctx: &Context,
    r: &SwitchReport,
    target: &Path,
    registered: slugstore::Result<()>,
) -> ExitCode {
    let code = report(ctx, r);
    if let Err(e) = registered {
        eprintln!(
            "slug: error: the switch is done, but the store could not record the live release: {} \
             (run `slug activate {} --target {}` again)",
            hint::store_message(&e),
            r.slug.short(12),
            target.display()
        );
        return ExitCode::from(EXIT_ERROR);
    }
    code
}

fn report(ctx: &Context, r: &SwitchReport) -> ExitCode {
    ctx.note(&format!(
        "{} is live{} (switch took {:.3} ms)",
        r.slug.short(12),
        r.previous
            .map(|p| format!(", was {}", p.short(12)))
            .unwrap_or_default(),
        r.switch_seconds * 1e3
    ));
    match &r.hook {
        Some(h) if !h.success => {
            eprintln!(
                "slug: error: post-switch hook `{}` failed ({}); the switch itself is done",
                h.command,
                h.failure.as_deref().unwrap_or("unknown failure")
            );
            ExitCode::from(EXIT_ERROR)
        }
        _ => ExitCode::SUCCESS,
    }
}
