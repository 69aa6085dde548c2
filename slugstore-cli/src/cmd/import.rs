//! `slug import`.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use slugstore::archive::{import, import_path, ImportOptions, ImportReport};
use slugstore::Error;

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

/// Imports an archive from stdin.
///
/// `slug export X -o - | slug import -` on one store must not deadlock: both commands need the store,
/// and the export cannot finish, nor let go of the store, until its output is read. So the import takes
/// the store only once the archive's first bytes have arrived (the export writes only once it holds the
/// store), and if the store is then locked it reads the rest of stdin into an anonymous temporary file
/// beside the store while it waits, and imports from there.
fn import_stdin(ctx: &Context, opts: &ImportOptions) -> slugstore::Result<ImportReport> {
    let mut stdin = std::io::stdin().lock();
    let mut head = vec![0u8; 64 << 10];
    let n = loop {
        match stdin.read(&mut head) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => break other.map_err(|e| Error::io("stdin", e))?,
        }
    };
    head.truncate(n);
    match ctx.try_open_or_init() {
        Ok(store) => {
            let mut input = std::io::Cursor::new(head).chain(stdin);
            return import(&store, &mut input, "stdin", None, opts, &ctx.bars);
        }
        Err(Error::Locked { .. }) => {}
        Err(e) => return Err(e),
    }
    let dir = ctx.store_path().0;
    ctx.note(&format!(
        "the store is locked by another slug process: reading the archive from stdin into a temporary file in {} meanwhile",
        dir.display()
    ));
    let io_err = |e| Error::io(&dir, e);
    let mut file = tempfile::tempfile_in(&dir).map_err(io_err)?;
    file.write_all(&head).map_err(io_err)?;
    let rest = std::io::copy(&mut stdin, &mut file).map_err(|e| Error::io("stdin", e))?;
    file.seek(SeekFrom::Start(0)).map_err(io_err)?;
    let store = ctx.open_or_init()?;
    let len = head.len() as u64 + rest;
    import(&store, &mut file, "stdin", Some(len), opts, &ctx.bars)
}
