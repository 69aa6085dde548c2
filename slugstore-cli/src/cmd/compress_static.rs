//! `slug compress-static`.

use std::path::PathBuf;
use std::process::ExitCode;

use slugstore::compress::{cache_dir, compress_static, CompressOptions, DirGzCache};

use crate::cmd::{human_bytes, CmdResult};
use crate::context::Context;

/// Gzip the static assets of DIR into NAME.gz files next to them, as the platform's build does.
///
/// Selects files larger than 300 bytes named *.js, *.css, *.svg, *.html or *.htm (case-sensitive),
/// skipping DELETING_* directories and never following symlinks. Idempotent: an up-to-date .gz is left
/// alone, a stale one is replaced atomically. Each asset's .gz is cached by the asset's hash and the
/// level, so unchanged bytes are never compressed twice. Output is deterministic (no name, no timestamp).
#[derive(clap::Args)]
pub struct Args {
    /// The directory to compress (usually pub/static).
    pub dir: PathBuf,
    #[command(flatten)]
    pub opts: CompressOptions,
    /// Where compressed assets are cached (default: `gz` in the store directory).
    #[arg(long, value_name = "DIR")]
    pub gz_cache: Option<PathBuf>,
}

pub fn run(ctx: &Context, a: Args) -> CmdResult {
    let cache_dir = a.gz_cache.unwrap_or_else(|| cache_dir(&ctx.store_path().0));
    let cache = DirGzCache::open(cache_dir)?;
    let r = compress_static(&a.dir, &a.opts, &cache, &ctx.bars)?;
    if r.timed_out {
        ctx.note(&format!(
            "warning: timed out: {} of {} assets were not processed",
            r.skipped, r.selected
        ));
    }
    if ctx.global.json {
        ctx.print_json(&r);
    } else if r.level.is_disabled() {
        ctx.note("compression level 0: nothing to do");
    } else {
        ctx.note(&format!(
            "{} assets at level {}: {} compressed, {} from cache, {} up to date{}; {} -> {} in {:.2}s",
            r.selected,
            r.level,
            r.compressed,
            r.from_cache,
            r.up_to_date,
            if r.skipped > 0 { format!(", {} skipped", r.skipped) } else { String::new() },
            human_bytes(r.bytes_in),
            human_bytes(r.bytes_out),
            r.elapsed.as_secs_f64()
        ));
    }
    Ok(ExitCode::SUCCESS)
}
