//! `slug cron run`: the jobs of the live release that are due this minute.
//!
//! Meant to be started every minute (a systemd timer or a crontab line, see [`super::install`]), it
//! reads the crons from the live release's own `.magento.app.yaml` (the configuration deployed with
//! the code, so a deploy that changes a schedule takes effect with the switch) and runs each job whose
//! spec matches the minute, in parallel, each in `current/` with the deploy hooks' environment.
//!
//! - **Once per minute**: a run is recorded under the minute it was due ([`super::record`]); a second
//!   runner in the same minute finds the record and does nothing.
//! - **One at a time per job**: each run holds `crons/<job>/.lock` (`flock`, never waited for); a job
//!   whose previous run still holds it is skipped, with a line saying so.
//! - **Never in a deploy's maintenance window**: nothing starts while a deploy holds the target's
//!   deploy lock or the maintenance flag exists ([`crate::deploy::hooks::flag_path`]), and a job that is
//!   running when the flag appears is stopped (SIGTERM, then SIGKILL after `shutdown_timeout`).

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::job::{self, Job};
use super::record::{self, CronRun};
use crate::config::{load_project, Cron};
use crate::deploy::hooks::{flag_path, MAINTENANCE_FLAG};
use crate::deploy::platform::{Mode, Platform};
use crate::deploy::{deploy_lock_path, PhaseState};
use crate::environment::Destination;
use crate::error::{Error, IoResultExt, Result};
use crate::schedule::Minute;
use slugstore::checkout::target::RELEASES;
use slugstore::checkout::Target;
use slugstore::fsutil::{self, Lock};
use slugstore::id::SlugId;
use slugstore::slug::{format_time, now_secs};

/// What to run.
#[derive(Debug, Clone, Default)]
pub struct CronOptions {
    /// The time to decide what is due at (Unix seconds); the system clock when `None`.
    pub now: Option<u64>,
}

/// What happened to one job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Its spec does not match this minute, or it already ran for it.
    NotDue,
    /// Due, but not started (see the reason).
    Skipped,
    /// Ran (see the record for how it ended).
    Ran,
}

/// One job's line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct JobReport {
    /// The job's name.
    pub job: String,
    /// Its spec.
    pub spec: String,
    /// What happened.
    pub outcome: Outcome,
    /// Why it was skipped, or why it is not due although the spec matches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The record of the run, when it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<CronRun>,
}

/// What a `cron run` did.
#[derive(Debug, Clone, Serialize)]
pub struct CronReport {
    /// The target.
    pub target: PathBuf,
    /// The minute decided on (RFC 3339 UTC).
    pub minute: String,
    /// The live release, if any (nothing runs without one).
    pub release: Option<SlugId>,
    /// Every job of the live release, in file order.
    pub jobs: Vec<JobReport>,
}

/// Runs the jobs of `dest`'s live release that are due (see the module docs).
pub fn run(dest: &Destination, opts: &CronOptions) -> Result<CronReport> {
    let minute = Minute::from_unix(opts.now.unwrap_or_else(now_secs));
    let mut report = CronReport {
        target: dest.target.clone(),
        minute: format_time(minute.unix),
        release: None,
        jobs: Vec::new(),
    };
    if !dest.target.join(RELEASES).is_dir() {
        // Never deployed to: nothing to run yet (the scheduler may start before the first deploy).
        return Ok(report);
    }
    let target = Target::existing(&dest.target)?;
    report.target = target.root().to_path_buf();
    report.release = target.current()?;
    let Some(release) = report.release else {
        return Ok(report);
    };
    let live = target.current_link();
    let project = load_project(&live).map_err(|diagnostics| Error::LiveConfig {
        release,
        diagnostics,
    })?;
    let (platform, _) = Platform::new(&project, dest.env.as_ref())?;
    let flag = flag_path(&target, &live, MAINTENANCE_FLAG)?;
    let blocked = maintenance(&target, flag.as_deref())?;
    let ctx = Context {
        target: &target,
        release,
        live: &live,
        minute,
        env: platform.hook_env(&tree_id(&target, &release), &live, Mode::Deploy),
        flag: flag.as_deref(),
    };
    report.jobs = std::thread::scope(|s| {
        let handles: Vec<_> = project
            .app
            .crons
            .iter()
            .map(|cron| {
                let blocked = blocked.clone();
                let ctx = &ctx;
                s.spawn(move || ctx.job(cron, blocked))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a cron runner does not panic"))
            .collect::<Result<Vec<_>>>()
    })?;
    Ok(report)
}

/// What every job of one run shares.
struct Context<'a> {
    target: &'a Target,
    release: SlugId,
    live: &'a Path,
    minute: Minute,
    env: Vec<(String, String)>,
    /// The live release's maintenance flag, when it has a writable `var`.
    flag: Option<&'a Path>,
}

impl Context<'_> {
    /// Decides about `cron` and runs it when due.
    fn job(&self, cron: &Cron, blocked: Option<String>) -> Result<JobReport> {
        let mut report = JobReport {
            job: cron.name.clone(),
            spec: cron.spec.to_string(),
            outcome: Outcome::NotDue,
            reason: None,
            run: None,
        };
        if !cron.spec.matches(&self.minute) {
            return Ok(report);
        }
        if let Some(reason) = blocked {
            report.outcome = Outcome::Skipped;
            report.reason = Some(reason);
            return Ok(report);
        }
        let root = self.target.root();
        let Some(_lock) = try_lock(&record::job_dir(root, &cron.name))? else {
            report.outcome = Outcome::Skipped;
            report.reason = Some("its previous run is still running".to_owned());
            return Ok(report);
        };
        let id = self.minute.stamp();
        if record::exists(root, &cron.name, &id) {
            report.reason = Some(format!("already ran for {}", format_time(self.minute.unix)));
            return Ok(report);
        }
        report.run = Some(self.execute(cron, id)?);
        report.outcome = Outcome::Ran;
        record::trim(root, &cron.name)?;
        Ok(report)
    }

    /// Runs `cron` for the minute `id`, recording it before and after.
    fn execute(&self, cron: &Cron, id: String) -> Result<CronRun> {
        let root = self.target.root();
        let mut run = CronRun {
            job: cron.name.clone(),
            id,
            due: format_time(self.minute.unix),
            started: format_time(now_secs()),
            state: PhaseState::InProgress,
            seconds: None,
            exit_code: None,
            error: None,
            release: self.release,
            command: cron.command.clone(),
        };
        record::save(root, &run)?;
        let log_path = record::log_path(root, &cron.name, &run.id);
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .at(&log_path)?;
        let job = Job {
            name: &cron.name,
            command: &cron.command,
            cwd: self.live,
            env: &self.env,
            timeout: Duration::from_secs(cron.timeout),
            shutdown_timeout: Duration::from_secs(cron.shutdown_timeout),
        };
        let interrupt = || {
            self.flag
                .filter(|f| f.exists())
                .map(|f| format!("stopped for maintenance ({} appeared)", f.display()))
        };
        let started = Instant::now();
        let ended = job::run(&job, &log, &interrupt);
        run.seconds = Some(started.elapsed().as_secs_f64());
        match ended {
            Ok(ended) => {
                run.exit_code = ended.code;
                run.state = if ended.error.is_none() {
                    PhaseState::Success
                } else {
                    PhaseState::Failed
                };
                run.error = ended.error;
            }
            Err(e) => {
                run.state = PhaseState::Failed;
                run.error = Some(e.to_string());
            }
        }
        record::save(root, &run)?;
        Ok(run)
    }
}

/// Why nothing may start now: a deploy holds the target's deploy lock, or the maintenance flag is up.
fn maintenance(target: &Target, flag: Option<&Path>) -> Result<Option<String>> {
    let path = deploy_lock_path(target.root());
    if path.exists() {
        let file = File::open(&path).at(&path)?;
        // Released when `file` is dropped just below.
        if !fsutil::flock(&file, &path, Lock::SharedNoWait)? {
            return Ok(Some("a deploy is running on the target".to_owned()));
        }
    }
    Ok(flag
        .filter(|f| f.exists())
        .map(|f| format!("the site is in maintenance ({} exists)", f.display())))
}

/// Takes `dir/.lock` without waiting: `None` when another process holds it.
fn try_lock(dir: &Path) -> Result<Option<File>> {
    std::fs::create_dir_all(dir).at(dir)?;
    Ok(fsutil::lock_file(
        &dir.join(".lock"),
        Lock::ExclusiveNoWait,
    )?)
}

/// `PLATFORM_TREE_ID` of the live release: the build key its newest deploy recorded, else its slug id.
fn tree_id(target: &Target, release: &SlugId) -> String {
    let root = target.root();
    let ids = crate::status::list(root).unwrap_or_default();
    ids.iter()
        .rev()
        .filter_map(|id| crate::status::load(root, id).ok())
        .find(|r| r.slug.as_ref() == Some(release))
        .and_then(|r| r.tree)
        .unwrap_or_else(|| release.to_hex())
}
