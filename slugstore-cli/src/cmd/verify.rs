//! `slug verify`.

use std::process::ExitCode;

use serde::Serialize;
use slugstore::verify::{damage_to_record, record_damage, repair_from, RepairReport};
use slugstore::{VerifyOptions, VerifyReport};

use crate::cmd::{human_bytes, CmdResult, EXIT_DAMAGED};
use crate::context::Context;
use crate::hint;

/// Re-hash stored objects and check every slug's manifest.
///
/// Names each damaged or missing object with the slugs and paths it breaks. With --repair, fetches a
/// good copy of each from the remotes (--from, or every configured remote in name order), moves the
/// objects that still verify out of the damaged packs, and deletes those packs. Exit status 3 when
/// anything is (still) damaged.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub opts: VerifyOptions,
    /// Replace what is damaged or missing with good copies from a remote.
    #[arg(long)]
    pub repair: bool,
    /// The remote(s) to repair from, tried in the order given (default: every configured remote).
    #[arg(long, value_name = "REMOTE", requires = "repair")]
    pub from: Vec<String>,
}

#[derive(Serialize)]
struct Output<'a> {
    #[serde(flatten)]
    verify: &'a VerifyReport,
    repair: Option<&'a RepairReport>,
}

pub fn run(ctx: &Context, a: Args) -> CmdResult {
    let opened = if a.repair {
        ctx.open()
    } else {
        ctx.open_read_only()
    };
    let store = match opened {
        Err(e @ slugstore::Error::IndexDamaged { .. }) => return Ok(index_unreadable(ctx, &e)),
        other => other?,
    };
    let r = slugstore::verify(&store, &a.opts, &ctx.bars)?;
    // Nothing is repaired from a damaged index: it is what says where the objects are.
    let repaired = if a.repair && !r.ok() && r.bad_index.is_empty() {
        Some(repair(ctx, &store, &r, &a.from)?)
    } else {
        None
    };
    if ctx.global.json {
        ctx.print_json(&Output {
            verify: &r,
            repair: repaired.as_ref(),
        });
    } else {
        print_verify(&r);
        if let Some(x) = &repaired {
            print_repair(x);
        }
    }
    if r.bad_index.is_empty() {
        remember_damage(ctx, store, a.repair, &r, repaired.as_ref());
    }
    let ok = match &repaired {
        Some(x) => x.complete(),
        None => r.ok(),
    } && r.bad_index.is_empty();
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_DAMAGED)
    })
}

/// Marks in the index what is still damaged, so the next snapshot holding that content replaces it
/// (see `slugstore::verify::marks`), and drops the marks of what verified. A verify without
/// `--repair` read the store read-only: it is opened again for writing, and on a store that cannot
/// be written (a full disk, a read-only mount) the marks are left as they were, said on stderr.
fn remember_damage(
    ctx: &Context,
    store: slugstore::Store,
    writable: bool,
    r: &VerifyReport,
    repaired: Option<&RepairReport>,
) {
    let Some(still_bad) = damage_to_record(&store, r, repaired) else {
        return;
    };
    let recorded = if writable {
        record_damage(&store, &still_bad, r.complete)
    } else {
        drop(store);
        ctx.open()
            .and_then(|s| record_damage(&s, &still_bad, r.complete))
    };
    match recorded {
        Ok(n) if n > 0 => ctx.note(&format!(
            "{n} damaged objects marked: the next snapshot holding their content stores it anew"
        )),
        Ok(_) => {}
        Err(e) => eprintln!(
            "slug: warning: the damaged objects could not be marked: {}",
            hint::store_message(&e)
        ),
    }
}

/// Repairs from the remotes of `--from`; no remote configured is said in the terms of `--repair`.
fn repair(
    ctx: &Context,
    store: &slugstore::Store,
    r: &VerifyReport,
    from: &[String],
) -> slugstore::Result<RepairReport> {
    repair_from(store, r, from, &ctx.bars).map_err(|e| match e {
        slugstore::Error::NoRemote => slugstore::Error::external(
            "--repair needs a remote to fetch good copies from; add one with `slug remote add`",
        ),
        e => e,
    })
}

/// A store whose index cannot even be opened is damaged, not merely unreadable: reported as damage
/// (exit status 3), naming the files.
fn index_unreadable(ctx: &Context, e: &slugstore::Error) -> ExitCode {
    if ctx.global.json {
        ctx.print_json(&serde_json::json!({ "bad_index": [e.to_string()] }));
    } else {
        out!("BAD index: {e}");
    }
    ExitCode::from(EXIT_DAMAGED)
}

fn print_verify(r: &VerifyReport) {
    for line in &r.bad_index {
        out!("BAD index: {line}");
    }
    if !r.bad_index.is_empty() {
        out!("objects not checked: the index that locates them is damaged (see \"Failure modes\" in the operating guide)");
        return;
    }
    for b in &r.bad {
        out!("BAD {}: {}", b.id, b.problem);
        for (slug, path) in &b.used_by {
            out!("    breaks slug {} at {}", slug.short(12), path);
        }
    }
    for p in &r.bad_packs {
        out!("BAD pack {}: {}", p.pack, p.problem);
    }
    out!(
        "{} of {} objects checked{}, {} slugs: {}",
        r.objects_checked,
        r.objects_total,
        if r.complete { "" } else { " (partial)" },
        r.slugs_checked,
        if r.ok() {
            "ok".to_string()
        } else {
            format!("{} damaged or missing", r.bad.len())
        }
    );
}

fn print_repair(x: &RepairReport) {
    for f in &x.repaired {
        out!("REPAIRED {} from {}", f.id, f.remote);
    }
    for id in &x.unrepaired {
        out!("UNREPAIRED {id}: no remote has a good copy");
    }
    for p in &x.packs_kept {
        out!("KEPT damaged pack {p}: it still holds an unrepaired object");
    }
    out!(
        "repair: {} objects fetched ({}), {} good objects moved out of {} damaged packs, {} left damaged",
        x.repaired.len(),
        human_bytes(x.bytes_fetched),
        x.objects_moved,
        x.packs_removed.len() + x.packs_kept.len(),
        x.unrepaired.len()
    );
}
