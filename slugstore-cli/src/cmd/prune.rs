//! `slug prune`.

use std::process::ExitCode;

use slugstore::slug::format_time;
use slugstore::PruneOptions;

use crate::cmd::CmdResult;
use crate::context::Context;

/// Forget slugs outside a keep policy (their objects are freed by `slug gc`).
///
/// Never drops a slug a ref points at, a slug live on (or registered by a checkout to) a deploy target, or
/// one given with --protect, or one a build-cache entry names (--cache-max-age and --cache-max-size
/// evict entries first, least recently used first). With --ref, only slugs that ref has pointed at are considered. Without
/// --ref, the build refs (`builds/<key>`) whose slug is neither live, nor a release on disk on a deploy
/// target, nor among the kept deploys of an environment's history (the newest N with --keep-last, those
/// within --keep-within) are dropped first, so old builds go too.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub opts: PruneOptions,
}

pub fn run(ctx: &Context, a: Args) -> CmdResult {
    let store = ctx.open()?;
    let r = slugstore_deploy::builds::prune(&store, &a.opts)?;
    if ctx.global.json {
        ctx.print_json(&r);
        return Ok(ExitCode::SUCCESS);
    }
    let verb = if r.dry_run { "would prune" } else { "pruned" };
    for d in &r.refs_dropped {
        out!(
            "{} ref {}  {}",
            if r.dry_run { "would drop" } else { "dropped" },
            d.name,
            d.slug.short(12)
        );
    }
    for s in &r.pruned {
        out!(
            "{verb} {}  {}  {}",
            s.id.short(12),
            format_time(s.created),
            s.message.as_deref().unwrap_or("")
        );
    }
    for e in &r.cache_evicted {
        out!(
            "{} cache entry {}  {}",
            if r.dry_run { "would evict" } else { "evicted" },
            e.key.short(12),
            e.name
        );
    }
    ctx.note(&format!(
        "{verb} {} slugs and {} build refs, {} kept ({} protected); run `slug gc` to free their objects",
        r.pruned.len(),
        r.refs_dropped.len(),
        r.kept,
        r.protected.len()
    ));
    Ok(ExitCode::SUCCESS)
}
