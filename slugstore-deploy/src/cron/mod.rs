//! Crons: the scheduled jobs of `.magento.app.yaml`, run against the live release.
//!
//! The platform runs each job of `crons:` on its schedule, in the running application, one at a time,
//! and never while a deploy has the site in maintenance. slugstore has no daemon: the system scheduler
//! starts `slug cron run` every minute ([`install`]), which runs what is due and records each run under
//! the target, beside the deploy records ([`record`]), where `slug cron log` and the status page read
//! it. The parts:
//!
//! - [`crate::schedule`]: parsing and matching the five-field schedules, and the UTC minute a run is for
//!   (from the system clock or from `--now`); the configuration's validation uses it too, so it lives
//!   below both;
//! - [`job`]: one command with its timeout and shutdown deadline;
//! - [`run`](mod@run): deciding what is due, the locks and the maintenance check.

pub mod install;
pub mod job;
pub mod record;
pub mod run;

pub use record::CronRun;
pub use run::{run, CronOptions, CronReport, JobReport, Outcome};
