//! `slug watch`.

use slugstore_deploy::layout::snapshot_excludes;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use slugstore::watch::{self, WatchOptions, WatchStatus};

use crate::cmd::CmdResult;
use crate::context::Context;

/// Journal the changes of a build tree, so that its snapshots need not walk it.
///
/// Runs in the foreground until stopped (`slug watch --stop DIR`, or a signal), holding an inotify
/// watch on every directory of DIR except the mounts. A `slug snapshot DIR` (into any store) then asks
/// it which paths changed since that store's last snapshot of DIR and looks at those alone, instead of
/// listing every directory and stat-ing every file. Whenever the watcher cannot vouch for the tree (it
/// just started, its event queue overflowed, a directory was moved), the next snapshot walks the tree as
/// usual. Writes through a shared memory map, or to a file through another of its hard links, are not
/// seen: snapshot such trees without a watcher, or with `--no-cache`.
///
/// With --json, prints one line when ready (`{"event":"ready",...}`) and one when stopped.
#[derive(clap::Args)]
pub struct Args {
    /// The build tree.
    pub dir: PathBuf,
    #[command(flatten)]
    pub opts: WatchOptions,
    /// Stop the watcher of DIR instead (exit status 1 when none runs).
    #[arg(long, conflicts_with = "status")]
    pub stop: bool,
    /// Tell whether a watcher runs for DIR, and how many directories it watches (exit status 1 when
    /// none runs).
    #[arg(long)]
    pub status: bool,
}

pub fn run(ctx: &Context, a: Args) -> CmdResult {
    if a.stop {
        let stopped = watch::stop(&a.dir)?;
        return report(ctx, &a, stopped, "stopped", None);
    }
    if a.status {
        let answer = watch::status(&a.dir)?;
        let dirs = answer.as_ref().map(|s| s.dirs);
        return report(ctx, &a, answer.is_some(), "watching", dirs);
    }
    let event = |name: &str, s: &WatchStatus| {
        if ctx.global.json {
            let mut v = serde_json::to_value(s).expect("status serializes");
            v["event"] = name.into();
            // Scripts may read the ready line and close the pipe: never fail on that.
            let mut out = std::io::stdout();
            let _ = writeln!(out, "{v}").and_then(|()| out.flush());
        }
    };
    let mut opts = a.opts;
    opts.excludes = snapshot_excludes(&a.dir, &opts.excludes)?;
    let status = watch::serve(&a.dir, &opts, &mut |s| {
        event("ready", s);
        ctx.note(&format!(
            "watching {}: {} directories (set up in {:.2}s); stop with `slug watch --stop {}`",
            s.tree,
            s.dirs,
            s.seconds,
            a.dir.display()
        ));
    })?;
    event("stopped", &status);
    ctx.note(&format!(
        "stopped watching {} after {:.0}s ({} requests answered, {} restarts)",
        status.tree, status.seconds, status.answered, status.restarts
    ));
    Ok(ExitCode::SUCCESS)
}

/// Prints the outcome of `--stop` / `--status`; exit status 1 when no watcher runs.
fn report(ctx: &Context, a: &Args, running: bool, what: &str, dirs: Option<u64>) -> CmdResult {
    if ctx.global.json {
        ctx.print_json(&serde_json::json!({
            "tree": a.dir.display().to_string(),
            "running": running,
            "dirs": dirs,
        }));
    } else if running {
        match dirs {
            Some(n) => out!("{what} {} ({n} directories)", a.dir.display()),
            None => out!("{what} {}", a.dir.display()),
        }
    } else {
        out!("no watcher runs for {}", a.dir.display());
    }
    Ok(if running {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::cmd::EXIT_ERROR)
    })
}
