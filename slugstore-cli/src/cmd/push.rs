//! `slug push`.

use std::process::ExitCode;

use slugstore::remote::push_named;

use crate::cmd::{human_bytes, CmdResult};
use crate::context::Context;

/// Upload a slug to a remote, sending only the objects it lacks.
///
/// Objects go up in packs of about 64 MiB, then the slug record, then (when SLUG is a ref name) the
/// remote ref of the same name, last. The slug's manifest goes as a patch against the manifest of an
/// earlier slug the remote holds (the parent, or the newest of the same source), when there is one.
/// An interrupted push resumes: packs already complete on the remote are not sent again.
#[derive(clap::Args)]
pub struct Args {
    /// Ref name, slug id or id prefix (4+ hex digits).
    pub slug: String,
    /// The remote (may be omitted when only one is configured).
    pub remote: Option<String>,
}

pub fn run(ctx: &Context, a: Args) -> CmdResult {
    let store = ctx.open_read_only()?;
    let (remote, r) = push_named(&store, &a.slug, a.remote.as_deref(), &ctx.bars)?;
    if ctx.global.json {
        ctx.print_json(&r);
    } else {
        out!(
            "pushed {}{} to {}: {} of {} objects uploaded ({} in {} packs{}), {} already there{}, {:.2}s",
            r.slug.short(12),
            r.ref_name.as_ref().map(|n| format!(" ({n})")).unwrap_or_default(),
            remote.name,
            r.objects_uploaded,
            r.objects,
            human_bytes(r.bytes_uploaded),
            r.packs_uploaded,
            r.manifest_base
                .map(|b| format!("; manifest as a patch against {}", b.short(12)))
                .unwrap_or_default(),
            r.objects_present,
            if r.packs_skipped > 0 {
                format!(" ({} packs left by an earlier push)", r.packs_skipped)
            } else {
                String::new()
            },
            r.seconds
        );
    }
    Ok(ExitCode::SUCCESS)
}
