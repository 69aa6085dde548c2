//! `slug import`.

use std::path::PathBuf;
use std::process::ExitCode;

use slugstore::archive::{import_path, ImportOptions};

use crate::cmd::{human_bytes, CmdResult};
use crate::context::Context;

/// Make a slug from a tar archive (.tar, .tar.gz or .tar.zst, recognized by its first bytes).
///
/// The archive is treated as hostile and never extracted: absolute paths, `..`, symlinks leading out of
/// the tree, hard links to anything but an earlier file of the archive, devices, FIFOs, duplicate paths,
/// members inside a symlink and truncated data are refused with an error naming the member, and no slug
/// is made. Directories the archive implies but does not list are created. Prints the slug id.
#[derive(clap::Args)]
pub struct Args {
    /// The archive, `-` for stdin.
    pub file: PathBuf,
    #[command(flatten)]
    pub opts: ImportOptions,
}

pub fn run(ctx: &Context, a: Args) -> CmdResult {
    let store = ctx.open_or_init()?;
    let r = import_path(&store, &a.file, &a.opts, &ctx.bars)?;
    if ctx.global.json {
        ctx.print_json(&r);
        return Ok(ExitCode::SUCCESS);
    }
    println!("{}", r.slug);
    ctx.note(&format!(
        "imported {} ({}): {} files, {} dirs, {} symlinks, {}; {} new objects ({} stored){}{} in {:.2}s",
        r.source,
        r.format.extension(),
        r.tree.files,
        r.tree.dirs,
        r.tree.symlinks,
        human_bytes(r.tree.bytes),
        r.new_objects,
        human_bytes(r.stored_bytes),
        if r.new_slug { "" } else { "; slug already stored" },
        r.ref_name.as_deref().map(|n| format!("; ref {n} updated")).unwrap_or_default(),
        r.seconds
    ));
    Ok(ExitCode::SUCCESS)
}
