//! The deploy pipeline: a project's source tree to a live release, phase by phase.
//!
//! `deploy` takes a source tree through the platform's phases, each a thin layer over the rest of the
//! crate, and records each phase's state and timing ([`crate::status`]):
//!
//! 1. **validate** ([`crate::config`]): the three YAML files are checked; any defect refuses the deploy
//!    before anything runs. The topology change against the live release's configuration is logged.
//! 2. **build** ([`reuse`], [`build`], [`init`]): the source tree is snapshotted (without `.git` and
//!    the mounts) to get its id; with the build-relevant configuration that gives the build key. A build
//!    of the same key is reused as is. Otherwise the tree is restored into a private build directory,
//!    `hooks.build` runs there, `pub/static` is gzipped and mount content moves to `init/`.
//! 3. **slug**: the build output is snapshotted, the ref `builds/<key>` recording it.
//! 4. **release** ([`release`]): the slug is materialized beside the live release and the mounts get
//!    their `init/` content.
//! 5. **deploy** ([`hooks`]): `hooks.deploy` runs in the new release under maintenance mode, while the
//!    previous release keeps serving; a failure stops here, with `current` untouched.
//! 6. **post_deploy** ([`post`]): `current` switches atomically, then the post-switch command,
//!    backups and `hooks.post_deploy`.
//!
//! The code comes from a directory, a git commit ([`git`]: keyed by the commit's tree id, exported only
//! when it must be built) or a slug built earlier ([`source`]: a promotion, where the build phase builds
//! nothing). A deploy to an [`Environment`](crate::environment::Environment) adds the environment's variables to the hooks (the build's
//! part of the key) and records the environment's name.
//!
//! Deploys of one target are serialized by a lock file in `TARGET/deploys/`.

mod access;
pub mod build;
pub mod builddir;
pub mod git;
pub mod hooks;
pub mod init;
pub mod platform;
pub mod post;
pub mod promote;
pub mod relayout;
pub mod release;
pub mod reuse;
mod run;
pub mod shell;
pub mod source;

use std::fs::File;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use crate::status::GitCommit;
pub use crate::status::{DeployRecord, Event, Observer, Phase, PhaseState, PhaseStatus, Recorder};
pub use access::Reopen;
pub use git::GitSource;
pub use source::Source;

use crate::deploy::access::StoreAccess;
use crate::environment::Destination;
use crate::error::{Error, IoResultExt, Result};
use run::Run;
use slugstore::checkout::{CheckoutOptions, SwitchOptions, Target};
use slugstore::fsutil::{self, Lock};
use slugstore::progress::ProgressBars;
use slugstore::store::Store;

/// How long a hook may run by default (`--hook-timeout`): an hour, as long as the build cache waits
/// for another run of a step.
pub const DEFAULT_HOOK_TIMEOUT_SECS: u64 = 3600;

/// How to deploy.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct DeployOptions {
    /// Materializing the release and retention.
    #[cfg_attr(feature = "clap", command(flatten))]
    #[serde(flatten)]
    pub checkout: CheckoutOptions,
    /// The switch (post-switch command).
    #[cfg_attr(feature = "clap", command(flatten))]
    #[serde(flatten)]
    pub switch: SwitchOptions,
    /// Run the build even when a build of the same tree and configuration is stored.
    #[cfg_attr(feature = "clap", arg(long))]
    #[serde(default)]
    pub no_reuse: bool,
    /// Stop a hook (build, deploy or post-deploy) that runs longer than this many seconds: SIGTERM to
    /// everything it started, SIGKILL 10 s later, and the deploy fails in that phase.
    #[cfg_attr(
        feature = "clap",
        arg(long, value_name = "SECONDS", default_value_t = DEFAULT_HOOK_TIMEOUT_SECS,
            value_parser = clap::value_parser!(u64).range(1..))
    )]
    #[serde(default = "default_hook_timeout")]
    pub hook_timeout: u64,
}

fn default_hook_timeout() -> u64 {
    DEFAULT_HOOK_TIMEOUT_SECS
}

impl Default for DeployOptions {
    fn default() -> Self {
        DeployOptions {
            checkout: CheckoutOptions::default(),
            switch: SwitchOptions::default(),
            no_reuse: false,
            hook_timeout: DEFAULT_HOOK_TIMEOUT_SECS,
        }
    }
}

/// Deploys `source` to `dest`, storing slugs in `store`. `observer` sees every phase change and log
/// line as it happens.
///
/// Returns the deploy's record. A failed phase gives [`Error::Deploy`] naming the deploy and the phase;
/// the record (`TARGET/deploys/<id>.json`) and log are written either way. A source that cannot be
/// resolved (a directory that does not exist, a git revision the repository lacks) fails before any
/// record is made.
///
/// `store` stays open (and locked) for the whole deploy, so `slug cache run` in `hooks.build` cannot
/// open it: [`deploy_reopening`] lets the build hook use the store.
pub fn deploy(
    store: &Store,
    source: &Source,
    dest: &Destination,
    opts: &DeployOptions,
    observer: Observer<'_>,
    bars: &dyn ProgressBars,
) -> Result<DeployRecord> {
    deploy_with(StoreAccess::Held(store), source, dest, opts, observer, bars)
}

/// [`deploy`] with the store closed while `hooks.build` runs (so that `slug cache run` there can
/// open it), and opened again with `reopen` when the next phase needs it.
pub fn deploy_reopening(
    store: Store,
    reopen: Reopen<'_>,
    source: &Source,
    dest: &Destination,
    opts: &DeployOptions,
    observer: Observer<'_>,
    bars: &dyn ProgressBars,
) -> Result<DeployRecord> {
    let access = StoreAccess::Owned {
        store: Box::new(Some(store).into()),
        reopen,
    };
    deploy_with(access, source, dest, opts, observer, bars)
}

fn deploy_with(
    store: StoreAccess<'_>,
    source: &Source,
    dest: &Destination,
    opts: &DeployOptions,
    observer: Observer<'_>,
    bars: &dyn ProgressBars,
) -> Result<DeployRecord> {
    let source = source.resolve()?;
    let target = Target::open(&dest.target)?;
    let _lock = lock_deploys(&store, target.root(), observer)?;
    let rec = Recorder::create(target.root(), &source.describe(), observer)?;
    rec.update(|r| {
        r.env = dest.env.as_ref().map(|e| e.name.clone());
        if let source::Resolved::Git(c) = &source {
            r.git = Some(c.clone());
        }
        if let source::Resolved::Slug { from, .. } = &source {
            r.promoted_from = Some(from.clone());
        }
    })?;
    let run = Run {
        store: &store,
        source: &source,
        target: &target,
        env: dest.env.as_ref(),
        opts,
        rec: &rec,
        bars,
    };
    let result = run.phases();
    rec.finish(result.as_ref().err())?;
    result.map(|()| rec.record())
}

/// Deploys the project directory `source` to the target at `target_root`: [`deploy`] of a
/// [`Source::Dir`] outside any environment.
pub fn deploy_dir(
    store: &Store,
    source: &Path,
    target_root: &Path,
    opts: &DeployOptions,
    observer: Observer<'_>,
    bars: &dyn ProgressBars,
) -> Result<DeployRecord> {
    let source = Source::Dir(source.to_path_buf());
    deploy(
        store,
        &source,
        &Destination::dir(target_root),
        opts,
        observer,
        bars,
    )
}

/// The target's deploy lock (`deploys/.lock`), held by a deploy from start to end.
pub fn deploy_lock_path(target_root: &Path) -> PathBuf {
    target_root.join(crate::status::DEPLOYS).join(".lock")
}

/// Takes the exclusive deploy lock of the target (`deploys/.lock`), waiting for a running deploy.
///
/// A deploy that reopens the store closes it for its build hook, and needs it again after: waiting
/// for its end with the store held would deadlock both. So the store is closed while this waits (it
/// is reopened when the first phase asks for it), and a deploy given a borrowed store, which cannot
/// close it, fails at once instead ([`Error::DeployRunning`]).
fn lock_deploys(
    store: &StoreAccess<'_>,
    target_root: &Path,
    observer: Observer<'_>,
) -> Result<File> {
    let path = deploy_lock_path(target_root);
    let dir = path.parent().expect("the lock is in deploys/");
    std::fs::create_dir_all(dir).at(dir)?;
    if let Some(lock) = fsutil::lock_file(&path, Lock::ExclusiveNoWait)? {
        return Ok(lock);
    }
    if let StoreAccess::Held(_) = store {
        return Err(Error::DeployRunning {
            target: target_root.to_path_buf(),
        });
    }
    observer(Event::Line(&format!(
        "waiting for the deploy running on {} to end",
        target_root.display()
    )));
    let lock = store.release(|| fsutil::lock_file(&path, Lock::Exclusive))?;
    Ok(lock.expect("an exclusive lock is waited for"))
}
