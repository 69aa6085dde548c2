//! Phase 5: the deploy hook, under maintenance mode.
//!
//! As on the platform, `var/.maintenance.flag` exists in the shared `var` while `hooks.deploy` runs
//! (the application shows its maintenance page), and a failure writes `var/.deploy_is_failed`. Unlike
//! the platform, the hook runs in the new release while `current` still points at the previous one: on
//! failure the flag is removed and the previous release simply keeps serving; the switch only happens
//! once the hook succeeded ([`super::post`]).

use std::fs;
use std::path::{Path, PathBuf};

use crate::checkout::target::Target;
use crate::config::Project;
use crate::deploy::shell::{self, Hook, Mode};
use crate::deploy::status::{Phase, Recorder};
use crate::error::{Error, IoResultExt, Result};
use crate::fsutil;

/// The maintenance flag, relative to the shared storage.
pub const MAINTENANCE_FLAG: &str = "var/.maintenance.flag";
/// The failure marker, relative to the shared storage.
pub const DEPLOY_FAILED_FLAG: &str = "var/.deploy_is_failed";

/// Path of a flag file of the target.
pub fn flag_path(target: &Target, flag: &str) -> PathBuf {
    target.shared_dir().join(flag)
}

/// Runs `hooks.deploy` in `release` under the maintenance flag. On failure writes the failure marker
/// (naming deploy `deploy_id` and the error) and returns the error; the flag is removed either way.
pub fn run_deploy_hook(
    target: &Target,
    project: &Project,
    tree_id: &str,
    release: &Path,
    deploy_id: &str,
    rec: &Recorder<'_>,
) -> Result<()> {
    let flag = flag_path(target, MAINTENANCE_FLAG);
    let failed = flag_path(target, DEPLOY_FAILED_FLAG);
    let var = flag.parent().expect("flag has a parent");
    fs::create_dir_all(var).at(var)?;
    remove_if_present(&failed)?;
    fsutil::write_atomic(&flag, format!("deploy {deploy_id}\n").as_bytes())?;
    rec.line(
        Phase::Deploy,
        &format!("maintenance on: {}", flag.display()),
    )?;
    let result = match project.app.hooks.deploy.as_deref() {
        None => rec.line(Phase::Deploy, "no deploy hook"),
        Some(script) => {
            let env = shell::hook_env(project, tree_id, release, Mode::Deploy);
            let hook = Hook {
                name: "hooks.deploy",
                script,
                cwd: release,
                env: &env,
            };
            shell::run(&hook, Phase::Deploy, rec)
        }
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
