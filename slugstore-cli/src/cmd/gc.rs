//! `slug gc`.

use std::process::ExitCode;

use slugstore::GcOptions;

use crate::cmd::{human_bytes, CmdResult, EXIT_DAMAGED};
use crate::context::Context;

/// Delete objects no remaining slug needs, and repack packs that are mostly dead.
///
/// With --recompress, also compress the objects stored uncompressed (`--compression off`, for the
/// fastest snapshots) at the level --compression gives (default 3): the packs where a sample of them
/// compresses by at least 5% of the pack are rewritten the same crash-safe way.
///
/// Safe to interrupt at any moment: new packs are durable before the index points at them, and old
/// packs are unlinked only after. Leftover pack files are removed by the next gc. Exit status 3 when an
/// object failed verification while being moved (its pack is kept; run `slug verify`).
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub opts: GcOptions,
}

pub fn run(ctx: &Context, a: Args) -> CmdResult {
    let store = ctx.open()?;
    let r = slugstore::gc(&store, &a.opts)?;
    if ctx.global.json {
        ctx.print_json(&r);
    } else {
        for p in &r.problems {
            out!("BAD {p}");
        }
        out!(
            "{} {} objects ({} live); {} packs deleted, {} repacked into {}, {} orphan packs removed; {} freed ({} -> {})",
            if r.dry_run { "would free" } else { "freed" },
            r.objects_freed,
            r.live_objects,
            r.packs_deleted,
            r.packs_repacked,
            r.packs_written,
            r.orphan_packs,
            human_bytes(r.bytes_freed()),
            human_bytes(r.bytes_before),
            human_bytes(r.bytes_after),
        );
        if a.opts.recompress {
            out!(
                "{} {} objects stored uncompressed",
                if r.dry_run {
                    "would compress"
                } else {
                    "compressed"
                },
                r.objects_recompressed
            );
        }
        if let Some(gz) = &r.gz_cache {
            out!(
                "static-compression cache: {} {} entries, {} kept ({} -> {})",
                if r.dry_run { "would drop" } else { "dropped" },
                gz.dropped,
                gz.kept,
                human_bytes(gz.bytes_before),
                human_bytes(gz.bytes_after),
            );
        }
    }
    Ok(if r.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_DAMAGED)
    })
}
