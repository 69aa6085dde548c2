//! `slug show`.

use std::process::ExitCode;

use slugstore::slug::{display_bytes, hex_bytes, EntryKind};

use crate::cmd::CmdResult;
use crate::context::Context;

/// List the files of a slug (named by ref, id or id prefix).
#[derive(clap::Args)]
pub struct Args {
    /// Ref name, slug id or id prefix (4+ hex digits).
    pub slug: String,
}

pub fn run(ctx: &Context, a: Args) -> CmdResult {
    let store = ctx.open_read_only()?;
    let id = store.resolve(&a.slug)?;
    let rec = store.slug(&id)?;
    let manifest = store.manifest(&id)?;
    if ctx.global.json {
        let entries: Vec<_> = manifest
            .entries()
            .iter()
            .map(|e| {
                let mut j = serde_json::json!({ "path": e.display_path(), "mode": format!("{:o}", e.mode()) });
                if std::str::from_utf8(&e.path).is_err() {
                    j["path_hex"] = serde_json::json!(hex_bytes(&e.path));
                }
                match &e.kind {
                    EntryKind::Dir => j["kind"] = "dir".into(),
                    EntryKind::File { size, id, .. } => {
                        j["kind"] = "file".into();
                        j["size"] = (*size).into();
                        j["id"] = id.to_hex().into();
                    }
                    EntryKind::Symlink { target } => {
                        j["kind"] = "symlink".into();
                        j["target"] = display_bytes(target).into();
                    }
                }
                j
            })
            .collect();
        ctx.print_json(&serde_json::json!({ "slug": rec, "entries": entries }));
        return Ok(ExitCode::SUCCESS);
    }
    for e in manifest.entries() {
        match &e.kind {
            EntryKind::Dir => out!("d {:o} {:>10} {}/", e.mode(), "-", e.display_path()),
            EntryKind::File { size, id, .. } => {
                out!(
                    "f {:o} {size:>10} {}  {}",
                    e.mode(),
                    e.display_path(),
                    id.short(12)
                )
            }
            EntryKind::Symlink { target } => {
                out!(
                    "l {:o} {:>10} {} -> {}",
                    e.mode(),
                    "-",
                    e.display_path(),
                    display_bytes(target)
                )
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
