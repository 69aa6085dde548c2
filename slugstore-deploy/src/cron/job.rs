//! Running one job's command with a deadline.
//!
//! A cron job must never run forever, and must get out of the way of a deploy. The command runs as
//! `sh -c COMMAND` in a process group of its own, its output appended to the run's log. The runner
//! polls it: once the job passes its `timeout`, or when `interrupt` says so (a deploy put the target in
//! maintenance), the whole group gets SIGTERM, and SIGKILL `shutdown_timeout` later, as the platform
//! does when it cancels a cron. Output goes straight to the log file, not through pipes, so no reader
//! can block on a descendant that keeps them open.

use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use slugstore::process::{describe_failure, Limits, Supervised};

use crate::error::{Error, Result};

/// What to run, and its limits.
pub struct Job<'a> {
    /// Its name in messages.
    pub name: &'a str,
    /// The shell command.
    pub command: &'a str,
    /// Working directory.
    pub cwd: &'a Path,
    /// Variables added to the inherited environment.
    pub env: &'a [(String, String)],
    /// Longest run before the stop signal.
    pub timeout: Duration,
    /// From the stop signal to the kill.
    pub shutdown_timeout: Duration,
}

/// How a job ended.
#[derive(Debug, Clone)]
pub struct Ended {
    /// The exit code, when it exited.
    pub code: Option<i32>,
    /// Why it was stopped, when it was.
    pub stopped: Option<String>,
    /// `None` on success, else what went wrong, for the record.
    pub error: Option<String>,
}

/// Runs `job` with its output appended to `log`; `interrupt` is asked while it runs and returns the
/// reason to stop it early, if any.
pub fn run(job: &Job<'_>, log: &File, interrupt: &dyn Fn() -> Option<String>) -> Result<Ended> {
    let stream = |what: &str| {
        log.try_clone().map_err(|source| Error::CronLog {
            job: job.name.to_owned(),
            stream: what.to_owned(),
            source,
        })
    };
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(job.command)
        .current_dir(job.cwd)
        .envs(job.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(stream("stdout")?)
        .stderr(stream("stderr")?);
    let limits = Limits {
        timeout: Some(job.timeout),
        shutdown_timeout: job.shutdown_timeout,
        shutdown_setting: Some("shutdown_timeout"),
    };
    let program = format!("cron {}", job.name);
    let mut child = Supervised::spawn(cmd, limits).map_err(|source| Error::Spawn {
        program: program.clone(),
        cwd: Some(job.cwd.to_path_buf()),
        source,
    })?;
    let status = child
        .wait(interrupt)
        .map_err(|source| Error::Wait { program, source })?;
    let stopped = child.stopped();
    Ok(Ended {
        code: status.code(),
        error: describe_failure(&status, stopped.as_deref()),
        stopped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn run_with(command: &str, timeout_ms: u64, shutdown_ms: u64) -> (Ended, String, Duration) {
        let dir = tempfile::tempdir().unwrap();
        let log_path = dir.path().join("log");
        let log = File::create(&log_path).unwrap();
        let env = [("CRON_VAR".to_owned(), "set".to_owned())];
        let job = Job {
            name: "test",
            command,
            cwd: dir.path(),
            env: &env,
            timeout: Duration::from_millis(timeout_ms),
            shutdown_timeout: Duration::from_millis(shutdown_ms),
        };
        let t = Instant::now();
        let ended = run(&job, &log, &|| None).unwrap();
        (
            ended,
            std::fs::read_to_string(log_path).unwrap(),
            t.elapsed(),
        )
    }

    #[test]
    fn output_and_status_are_recorded() {
        let (ok, log, _) = run_with("echo out $CRON_VAR; echo err >&2", 10_000, 1000);
        assert!(ok.error.is_none(), "{ok:?}");
        assert_eq!(ok.code, Some(0));
        assert!(log.contains("out set\n") && log.contains("err\n"), "{log}");
        let (bad, _, _) = run_with("exit 3", 10_000, 1000);
        assert_eq!(bad.error.as_deref(), Some("exited with status 3"));
    }

    #[test]
    fn a_job_past_its_timeout_is_stopped_then_killed() {
        // Stops on SIGTERM.
        let (ended, _, took) = run_with("sleep 30", 200, 5_000);
        assert!(took < Duration::from_secs(5), "took {took:?}");
        let error = ended.error.unwrap();
        assert!(
            error.contains("stopped at its time limit of 0.2s"),
            "{error}"
        );
        assert!(error.contains("killed by signal 15"), "{error}");
        // Ignores SIGTERM (the disposition is inherited by sleep): killed after shutdown_timeout.
        let (ended, _, took) = run_with("trap '' TERM; sleep 30", 200, 300);
        assert!(took >= Duration::from_millis(500), "took {took:?}");
        assert!(took < Duration::from_secs(10), "took {took:?}");
        let error = ended.error.unwrap();
        assert!(
            error.contains("killed 0.3s after SIGTERM (shutdown_timeout); killed by signal 9"),
            "{error}"
        );
    }
}
