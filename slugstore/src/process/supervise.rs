//! A program in a process group of its own, with a deadline.
//!
//! Nothing started on a user's behalf may hold a deploy, a cron run or a build for ever, so each
//! program runs in a group of its own and is polled: past its time limit, or when the caller asks (a
//! deploy put the target in maintenance), the whole group gets SIGTERM, then SIGKILL a grace period
//! later, as the platform does when it cancels a job. Signalling the group, not the shell alone,
//! reaches what the script started (`php bin/magento ...`), which would otherwise outlive it.

use std::io;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use super::signals;

/// How often a running program is looked at when nothing else wakes its supervisor.
pub const POLL: Duration = Duration::from_millis(50);

/// How long a program may run, and how long it gets to stop once asked.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest run before SIGTERM (`None`: no limit; it is stopped only when the caller asks).
    pub timeout: Option<Duration>,
    /// From SIGTERM to SIGKILL.
    pub shutdown_timeout: Duration,
    /// The setting that gives `shutdown_timeout`, named when a kill is reported.
    pub shutdown_setting: Option<&'static str>,
}

/// A running program in its own process group, with its limits. Dropping it does not stop it.
pub struct Supervised {
    child: Child,
    limits: Limits,
    started: Instant,
    /// When SIGTERM was sent, and why.
    stopping: Option<(Instant, String)>,
    /// Whether SIGKILL followed.
    killed: bool,
    /// The slot of its group in the registry of [`super::signal_children`].
    slot: Option<usize>,
}

impl Supervised {
    /// Starts `cmd` (set up by the caller: arguments, streams) in a new process group.
    pub fn spawn(mut cmd: Command, limits: Limits) -> io::Result<Supervised> {
        let child = cmd.process_group(0).spawn()?;
        let slot = i32::try_from(child.id()).ok().and_then(signals::register);
        Ok(Supervised {
            child,
            limits,
            started: Instant::now(),
            stopping: None,
            killed: false,
            slot,
        })
    }

    /// The child, to take its pipes.
    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Looks at the program once: its status once it has exited. Meanwhile, past the time limit or
    /// when `interrupt` gives a reason, its group gets SIGTERM, and SIGKILL `shutdown_timeout` later.
    pub fn poll(
        &mut self,
        interrupt: &dyn Fn() -> Option<String>,
    ) -> io::Result<Option<ExitStatus>> {
        let status = self.child.try_wait()?;
        if status.is_some() {
            // The signal handler may have stopped it before this poll saw the interruption.
            if let (None, Some(signal)) = (&self.stopping, signals::interrupted()) {
                self.stopping = Some((Instant::now(), interrupted_reason(signal)));
            }
            self.unregister();
            return Ok(status);
        }
        match &self.stopping {
            None => {
                let reason = match (self.limits.timeout, signals::interrupted()) {
                    (_, Some(signal)) => Some(interrupted_reason(signal)),
                    (Some(limit), _) if self.started.elapsed() >= limit => {
                        Some(format!("stopped at its time limit of {}", seconds(limit)))
                    }
                    _ => interrupt(),
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
    pub fn wait(&mut self, interrupt: &dyn Fn() -> Option<String>) -> io::Result<ExitStatus> {
        loop {
            if let Some(status) = self.poll(interrupt)? {
                return Ok(status);
            }
            std::thread::sleep(POLL);
        }
    }

    /// Why the program was stopped, if it was.
    pub fn stopped(&self) -> Option<String> {
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
        if let Ok(pgid) = libc::pid_t::try_from(self.child.id()) {
            signals::kill_group(pgid, signal);
        }
    }

    fn unregister(&mut self) {
        if let Some(slot) = self.slot.take() {
            signals::unregister(slot);
        }
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        self.unregister();
    }
}

/// `None` for a successful exit that was not stopped, else what went wrong: `exited with status 3`,
/// `stopped at its time limit of 60s; killed by signal 15`.
pub fn describe_failure(status: &ExitStatus, stopped: Option<&str>) -> Option<String> {
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

/// `interrupted (SIGINT)`: why a program stopped when this process got a termination signal.
fn interrupted_reason(signal: i32) -> String {
    let name = match signal {
        libc::SIGINT => "SIGINT".into(),
        libc::SIGTERM => "SIGTERM".into(),
        libc::SIGHUP => "SIGHUP".into(),
        s => format!("signal {s}"),
    };
    format!("interrupted ({name})")
}

/// `90s`, `0.2s`: a limit as messages show it.
fn seconds(d: Duration) -> String {
    format!("{}s", d.as_secs_f64())
}
