//! `slug import`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use slugstore::archive::{import_path, import_when_free, ImportOptions, ImportReport, Spool};

use crate::cmd::{human_bytes, CmdResult};
use crate::context::Context;

/// Make a slug from a tar archive (.tar, .tar.gz or .tar.zst, recognized by its first bytes).
///
/// The archive is treated as hostile and never extracted: absolute paths, `..`, symlinks leading out of
/// the tree, hard links to anything but an earlier file of the archive, devices, FIFOs, duplicate paths,
/// members inside a symlink and truncated data are refused with an error naming the member, and no slug
/// is made. Directories the archive implies but does not list are created. Prints the slug id.
///
/// From stdin, the store is taken once the first bytes arrive; if another slug process holds it then
/// (`slug export X -o - | slug import -` on one store), the archive is read into a temporary file
/// beside the store meanwhile.
#[derive(clap::Args)]
pub struct Args {
    /// The archive, `-` for stdin.
    pub file: PathBuf,
    #[command(flatten)]
    pub opts: ImportOptions,
}

pub fn run(ctx: &Context, a: Args) -> CmdResult {
    let r = if a.file == Path::new("-") {
        import_stdin(ctx, &a.opts)?
    } else {
        import_path(&ctx.open_or_init()?, &a.file, &a.opts, &ctx.bars)?
    };
    if ctx.global.json {
        ctx.print_json(&r);
        return Ok(ExitCode::SUCCESS);
    }
    out!("{}", r.slug);
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

/// Imports an archive from stdin, spooling it beside the store while another slug process holds the
/// store (see `slugstore::archive::spool`).
fn import_stdin(ctx: &Context, opts: &ImportOptions) -> slugstore::Result<ImportReport> {
    let spool = Spool {
        dir: &ctx.store_path().0,
        try_open: &|| ctx.try_open_or_init(),
        open: &|| ctx.open_or_init(),
        on_spool: &|dir| {
            ctx.note(&format!(
                "the store is locked by another slug process: reading the archive from stdin into a temporary file in {} meanwhile",
                dir.display()
            ))
        },
    };
    import_when_free(
        &mut std::io::stdin().lock(),
        "stdin",
        &spool,
        opts,
        &ctx.bars,
    )
}
