//! `slug restore`.

use std::path::PathBuf;
use std::process::ExitCode;

use slugstore::RestoreOptions;

use crate::cmd::{human_bytes, CmdResult};
use crate::context::Context;

/// Write a slug's tree into a directory, bit-exact.
///
/// DIR must be absent or empty unless --force. Every object is verified against its hash before its
/// bytes are written: a damaged store makes the restore fail naming the object and path.
#[derive(clap::Args)]
pub struct Args {
    /// Ref name, slug id or id prefix (4+ hex digits).
    pub slug: String,
    /// Destination directory.
    pub dir: PathBuf,
    #[command(flatten)]
    pub opts: RestoreOptions,
}

pub fn run(ctx: &Context, a: Args) -> CmdResult {
    let store = ctx.open_read_only()?;
    let id = store.resolve(&a.slug)?;
    let r = slugstore::restore(&store, &id, &a.dir, &a.opts, &ctx.bars)?;
    if ctx.global.json {
        ctx.print_json(&r);
    } else {
        ctx.note(&format!(
            "restored {} into {}: {} files, {} dirs, {} symlinks, {} in {:.2}s",
            r.slug.short(12),
            a.dir.display(),
            r.tree.files,
            r.tree.dirs,
            r.tree.symlinks,
            human_bytes(r.tree.bytes),
            r.seconds
        ));
    }
    Ok(ExitCode::SUCCESS)
}
