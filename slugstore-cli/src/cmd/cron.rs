//! `slug cron run|install|log`.

use std::path::PathBuf;
use std::process::ExitCode;

use slugstore::Error;
use slugstore_deploy::cron::install::{self, Scope};
use slugstore_deploy::cron::{record, CronOptions, Outcome};
use slugstore_deploy::status::PhaseState;

use crate::cmd::target_arg::TargetArg;
use crate::cmd::{CmdResult, EXIT_ERROR};
use crate::context::Context;

/// Run the crons of `.magento.app.yaml` against the live release.
///
/// `slug cron run` runs the jobs due this minute (UTC) and is meant to be started every minute by the
/// system scheduler: `slug cron install` prints (or writes) what does that. Each job runs at most once
/// per minute and one run at a time, never while a deploy holds the target or the maintenance flag is
/// up, in `current/` with the deploy hooks' environment. Runs are recorded in TARGET/crons/JOB/.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(clap::Subcommand)]
pub enum Action {
    /// Run the jobs that are due (exit status 1 when a job that ran failed).
    Run {
        #[command(flatten)]
        target: TargetArg,
        /// Decide what is due at this time instead of now (RFC 3339, e.g. 2026-12-06T10:05:00Z).
        #[arg(long, value_name = "TIME", value_parser = slugstore_deploy::schedule::clock::parse_time)]
        now: Option<u64>,
    },
    /// Print (or write) a crontab line or systemd units that run `slug cron run` every minute.
    Install {
        #[command(flatten)]
        target: TargetArg,
        /// `crontab`: one line for `crontab -e`; `systemd`: a service and a timer.
        #[arg(long, value_enum, default_value = "crontab")]
        format: Format,
        /// Write the systemd units into DIR (e.g. /etc/systemd/system) instead of printing them.
        #[arg(long, value_name = "DIR", requires = "format")]
        write: Option<PathBuf>,
    },
    /// The newest run of each job: when, for which minute, how it ended.
    Log {
        #[command(flatten)]
        target: TargetArg,
    },
}

/// What `install` prints.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Format {
    /// A crontab line.
    Crontab,
    /// A systemd service and timer.
    Systemd,
}

pub fn run(ctx: &Context, a: Args) -> CmdResult {
    match a.action {
        Action::Run { target, now } => run_due(ctx, &target, now),
        Action::Install {
            target,
            format,
            write,
        } => install_units(ctx, &target, format, write),
        Action::Log { target } => log(ctx, &target),
    }
}

fn run_due(ctx: &Context, target: &TargetArg, now: Option<u64>) -> CmdResult {
    let dest = target.destination(ctx)?;
    let r = slugstore_deploy::cron::run(&dest, &CronOptions { now })?;
    let failed = r
        .jobs
        .iter()
        .filter_map(|j| j.run.as_ref())
        .any(|run| run.state == PhaseState::Failed);
    if ctx.global.json {
        ctx.print_json(&r);
    } else {
        if r.release.is_none() {
            ctx.note(&format!(
                "{}: no live release, no cron runs",
                r.target.display()
            ));
        }
        for j in &r.jobs {
            match (j.outcome, &j.run) {
                (Outcome::Ran, Some(run)) => {
                    let text = format!(
                        "ran {} ({}): {} in {:.3}s{}; log {}",
                        j.job,
                        j.spec,
                        run.state.as_str(),
                        run.seconds.unwrap_or(0.0),
                        run.error
                            .as_ref()
                            .map(|e| format!(": {e}"))
                            .unwrap_or_default(),
                        record::log_path(&r.target, &j.job, &run.id).display()
                    );
                    // A failure is always said (cron mails it); the rest only without --quiet.
                    if run.state == PhaseState::Failed {
                        eprintln!("slug: {text}");
                    } else {
                        ctx.note(&text);
                    }
                }
                (Outcome::Skipped, _) => ctx.note(&format!(
                    "skipped {} ({}): {}",
                    j.job,
                    j.spec,
                    j.reason.as_deref().unwrap_or("")
                )),
                _ => {}
            }
        }
    }
    Ok(if failed {
        ExitCode::from(EXIT_ERROR)
    } else {
        ExitCode::SUCCESS
    })
}

fn install_units(
    ctx: &Context,
    target: &TargetArg,
    format: Format,
    write: Option<PathBuf>,
) -> CmdResult {
    let store = ctx.store_path().0;
    let scope = match (&target.env, &target.target) {
        (Some(name), _) => Scope::env(&store, name)?,
        (None, Some(dir)) => Scope::target(dir)?,
        (None, None) => return target.destination(ctx).map(|_| ExitCode::SUCCESS),
    };
    let bin = std::env::current_exe()
        .map_err(|e| Error::external(format!("cannot find the slug binary: {e}")))?;
    let units = install::units_in(&bin, &store, &scope)?;
    if let Some(dir) = write {
        if !matches!(format, Format::Systemd) {
            return Err(Error::external(
                "--write writes systemd units: add --format systemd (a crontab line is added with `crontab -e`)",
            )
            .into());
        }
        let written = install::write_systemd(&units, &dir)?;
        if ctx.global.json {
            ctx.print_json(&serde_json::json!({ "units": units, "written": written }));
        } else {
            for p in &written {
                out!("wrote {}", p.display());
            }
            ctx.note(&format!(
                "enable with: systemctl daemon-reload && systemctl enable --now {}.timer",
                units.name
            ));
        }
        return Ok(ExitCode::SUCCESS);
    }
    if ctx.global.json {
        ctx.print_json(&units);
    } else {
        match format {
            Format::Crontab => out!("{}", units.crontab.trim_end()),
            Format::Systemd => {
                out!("# {}.service\n{}", units.name, units.service);
                out!("# {}.timer\n{}", units.name, units.timer.trim_end());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn log(ctx: &Context, target: &TargetArg) -> CmdResult {
    let root = target.dir(ctx)?;
    let runs = record::last_runs(&root)?;
    if ctx.global.json {
        ctx.print_json(&runs);
    } else {
        if runs.is_empty() {
            out!("no cron run recorded");
        }
        for run in &runs {
            out!(
                "{:<20} due {}  {:<11} {:>9}  {}",
                run.job,
                run.due,
                run.state.as_str(),
                run.seconds.map(|s| format!("{s:.3}s")).unwrap_or_default(),
                run.error.as_deref().unwrap_or("")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
