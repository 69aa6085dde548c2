//! `slug checkout`.

use slugstore_deploy::layout::MagentoLayout;
use std::process::ExitCode;

use slugstore::checkout::{activate_and_register, CheckoutOptions, CheckoutReport, SwitchOptions};

use crate::cmd::target_arg::TargetArg;
use crate::cmd::{activate, human_bytes, CmdResult};
use crate::context::Context;

/// Materialize a slug as a release of a deploy target.
///
/// Writes TARGET/releases/SLUG-ID/, read-only. Files that an earlier release of the target already has
/// are hardlinked from it; only the others are written from the store. Mount paths (from the slug's
/// .magento.app.yaml, or the defaults) become symlinks into TARGET/shared/. The release is complete or
/// absent: an interrupted checkout leaves nothing that `slug activate` accepts. Older releases beyond
/// --keep are removed from disk (their slugs stay in the store).
#[derive(clap::Args)]
pub struct Args {
    /// Ref name, slug id or id prefix (4+ hex digits).
    pub slug: String,
    #[command(flatten)]
    pub target: TargetArg,
    #[command(flatten)]
    pub opts: CheckoutOptions,
    /// Make the release live once it is complete.
    #[arg(long)]
    pub activate: bool,
    #[command(flatten)]
    pub switch: SwitchOptions,
}

pub fn run(ctx: &Context, a: Args) -> CmdResult {
    let store = ctx.open()?;
    let id = store.resolve(&a.slug)?;
    let root = a.target.dir(ctx)?;
    let r = slugstore::checkout::checkout(&store, &root, &id, &a.opts, &MagentoLayout, &ctx.bars)?;
    let switched = if a.activate {
        Some(activate_and_register(&store, &root, &id, &a.switch)?)
    } else {
        None
    };
    let switch = switched.as_ref().map(|(s, _)| s);
    if ctx.global.json {
        ctx.print_json(&serde_json::json!({ "checkout": r, "activate": switch }));
    } else {
        print_checkout(ctx, &r);
    }
    Ok(match switched {
        Some((s, registered)) => activate::finish(ctx, &s, &root, registered),
        None => ExitCode::SUCCESS,
    })
}

/// Prints a checkout report for humans.
pub fn print_checkout(ctx: &Context, r: &CheckoutReport) {
    match &r.materialized {
        None => ctx.note(&format!(
            "release {} is already on disk: {}",
            r.slug.short(12),
            r.release.display()
        )),
        Some(m) => ctx.note(&format!(
            "checked out {} into {}: {}{} files linked{}, {} written ({}), {} dirs, {} symlinks, mounts: {} in {:.2}s",
            r.slug.short(12),
            r.release.display(),
            m.recycled
                .map(|old| format!(
                    "recycled release {} (retention was removing it): {} files kept, {} entries removed, ",
                    old.short(12),
                    m.files_kept,
                    m.entries_removed
                ))
                .unwrap_or_default(),
            m.files_linked,
            m.predecessor
                .map(|p| format!(" from {}", p.short(12)))
                .unwrap_or_default(),
            m.files_written,
            human_bytes(m.bytes_written),
            m.dirs,
            m.symlinks,
            if m.mounts.is_empty() { "none".to_string() } else { m.mounts.join(", ") },
            m.seconds
        )),
    }
    if let Some(why) = r
        .materialized
        .as_ref()
        .and_then(|m| m.recycle_failed.as_ref())
    {
        ctx.note(&format!(
            "warning: a new release was written instead: {why}"
        ));
    }
    for p in &r.pruned {
        ctx.note(&format!("removed old release {} from disk", p.short(12)));
    }
}
