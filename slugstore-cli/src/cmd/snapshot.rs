//! `slug snapshot`.

use slugstore_deploy::layout::snapshot_excludes;
use std::path::PathBuf;
use std::process::ExitCode;

use slugstore::SnapshotOptions;

use crate::cmd::{human_bytes, CmdResult};
use crate::context::Context;

/// Turn a build tree into a slug.
///
/// Hashes every file (BLAKE3, in parallel), stores each new content once (zstd), and records the tree
/// as an immutable slug whose id is the hash of its manifest: the same tree always gives the same id.
/// The mounts declared in DIR/.magento.app.yaml (or `var`, `app/etc`, `pub/media`, `pub/static`) are left
/// out. Unchanged files (same size, times and inode as last time) are not read again, nor unchanged
/// directories (same inode, times and mode: their entries are known from the last scan); when `slug
/// watch DIR` runs, only the paths it saw change are looked at.
#[derive(clap::Args)]
pub struct Args {
    /// The build tree.
    pub dir: PathBuf,
    #[command(flatten)]
    pub opts: SnapshotOptions,
}

pub fn run(ctx: &Context, a: Args) -> CmdResult {
    let store = ctx.open_or_init()?;
    let mut opts = a.opts;
    opts.excludes = snapshot_excludes(&a.dir, &opts.excludes)?;
    let r = slugstore::snapshot(&store, &a.dir, &opts, &ctx.bars)?;
    for w in &r.warnings {
        ctx.note(&format!("warning: {w}"));
    }
    if ctx.global.json {
        ctx.print_json(&r);
        return Ok(ExitCode::SUCCESS);
    }
    out!("{}", r.slug);
    ctx.note(&format!(
        "{} files, {} dirs, {} symlinks, {}; read {} files and {} dirs{}; {} new objects, {} new ({} stored), {} deduplicated{}{} in {:.2}s",
        r.tree.files,
        r.tree.dirs,
        r.tree.symlinks,
        human_bytes(r.tree.bytes),
        r.files_read,
        r.dirs_read,
        if r.watched { " (changes from the watcher)" } else { "" },
        r.new_objects,
        human_bytes(r.new_bytes),
        human_bytes(r.stored_bytes),
        human_bytes(r.dedup_bytes),
        if r.new_slug { "" } else { "; slug already stored" },
        r.ref_name.as_deref().map(|n| format!("; ref {n} updated")).unwrap_or_default(),
        r.seconds
    ));
    Ok(ExitCode::SUCCESS)
}
