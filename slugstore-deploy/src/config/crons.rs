//! `crons`: the application's scheduled jobs.
//!
//! Each entry is `NAME: {spec, commands: {start, stop?}, shutdown_timeout?, timeout?}`, or the legacy
//! `NAME: {spec, cmd}` that older projects still carry. A job that could never run as written (a spec
//! with a field out of range, no command, both command forms) is refused here with its line, like every
//! other configuration error, instead of failing silently every minute after the deploy. The schedule
//! itself is parsed by [`crate::schedule::Schedule`].

use super::field::{required, Field, Sink};
use crate::schedule::Schedule;

/// Seconds between the stop signal and the kill when the file does not say (the platform's default).
pub const DEFAULT_SHUTDOWN_TIMEOUT: u64 = 10;
/// The longest a job may run, in seconds, and the default `timeout` (the platform's: 24 hours).
pub const MAX_CRON_TIMEOUT: u64 = 86_400;

/// One scheduled job.
#[derive(Debug, Clone)]
pub struct Cron {
    /// Its name (the key under `crons`): letters, digits, `-` and `_`.
    pub name: String,
    /// When it runs.
    pub spec: Schedule,
    /// `commands.start` (or the legacy `cmd`): a shell script, run with `sh -c`.
    pub command: String,
    /// Seconds after the stop signal (SIGTERM) before the job is killed (SIGKILL).
    pub shutdown_timeout: u64,
    /// Seconds the job may run before it is stopped.
    pub timeout: u64,
}

/// Reads the `crons` section, one diagnostic per defect.
pub(crate) fn parse(field: &Field<'_>, sink: &mut Sink<'_>) -> Vec<Cron> {
    let mut out = Vec::new();
    for f in field.entries(sink).unwrap_or_default() {
        if let Some(cron) = job(&f, sink) {
            out.push(cron);
        }
    }
    out
}

fn job(f: &Field<'_>, sink: &mut Sink<'_>) -> Option<Cron> {
    let name_ok = !f.key.is_empty()
        && f.key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !name_ok {
        sink.error(
            Some(f.key_pos()),
            f.path(),
            format!(
                "a cron's name must be letters, digits, `-` or `_`, found `{}`",
                f.key
            ),
        );
    }
    f.entries(sink)?;
    let spec = required(f, "spec", sink, "is required, e.g. `*/5 * * * *`").and_then(|s| {
        let text = s.string(sink, "a string, e.g. `*/5 * * * *`")?;
        Schedule::parse(text)
            .map_err(|e| s.error(sink, format!("invalid cron spec: {e}")))
            .ok()
    });
    let command = command(f, sink);
    let seconds = |key: &str, default: u64, sink: &mut Sink<'_>| match f.get(key) {
        None => Some(default),
        Some(v) => {
            let n = v.unsigned(sink, "a whole number of seconds")?;
            if n > MAX_CRON_TIMEOUT {
                v.error(
                    sink,
                    format!("must be at most {MAX_CRON_TIMEOUT} (24 hours), found {n}"),
                );
                return None;
            }
            Some(n)
        }
    };
    let shutdown_timeout = seconds("shutdown_timeout", DEFAULT_SHUTDOWN_TIMEOUT, sink);
    let timeout = seconds("timeout", MAX_CRON_TIMEOUT, sink);
    if !name_ok {
        return None;
    }
    Some(Cron {
        name: f.key.to_owned(),
        spec: spec?,
        command: command?,
        shutdown_timeout: shutdown_timeout?,
        timeout: timeout?,
    })
}

/// `commands.start`, or the legacy `cmd`; exactly one of them.
fn command(f: &Field<'_>, sink: &mut Sink<'_>) -> Option<String> {
    let script = |c: Field<'_>, sink: &mut Sink<'_>| {
        let text = c.string(sink, "a string (a shell command)")?;
        if text.trim().is_empty() {
            c.error(sink, "must not be empty");
            return None;
        }
        Some(text.to_owned())
    };
    match (f.get("commands"), f.get("cmd")) {
        (Some(_), Some(cmd)) => {
            cmd.error(
                sink,
                "give either `commands.start` or the legacy `cmd`, not both",
            );
            None
        }
        (None, Some(cmd)) => script(cmd, sink),
        (Some(commands), None) => {
            commands.entries(sink)?;
            if let Some(stop) = commands.get("stop") {
                stop.string(sink, "a string (a shell command)");
            }
            let start = required(
                &commands,
                "start",
                sink,
                "is required: the command that runs the job",
            )?;
            script(start, sink)
        }
        (None, None) => {
            required(
                f,
                "commands",
                sink,
                "is required: `commands: {start: COMMAND}` (or the legacy `cmd: COMMAND`)",
            );
            None
        }
    }
}
