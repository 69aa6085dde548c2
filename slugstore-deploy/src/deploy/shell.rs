//! Running a hook script: `sh -c SCRIPT`, its output streamed line by line into the deploy log.
//!
//! The platform runs hooks through the shell, so a hook fails when its last command fails, or at the
//! first failing command when the script starts with `set -e`: passing the script to `sh -c` unchanged
//! gives exactly those semantics. Output is read from both pipes as it comes and each line is recorded
//! at once, so a long build shows progress live and a killed deploy still has its log up to the last line.
//!
//! A hook ends when its shell exits, not when its pipes close: a script that starts a process in the
//! background (`php bin/magento cache:warm &`) hands that process its stdout, and waiting for the
//! pipes to close would hold the deploy until the background process ends, or for ever for a daemon.
//! Output is still read for [`DRAIN`] after the shell exits, then the deploy goes on and says so in the
//! log. A hook that runs past its time limit is stopped (see [`slugstore::process`]).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use slugstore::process::{describe_failure, pump, Limits, Pipes, Stream, Supervised};

pub use crate::deploy::platform::Mode;
use crate::error::{Error, Result};
use crate::status::{Phase, Recorder};

/// How long output is still read after the hook's shell exited, from what it left in the background.
pub const DRAIN: Duration = Duration::from_millis(500);

/// How long a stopped hook gets between SIGTERM and SIGKILL.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// A line longer than this is recorded in pieces, so that output without newlines stays bounded.
const MAX_LINE: usize = 64 * 1024;

/// A hook to run.
pub struct Hook<'a> {
    /// Its name in messages (`hooks.build`).
    pub name: &'a str,
    /// The script.
    pub script: &'a str,
    /// Working directory.
    pub cwd: &'a Path,
    /// Variables added to the inherited environment.
    pub env: &'a [(String, String)],
    /// Longest run before the hook is stopped (SIGTERM to everything it started, SIGKILL
    /// [`SHUTDOWN_TIMEOUT`] later).
    pub timeout: Duration,
}

/// Runs `hook`, recording its output under `phase`. Fails when the script exits non-zero, is killed,
/// or is stopped at its time limit.
pub fn run(hook: &Hook<'_>, phase: Phase, rec: &Recorder<'_>) -> Result<()> {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(hook.script)
        .current_dir(hook.cwd)
        .envs(hook.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let limits = Limits {
        timeout: Some(hook.timeout),
        shutdown_timeout: SHUTDOWN_TIMEOUT,
        shutdown_setting: None,
    };
    let mut child = Supervised::spawn(cmd, limits).map_err(|source| Error::Spawn {
        program: hook.name.to_owned(),
        cwd: Some(hook.cwd.to_path_buf()),
        source,
    })?;
    let wait_error = |source| Error::Wait {
        program: hook.name.to_owned(),
        source,
    };
    let pipes = Pipes::of(child.child_mut());
    let mut lines = [Lines::default(), Lines::default()];
    let line = |text: &str| rec.line(phase, text);
    let pumped = pump(
        pipes,
        DRAIN,
        || child.poll(&|| None).map_err(wait_error),
        |stream, bytes| {
            let i = usize::from(stream == Stream::Err);
            lines[i].push(bytes, &line)
        },
        Error::HookOutput,
    )?;
    for l in &mut lines {
        l.finish(&line)?;
    }
    if pumped.left_open {
        rec.line(
            phase,
            &format!(
                "note: {} exited, but processes it left running still hold its output: not \
                 waiting for them, and what they print now is not recorded (redirect it: \
                 `command > var/log/command.log 2>&1 &`)",
                hook.name
            ),
        )?;
    }
    let status = match pumped.status {
        Some(status) => status,
        None => child.wait(&|| None).map_err(wait_error)?,
    };
    let stopped = child.stopped();
    match (describe_failure(&status, stopped.as_deref()), stopped) {
        (None, _) => Ok(()),
        (Some(how), Some(_)) => Err(Error::HookStopped {
            hook: hook.name.to_owned(),
            how: match slugstore::process::interrupted() {
                None => format!("{how} (raise the limit with --hook-timeout)"),
                Some(_) => how,
            },
        }),
        (Some(_), None) => Err(Error::HookFailed {
            hook: hook.name.to_owned(),
            code: status.code(),
        }),
    }
}

/// One stream's output cut into lines, each recorded once complete.
#[derive(Default)]
struct Lines {
    pending: Vec<u8>,
}

impl Lines {
    /// Adds `bytes` and records each line they complete.
    fn push(&mut self, bytes: &[u8], line: &dyn Fn(&str) -> Result<()>) -> Result<()> {
        self.pending.extend_from_slice(bytes);
        let mut start = 0;
        while let Some(end) = self.pending[start..].iter().position(|&b| b == b'\n') {
            record(&self.pending[start..start + end], line)?;
            start += end + 1;
        }
        self.pending.drain(..start);
        while self.pending.len() > MAX_LINE {
            // Never cut before a UTF-8 continuation byte, so that a character stays whole.
            let cut = (MAX_LINE - 3..=MAX_LINE)
                .rev()
                .find(|&i| self.pending[i] & 0xC0 != 0x80)
                .unwrap_or(MAX_LINE);
            record(&self.pending[..cut], line)?;
            self.pending.drain(..cut);
        }
        Ok(())
    }

    /// Records the last line, when it had no newline.
    fn finish(&mut self, line: &dyn Fn(&str) -> Result<()>) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        record(&std::mem::take(&mut self.pending), line)
    }
}

/// Records one line of output (bytes that are not UTF-8 are replaced).
fn record(bytes: &[u8], line: &dyn Fn(&str) -> Result<()>) -> Result<()> {
    let text = String::from_utf8_lossy(bytes);
    line(text.trim_end_matches(['\n', '\r']))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::{list, log_path};
    use std::time::Instant;

    fn run_script(script: &str) -> (Result<()>, String) {
        run_limited(script, Duration::from_secs(60))
    }

    fn run_limited(script: &str, timeout: Duration) -> (Result<()>, String) {
        let dir = tempfile::tempdir().unwrap();
        let observer = |_: crate::status::Event<'_>| {};
        let rec = Recorder::create(dir.path(), "test", &observer).unwrap();
        let env = [("HOOK_VAR".to_owned(), "from-config".to_owned())];
        let hook = Hook {
            name: "hooks.test",
            script,
            cwd: dir.path(),
            env: &env,
            timeout,
        };
        let result = run(&hook, Phase::Build, &rec);
        let id = &list(dir.path()).unwrap()[0];
        (result, fs_read(&log_path(dir.path(), id)))
    }

    fn fs_read(p: &Path) -> String {
        std::fs::read_to_string(p).unwrap()
    }

    #[test]
    fn a_hook_fails_on_its_last_command_or_any_command_under_set_e() {
        let (r, _) = run_script("false\ntrue");
        assert!(r.is_ok(), "only the last command decides: {r:?}");
        let (r, _) = run_script("true\nfalse");
        assert!(r.unwrap_err().to_string().contains("exited with status 1"));
        let (r, log) = run_script("set -e\nfalse\necho not-reached");
        assert!(r.is_err());
        assert!(!log.contains("not-reached"), "{log}");
    }

    #[test]
    fn both_streams_are_logged_line_by_line_with_the_phase() {
        let (r, log) = run_script(
            "echo \"out $HOOK_VAR\"; echo err >&2; printf 'a\\r\\nb\\n\\377\\n'; printf 'no newline'",
        );
        r.unwrap();
        for line in ["out from-config", "err", "a", "b", "\u{fffd}", "no newline"] {
            assert!(log.contains(&format!("[build] {line}\n")), "{line}: {log}");
        }
        // Order within a stream is kept.
        assert!(
            log.find("] a\n").unwrap() < log.find("] b\n").unwrap(),
            "{log}"
        );
    }

    #[test]
    fn long_output_without_newlines_is_recorded_in_bounded_pieces() {
        let (r, log) = run_script("head -c 200000 /dev/zero | tr '\\0' x");
        r.unwrap();
        let lines: Vec<&str> = log.lines().filter(|l| l.contains("[build] x")).collect();
        let xs: usize = lines.iter().map(|l| l.matches('x').count()).sum();
        assert_eq!(xs, 200_000, "every byte recorded");
        assert!(lines.len() >= 200_000 / MAX_LINE, "{} pieces", lines.len());
        assert!(lines.iter().all(|l| l.len() <= MAX_LINE + 32));
        // Two-byte characters: no piece splits one (which would show as U+FFFD).
        let (r, log) =
            run_script("i=0; while [ $i -lt 50000 ]; do printf '\\303\\251'; i=$((i+1)); done");
        r.unwrap();
        assert_eq!(
            log.matches('\u{e9}').count(),
            50_000,
            "every character whole"
        );
        assert!(!log.contains('\u{fffd}'));
    }

    #[test]
    fn a_hook_that_leaves_a_process_in_the_background_ends_with_its_shell() {
        let t = Instant::now();
        let (r, log) = run_script("echo before; sleep 30 & echo started; exit 0");
        let took = t.elapsed();
        r.unwrap();
        assert!(
            took < Duration::from_secs(10),
            "waited for the background process: {took:?}"
        );
        assert!(log.contains("[build] started\n"), "{log}");
        assert!(
            log.contains("processes it left running still hold its output"),
            "{log}"
        );
        // Its status still decides, and output the background process gives at once is kept.
        let (r, log) = run_script("(sleep 0.1; echo from-background; sleep 30) & exit 4");
        assert!(r.unwrap_err().to_string().contains("exited with status 4"));
        assert!(log.contains("[build] from-background\n"), "{log}");
    }

    #[test]
    fn a_background_process_with_its_output_redirected_is_no_concern() {
        let (r, log) = run_script("sleep 30 >/dev/null 2>&1 & echo done");
        r.unwrap();
        assert!(log.contains("[build] done\n"), "{log}");
        assert!(!log.contains("left running"), "{log}");
    }

    #[test]
    fn a_hook_past_its_time_limit_is_stopped_with_what_it_started() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let script = format!("sleep 30 & echo $! > {}; wait", pidfile.display());
        let t = Instant::now();
        let (r, _) = run_limited(&script, Duration::from_millis(300));
        assert!(t.elapsed() < Duration::from_secs(8), "{:?}", t.elapsed());
        let e = r.unwrap_err();
        assert!(matches!(e, Error::HookStopped { .. }), "{e:?}");
        let msg = e.to_string();
        assert!(
            msg.contains("hooks.test stopped at its time limit of 0.3s; killed by signal 15"),
            "{msg}"
        );
        assert!(msg.contains("--hook-timeout"), "{msg}");
        // The background sleep got the signal too: it is gone.
        let pid: i32 = fs_read(&pidfile).trim().parse().unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        // Gone, or a zombie nobody reaped yet (in a container without an init that reaps).
        let running = || {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
                s.rsplit(')')
                    .next()
                    .is_some_and(|r| !r.trim_start().starts_with('Z'))
            })
        };
        while running() {
            assert!(
                Instant::now() < deadline,
                "the background process outlived the hook"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
