//! Switching the live release: activate, rollback, and the post-switch hook.
//!
//! The switch is one `rename(2)`: a new symlink is made under a temporary name beside `current`, then
//! renamed over it. rename replaces its destination atomically, so a process resolving `current` at any
//! instant finds the old release or the new one, never nothing (removing the old link and creating the
//! new one, as `ln -sfn` does, leaves a window where the path does not exist).
//!
//! Runtimes that cache resolved paths keep serving the old release after the switch: PHP's opcache and
//! realpath cache key files by their resolved path. The post-switch hook (`sh -c COMMAND`, run after
//! the switch with `SLUG_*` variables describing it) is where to reload php-fpm or reset opcache.

use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::checkout::target::{Activation, State, SwitchKind, Target, RELEASES};
use crate::error::{Error, IoResultExt, Result};
use crate::fsutil;
use crate::id::SlugId;
use crate::process::{describe_failure, Limits, Supervised};
use crate::slug::now_secs;

/// How long the post-switch command may run by default (`--post-switch-timeout`).
pub const DEFAULT_POST_SWITCH_TIMEOUT_SECS: u64 = 60;

/// How to switch.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct SwitchOptions {
    /// Run this command with `sh -c` after each switch, in the target directory, with SLUG_ID,
    /// SLUG_RELEASE, SLUG_PREVIOUS, SLUG_PREVIOUS_RELEASE, SLUG_TARGET and SLUG_SWITCH set (e.g. reload
    /// php-fpm so that opcache and the realpath cache drop the old release's paths).
    #[cfg_attr(
        feature = "clap",
        arg(long, env = "SLUG_POST_SWITCH", value_name = "COMMAND")
    )]
    pub post_switch: Option<String>,
    /// Stop the post-switch command after this many seconds (SIGTERM to everything it started,
    /// SIGKILL 5 s later): it runs with the target locked, so a hung reload must not hold every later
    /// deploy and rollback.
    #[cfg_attr(
        feature = "clap",
        arg(long, value_name = "SECONDS", default_value_t = DEFAULT_POST_SWITCH_TIMEOUT_SECS,
            value_parser = clap::value_parser!(u64).range(1..))
    )]
    #[serde(default = "default_post_switch_timeout")]
    pub post_switch_timeout: u64,
}

fn default_post_switch_timeout() -> u64 {
    DEFAULT_POST_SWITCH_TIMEOUT_SECS
}

impl Default for SwitchOptions {
    fn default() -> Self {
        SwitchOptions {
            post_switch: None,
            post_switch_timeout: DEFAULT_POST_SWITCH_TIMEOUT_SECS,
        }
    }
}

/// What the post-switch hook did.
#[derive(Debug, Clone, Serialize)]
pub struct HookReport {
    /// The command run.
    pub command: String,
    /// Its exit code (`None` when killed by a signal).
    pub exit_code: Option<i32>,
    /// Whether it exited 0 (and was not stopped).
    pub success: bool,
    /// `None` on success, else what went wrong: `exited with status 3`, `stopped at its time limit
    /// of 60s; killed by signal 15`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

/// What a switch did.
#[derive(Debug, Clone, Serialize)]
pub struct SwitchReport {
    /// The release now live.
    pub slug: SlugId,
    /// The release live before, if any.
    pub previous: Option<SlugId>,
    /// Deploy or rollback.
    pub kind: SwitchKind,
    /// The live release's directory.
    pub release: PathBuf,
    /// Time of the switch itself (symlink, rename, directory fsync), in seconds.
    pub switch_seconds: f64,
    /// Time spent flushing the release to disk before its first switch, in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flush_seconds: Option<f64>,
    /// The post-switch hook, when one is configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hook: Option<HookReport>,
}

/// Makes `id` live (its release must be on disk), records the activation, runs the hook. Call with the
/// target lock held.
pub fn switch_to(
    target: &Target,
    id: &SlugId,
    kind: SwitchKind,
    opts: &SwitchOptions,
) -> Result<SwitchReport> {
    if !target.has_release(id) {
        return Err(Error::NoRelease {
            target: target.root().to_path_buf(),
            releases: target.releases_dir(),
            slug: *id,
        });
    }
    let previous = target.current().ok().flatten();
    let mut state = target.state()?;
    let flush_seconds = flush_if_new(target, &mut state, id)?;
    let started = Instant::now();
    swap_current(target, id)?;
    let switch_seconds = started.elapsed().as_secs_f64();
    state.record(Activation {
        slug: *id,
        time: now_secs(),
        previous,
        kind,
    });
    target.save_state(&state)?;
    let mut report = SwitchReport {
        slug: *id,
        previous,
        kind,
        release: target.release_dir(id),
        switch_seconds,
        flush_seconds,
        hook: None,
    };
    if let Some(cmd) = &opts.post_switch {
        let limit = Duration::from_secs(opts.post_switch_timeout);
        report.hook = Some(run_hook(target, cmd, limit, &report)?);
    }
    Ok(report)
}

/// Flushes the release of `id` to disk if it has never been (it was checked out and is going live for
/// the first time), and records that it is durable; returns the time it took. A release that was live
/// before is durable already, so a rollback to it is only the switch.
fn flush_if_new(target: &Target, state: &mut State, id: &SlugId) -> Result<Option<f64>> {
    let Some(info) = state.releases.get_mut(id).filter(|r| !r.durable) else {
        return Ok(None);
    };
    let started = Instant::now();
    fsutil::syncfs(&target.release_dir(id))?;
    info.durable = true;
    Ok(Some(started.elapsed().as_secs_f64()))
}

/// Points `current` at the release of `id` atomically and durably.
pub fn swap_current(target: &Target, id: &SlugId) -> Result<()> {
    let link = target.current_link();
    let tmp = target.root().join(fsutil::temp_name("current"));
    let dest = PathBuf::from(RELEASES).join(id.to_hex());
    std::os::unix::fs::symlink(&dest, &tmp).at(&tmp)?;
    if let Err(e) = std::fs::rename(&tmp, &link) {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(&link, e));
    }
    fsutil::sync_dir(target.root())
}

/// Runs the post-switch hook; its output goes to stderr so that stdout stays the command's own.
fn run_hook(target: &Target, cmd: &str, limit: Duration, r: &SwitchReport) -> Result<HookReport> {
    let hex = |id: &Option<SlugId>| id.map(|i| i.to_hex()).unwrap_or_default();
    let prev_release = r
        .previous
        .map(|p| target.release_dir(&p).display().to_string())
        .unwrap_or_default();
    let stdout = match std::io::stderr().as_fd().try_clone_to_owned() {
        Ok(fd) => Stdio::from(fd),
        Err(_) => Stdio::null(),
    };
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(cmd)
        .current_dir(target.root())
        .env("SLUG_ID", r.slug.to_hex())
        .env("SLUG_RELEASE", &r.release)
        .env("SLUG_PREVIOUS", hex(&r.previous))
        .env("SLUG_PREVIOUS_RELEASE", prev_release)
        .env("SLUG_TARGET", target.root())
        .env(
            "SLUG_SWITCH",
            match r.kind {
                SwitchKind::Activate => "activate",
                SwitchKind::Rollback => "rollback",
            },
        )
        .stdin(Stdio::null())
        .stdout(stdout);
    let limits = Limits {
        timeout: Some(limit),
        shutdown_timeout: Duration::from_secs(5),
        shutdown_setting: None,
    };
    let mut child = Supervised::spawn(command, limits).map_err(|source| Error::HookSpawn {
        command: cmd.to_string(),
        source,
    })?;
    let status = child
        .wait(&|| None)
        .map_err(|e| Error::io(format!("post-switch command `{cmd}`"), e))?;
    let failure = describe_failure(&status, child.stopped().as_deref());
    Ok(HookReport {
        command: cmd.to_string(),
        exit_code: status.code(),
        success: failure.is_none(),
        failure,
    })
}
