//! `slug pull`.

use std::process::ExitCode;

use slugstore::remote::pull_named;

use crate::cmd::{human_bytes, CmdResult};
use crate::context::Context;

/// Download a slug from a remote, fetching only the objects the local store lacks.
///
/// Every object is hashed before it is stored; a damaged remote object fails the pull, naming the
/// object and its pack, and leaves the local store as it was. When SLUG is a remote ref, the local ref
/// of the same name is set to the slug (or the ref given with --ref).
#[derive(clap::Args)]
pub struct Args {
    /// The remote.
    pub remote: String,
    /// A remote ref name, slug id or id prefix (4+ hex digits).
    pub slug: String,
    /// Set this local ref to the pulled slug (default: the remote ref's name, if SLUG is one).
    #[arg(long, value_name = "NAME")]
    pub r#ref: Option<String>,
}

pub fn run(ctx: &Context, a: Args) -> CmdResult {
    let store = ctx.open_or_init()?;
    let (remote, r) = pull_named(&store, &a.remote, &a.slug, a.r#ref.as_deref(), &ctx.bars)?;
    if ctx.global.json {
        ctx.print_json(&r);
    } else {
        out!(
            "pulled {}{} from {}: {} of {} objects downloaded ({} in {} requests), {} already here, {:.2}s",
            r.slug.short(12),
            r.ref_name.as_ref().map(|n| format!(" as {n}")).unwrap_or_default(),
            remote.name,
            r.objects_fetched,
            r.objects,
            human_bytes(r.bytes_fetched),
            r.requests,
            r.objects_present,
            r.seconds
        );
    }
    Ok(ExitCode::SUCCESS)
}
