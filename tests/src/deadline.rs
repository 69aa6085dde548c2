//! Deadlines for tests that could hang: a hang is a failure, never a test run that does not end.
//!
//! `Command::output` and `Child::wait` wait as long as the child runs. A `slug` that deadlocks, a
//! `gzip` reading a terminal, a server that never answers would hold the whole suite until CI's own
//! limit kills it, with no word of which test hung. Every child a test runs goes through
//! [`Deadline::output_within`] (or [`wait_within`]): past the deadline its process group is killed
//! and the test panics naming the command. [`DEFAULT`] is generous (a loaded 2-core machine runs
//! a deploy in seconds); `SLUG_TEST_DEADLINE_SECS` changes it.
//!
//! A test whose body waits on borrowed state (a store, a remote) cannot hand its body to another
//! thread and give up on it, and a scoped thread that hangs holds its scope for ever. A [`Watchdog`]
//! instead aborts the whole test process, naming what did not end, when its deadline passes before it
//! is dropped.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

/// Aborts the process if it is still alive `limit` after it was made; dropping it disarms it.
#[must_use = "the watchdog is disarmed as soon as it is dropped"]
pub struct Watchdog {
    _disarm: mpsc::Sender<()>,
}

/// Arms a [`Watchdog`] for `what` (named in the message printed before the abort).
pub fn watchdog(limit: Duration, what: &str) -> Watchdog {
    let (disarm, armed) = mpsc::channel::<()>();
    let what = what.to_string();
    thread::spawn(move || {
        if armed.recv_timeout(limit) == Err(RecvTimeoutError::Timeout) {
            eprintln!("{what} did not end within {limit:?}: aborting the test process");
            std::process::abort();
        }
    });
    Watchdog { _disarm: disarm }
}

/// Waits up to `limit` for process `pid` (not a child of the test: a process a `slug` started) to be
/// gone; a zombie nobody reaped yet counts as gone. Returns whether it went.
pub fn gone_within(pid: u32, limit: Duration) -> bool {
    let running = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
            // The state follows the command name, which is in parentheses and may hold spaces.
            s.rsplit(')')
                .next()
                .is_some_and(|rest| !rest.trim_start().starts_with('Z'))
        })
    };
    let end = Instant::now() + limit;
    while running() {
        if Instant::now() >= end {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
    true
}

/// How long a test waits on a child by default.
pub const DEFAULT: Duration = Duration::from_secs(300);

/// The deadline in force: [`DEFAULT`] or `SLUG_TEST_DEADLINE_SECS`.
pub fn limit() -> Duration {
    std::env::var("SLUG_TEST_DEADLINE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(DEFAULT, Duration::from_secs)
}

/// `Command` with a deadline.
pub trait Deadline {
    /// Runs the command to completion, capturing stdout and stderr like [`Command::output`], and
    /// panics naming it when it is still running after `limit` (its process group is killed first).
    fn output_within(&mut self, limit: Duration) -> Output;

    /// [`Deadline::output_within`] with the default [`limit`].
    fn output_deadline(&mut self) -> Output {
        self.output_within(limit())
    }

    /// The exit status, output captured and dropped (so a child never writes to the test's terminal).
    fn status_deadline(&mut self) -> ExitStatus {
        self.output_deadline().status
    }
}

impl Deadline for Command {
    fn output_within(&mut self, limit: Duration) -> Output {
        let what = format!("{self:?}");
        let mut child = self
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        let readers = [
            drain(
                child
                    .stdout
                    .take()
                    .map(|p| Box::new(p) as Box<dyn Read + Send>),
            ),
            drain(
                child
                    .stderr
                    .take()
                    .map(|p| Box::new(p) as Box<dyn Read + Send>),
            ),
        ];
        let status = wait_within(&mut child, limit)
            .unwrap_or_else(|| panic!("{what} still ran after {limit:?}: killed"));
        let [stdout, stderr] = readers.map(|r| r.join().expect("a pipe reader does not panic"));
        Output {
            status,
            stdout,
            stderr,
        }
    }
}

/// Reads a pipe to its end on a thread of its own (both pipes at once, so neither fills up).
fn drain(pipe: Option<Box<dyn Read + Send>>) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut out = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut out);
        }
        out
    })
}

/// Waits for `child` at most `limit`; past it, kills the child's process group (the child itself when
/// it leads none) and returns `None`.
pub fn wait_within(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let end = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < end => thread::sleep(Duration::from_millis(5)),
            _ => {
                let pid = child.id() as libc::pid_t;
                // SAFETY: kill(2) on the child's process group and on the child; no memory involved.
                unsafe {
                    libc::kill(-pid, libc::SIGKILL);
                    libc::kill(pid, libc::SIGKILL);
                }
                let _ = child.wait();
                return None;
            }
        }
    }
}

/// [`wait_within`] with the default [`limit`], panicking when it passes.
pub fn wait_deadline(child: &mut Child) -> ExitStatus {
    let limit = limit();
    wait_within(child, limit)
        .unwrap_or_else(|| panic!("child {} still ran after {limit:?}: killed", child.id()))
}

/// Runs `cmd` to its end (its output dropped) and returns its exit status and peak resident set in
/// bytes (`ru_maxrss` from `wait4(2)`, the child's own); panics naming it when it is still running
/// after [`limit`] (its process group is killed first).
pub fn status_and_peak_rss(cmd: &mut Command) -> (ExitStatus, u64) {
    use std::os::unix::process::ExitStatusExt;
    let what = format!("{cmd:?}");
    // Reaped by wait4(2) below, which `Child` does not see.
    #[allow(clippy::zombie_processes)]
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let pid = child.id() as libc::pid_t;
    let end = Instant::now() + limit();
    loop {
        let mut status = 0;
        // SAFETY: an all-zero `rusage` is valid; wait4(2) fills it and `status` for our own child.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let got = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        match got {
            _ if got == pid => {
                let peak = u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024;
                return (ExitStatus::from_raw(status), peak);
            }
            0 if Instant::now() < end => thread::sleep(Duration::from_millis(5)),
            0 => {
                // SAFETY: kill(2) on the child's process group; no memory involved.
                unsafe { libc::kill(-pid, libc::SIGKILL) };
                let _ = child.wait();
                panic!("{what} still ran after {:?}: killed", limit());
            }
            _ => panic!("wait4 on {what}: {}", std::io::Error::last_os_error()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_captured_like_command_output() {
        let out = Command::new("sh")
            .args(["-c", "echo out; echo err >&2; exit 3"])
            .output_deadline();
        assert_eq!(out.status.code(), Some(3));
        assert_eq!(out.stdout, b"out\n");
        assert_eq!(out.stderr, b"err\n");
    }

    #[test]
    fn a_child_past_its_deadline_is_killed_and_named() {
        let started = Instant::now();
        let r = std::panic::catch_unwind(|| {
            Command::new("sh")
                .args(["-c", "sleep 30 & sleep 30"])
                .output_within(Duration::from_millis(200))
        });
        let message = *r.unwrap_err().downcast::<String>().unwrap();
        assert!(
            message.contains("still ran after") && message.contains("sleep 30"),
            "{message}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the whole group was not killed"
        );
    }
}
