//! Programs the orchestrator runs (hooks, cron jobs), each with a deadline.
//!
//! A hook or a cron job is a user's shell script: it may hang on a lock, wait for a network that never
//! answers, or ignore the signal that asks it to stop. Nothing the orchestrator starts may hold a
//! deploy or a cron run for ever, so each runs in a process group of its own and is polled: past its
//! time limit, or when the caller asks (a deploy put the target in maintenance), the whole group gets
//! SIGTERM, then SIGKILL a grace period later, as the platform does when it cancels a job. Signalling
//! the group, not the shell alone, reaches what the script started (`php bin/magento ...`), which
//! would otherwise outlive it.

use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// How often a running program is looked at when nothing else wakes its supervisor.
pub(crate) const POLL: Duration = Duration::from_millis(50);

/// How long a program may run, and how long it gets to stop once asked.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Longest run before SIGTERM.
    pub timeout: Duration,
    /// From SIGTERM to SIGKILL.
    pub shutdown_timeout: Duration,
    /// The setting that gives `shutdown_timeout`, named when the kill is reported.
    pub shutdown_setting: Option<&'static str>,
}

/// A running program in its own process group, with its limits.
pub(crate) struct Supervised {
    child: Child,
    program: String,
    limits: Limits,
    started: Instant,
    /// When SIGTERM was sent, and why.
    stopping: Option<(Instant, String)>,
    /// Whether SIGKILL followed.
    killed: bool,
}

impl Supervised {
    /// Starts `cmd` (set up by the caller: arguments, streams) in a new process group. `program` names
    /// it in errors (`hooks.build`, `cron NAME`).
    pub(crate) fn spawn(
        mut cmd: Command,
        program: &str,
        cwd: &Path,
        limits: Limits,
    ) -> Result<Supervised> {
        let child = cmd
            .process_group(0)
            .spawn()
            .map_err(|source| Error::Spawn {
                program: program.to_owned(),
                cwd: Some(cwd.to_path_buf()),
                source,
            })?;
        Ok(Supervised {
            child,
            program: program.to_owned(),
            limits,
            started: Instant::now(),
            stopping: None,
            killed: false,
        })
    }

    /// The child, to take its pipes.
    pub(crate) fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Looks at the program once: its status once it has exited. Meanwhile, past the time limit or
    /// when `interrupt` gives a reason, its group gets SIGTERM, and SIGKILL `shutdown_timeout` later.
    pub(crate) fn poll(
        &mut self,
        interrupt: &dyn Fn() -> Option<String>,
    ) -> Result<Option<ExitStatus>> {
        let status = self.child.try_wait().map_err(|source| Error::Wait {
            program: self.program.clone(),
            source,
        })?;
        if status.is_some() {
            return Ok(status);
        }
        match &self.stopping {
            None => {
                let reason = if self.started.elapsed() >= self.limits.timeout {
                    Some(format!(
                        "stopped at its time limit of {}",
                        seconds(self.limits.timeout)
                    ))
                } else {
                    interrupt()
                };
                if let Some(reason) = reason {
                    self.signal_group(libc::SIGTERM);
                    self.stopping = Some((Instant::now(), reason));
                }
            }
            Some((since, _)) if !self.killed && since.elapsed() >= self.limits.shutdown_timeout => {
                self.signal_group(libc::SIGKILL);
                self.killed = true;
            }
            Some(_) => {}
        }
        Ok(None)
    }

    /// Polls until the program exits (see [`Supervised::poll`]).
    pub(crate) fn wait(&mut self, interrupt: &dyn Fn() -> Option<String>) -> Result<ExitStatus> {
        loop {
            if let Some(status) = self.poll(interrupt)? {
                return Ok(status);
            }
            std::thread::sleep(POLL);
        }
    }

    /// Why the program was stopped, if it was.
    pub(crate) fn stopped(&self) -> Option<String> {
        let (_, reason) = self.stopping.as_ref()?;
        Some(if self.killed {
            let setting = self
                .limits
                .shutdown_setting
                .map(|s| format!(" ({s})"))
                .unwrap_or_default();
            format!(
                "{reason}; killed {} after SIGTERM{setting}",
                seconds(self.limits.shutdown_timeout)
            )
        } else {
            reason.clone()
        })
    }

    /// Sends `signal` to the program's process group (its shell and everything it started).
    fn signal_group(&self, signal: libc::c_int) {
        let Ok(pgid) = libc::pid_t::try_from(self.child.id()) else {
            return;
        };
        // SAFETY: kill(2) on the process group we created; a group already gone gives ESRCH, ignored.
        unsafe {
            libc::kill(-pgid, signal);
        }
    }
}

/// `None` for a successful exit that was not stopped, else what went wrong: `exited with status 3`,
/// `stopped at its time limit of 60s; killed by signal 15`.
pub(crate) fn describe_failure(status: &ExitStatus, stopped: Option<&str>) -> Option<String> {
    if status.success() && stopped.is_none() {
        return None;
    }
    let how = match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        (None, None) => "ended abnormally".to_owned(),
    };
    Some(match stopped {
        Some(reason) => format!("{reason}; {how}"),
        None => how,
    })
}

/// `90s`, `0.2s`: a limit as messages show it.
fn seconds(d: Duration) -> String {
    format!("{}s", d.as_secs_f64())
}
