//! Phase 5: the deploy hook, under maintenance mode.
//!
//! As on the platform, `var/.maintenance.flag` exists in the `var` mount while `hooks.deploy` runs
//! (the application shows its maintenance page), and a failure writes `var/.deploy_is_failed`. Both are
//! written where the release's `var` link points ([`Mounts::resolve`](slugstore::checkout::Mounts::resolve)): the hook, the application and
//! `slug cron` see them at `var/...` in the release. A configuration without a `var` mount has nowhere
//! writable for them: the hook then runs without the flag (validation warns of it). Unlike
//! the platform, the hook runs in the new release while `current` still points at the previous one: on
//! failure the flag is removed and the previous release simply keeps serving; the switch only happens
//! once the hook succeeded ([`super::post`]).

use std::fs;
use std::path::{Path, PathBuf};

use crate::config::Project;
use crate::deploy::platform::{Mode, Platform};
use crate::deploy::release::{point_static, StaticVia};
use crate::deploy::shell::{self, Hook};
use crate::error::{Error, IoResultExt, Result};
use crate::status::{Phase, Recorder};
use slugstore::checkout::target::Target;
use slugstore::fsutil;

/// The maintenance flag, relative to the release (inside the `var` mount).
pub const MAINTENANCE_FLAG: &str = "var/.maintenance.flag";
/// The failure marker, relative to the release (inside the `var` mount).
pub const DEPLOY_FAILED_FLAG: &str = "var/.deploy_is_failed";

/// Where flag `flag` of the release at `release` lives in the target's mount storage, or `None` when
/// the release's configuration declares no mount covering it (a read-only `var`).
pub fn flag_path(target: &Target, release: &Path, flag: &str) -> Result<Option<PathBuf>> {
    Ok(crate::layout::release_mounts(release)?.resolve(target, flag))
}

/// Runs `hooks.deploy` in `release` under the maintenance flag. On failure writes the failure marker
/// (naming deploy `deploy_id` and the error) and returns the error; the flag is removed either way.
pub fn run_deploy_hook(
    target: &Target,
    project: &Project,
    platform: &Platform,
    tree_id: &str,
    release: &Path,
    deploy_id: &str,
    rec: &Recorder<'_>,
) -> Result<()> {
    let mounts = crate::layout::release_mounts(release)?;
    let flags = match (
        mounts.resolve(target, MAINTENANCE_FLAG),
        mounts.resolve(target, DEPLOY_FAILED_FLAG),
    ) {
        (Some(flag), Some(failed)) => Some((flag, failed)),
        _ => None,
    };
    match &flags {
        Some((flag, failed)) => {
            let var = flag.parent().expect("flag has a parent");
            fs::create_dir_all(var).at(var)?;
            remove_if_present(failed)?;
            fsutil::write_atomic(flag, format!("deploy {deploy_id}\n").as_bytes())?;
            rec.line(
                Phase::Deploy,
                &format!("maintenance on: {}", flag.display()),
            )?;
        }
        None => rec.line(
            Phase::Deploy,
            &format!("warning: no mount covers {MAINTENANCE_FLAG}: the deploy hook runs without maintenance mode"),
        )?,
    }
    let result = match project.app.hooks.deploy.as_deref() {
        None => rec.line(Phase::Deploy, "no deploy hook"),
        Some(script) => {
            let env = platform.hook_env(tree_id, release, Mode::Deploy);
            let hook = Hook {
                name: "hooks.deploy",
                script,
                cwd: release,
                env: &env,
                timeout: platform.hook_timeout(),
            };
            // The hook sees the new release's static assets; afterwards they follow `current`
            // again (the new release once it is switched, the live one if the hook failed).
            point_static(target, release, StaticVia::Release)?;
            let ran = shell::run(&hook, Phase::Deploy, rec);
            point_static(target, release, StaticVia::Current)?;
            ran
        }
    };
    let Some((flag, failed)) = flags else {
        return result;
    };
    let marked = match &result {
        Err(e) => fsutil::write_atomic(
            &failed,
            format!("deploy {deploy_id} failed in phase deploy: {e}\n").as_bytes(),
        ),
        Ok(()) => Ok(()),
    };
    remove_if_present(&flag)?;
    rec.line(Phase::Deploy, "maintenance off")?;
    marked?;
    result
}

/// Removes a file, succeeding when it is already absent.
fn remove_if_present(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(path, e)),
        _ => Ok(()),
    }
}
