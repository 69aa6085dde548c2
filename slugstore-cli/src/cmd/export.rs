//! `slug export`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use slugstore::archive::{export_to_path, ExportOptions};
use slugstore::Error;

use crate::cmd::{human_bytes, CmdResult};
use crate::context::Context;

/// Write a slug as a tar archive that any `tar` extracts bit-exact.
///
/// The format follows the output's extension (.tar, .tar.gz, .tar.zst) unless --format says otherwise;
/// `-o -` writes to stdout (zstd by default). The archive is deterministic: the same slug always gives
/// the same bytes (mtime 0, owner 0:0, modes 0644/0755, members sorted by path). Every object is
/// verified as it is read; a damaged store fails the export naming the object and the path.
#[derive(clap::Args)]
pub struct Args {
    /// Ref name, slug id or id prefix (4+ hex digits).
    pub slug: String,
    /// The archive to write, `-` for stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    #[command(flatten)]
    pub opts: ExportOptions,
}

pub fn run(ctx: &Context, a: Args) -> CmdResult {
    let to_stdout = a.output.as_os_str() == "-";
    if to_stdout && ctx.global.json {
        return Err(Error::external(
            "--json prints on stdout, where `-o -` writes the archive; choose one",
        )
        .into());
    }
    if to_stdout && std::io::stdout().is_terminal() {
        return Err(Error::external(
            "refusing to write an archive to a terminal; redirect stdout or use -o FILE",
        )
        .into());
    }
    let store = ctx.open_read_only()?;
    let id = store.resolve(&a.slug)?;
    let r = export_to_path(&store, &id, &a.output, &a.opts, &ctx.bars)?;
    if ctx.global.json {
        ctx.print_json(&r);
    } else {
        ctx.note(&format!(
            "exported {} to {} ({}): {} files, {} dirs, {} symlinks, {} of tar in {} in {:.2}s",
            r.slug.short(12),
            r.output,
            r.format.extension(),
            r.tree.files,
            r.tree.dirs,
            r.tree.symlinks,
            human_bytes(r.tar_bytes),
            human_bytes(r.archive_bytes),
            r.seconds
        ));
    }
    Ok(ExitCode::SUCCESS)
}
