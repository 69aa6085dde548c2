//! Post-deploy: switch traffic, then the post-switch command, the backups and `hooks.post_deploy`.
//!
//! The switch is the checkout module's atomic rename of `current`; it runs the post-switch command
//! (reload php-fpm, reset opcache: PHP keeps the old release's resolved paths otherwise). Then, as
//! ece-tools does after a successful deploy, `app/etc/env.php` and `app/etc/config.php` of the mount
//! are copied to `*.bak` beside themselves (in the mount's storage, through [`Mounts::resolve`](slugstore::checkout::Mounts::resolve); nothing
//! when `app/etc` is not a mount: the release is read-only), and `hooks.post_deploy` runs in the new release. A failure
//! here does not undo the switch (the new release passed its deploy hook and is serving); it fails the
//! phase so the operator sees it.

use std::path::Path;

use crate::config::Project;
use crate::deploy::platform::{Mode, Platform};
use crate::deploy::shell::{self, Hook};
use crate::error::{Error, Result};
use crate::status::{Phase, Recorder};
use slugstore::checkout::{activate, SwitchOptions, SwitchReport, Target};
use slugstore::fsutil;
use slugstore::id::SlugId;

/// The files of the `app/etc` mount kept as `.bak` copies after each deploy.
pub const BACKED_UP: &[&str] = &["app/etc/env.php", "app/etc/config.php"];

/// Makes `slug` live, then runs the post-switch command (through `switch`) and `hooks.post_deploy`
/// and writes the backups. Returns the switch's report, or the first failure after the switch.
pub fn switch_and_finish(
    target: &Target,
    slug: &SlugId,
    switch: &SwitchOptions,
    project: &Project,
    platform: &Platform,
    tree_id: &str,
    rec: &Recorder<'_>,
) -> Result<SwitchReport> {
    let report = activate(target.root(), slug, switch)?;
    rec.line(
        Phase::PostDeploy,
        &format!(
            "current -> {} (switch {:.1} ms)",
            slug.short(12),
            report.switch_seconds * 1000.0
        ),
    )?;
    let mut failure = None;
    if let Some(h) = &report.hook {
        rec.line(
            Phase::PostDeploy,
            &format!("post-switch command exited with {:?}", h.exit_code),
        )?;
        if let Some(how) = &h.failure {
            failure = Some(Error::PostSwitchFailed {
                command: h.command.clone(),
                how: how.clone(),
            });
        }
    }
    let release = target.release_dir(slug);
    let mounts = crate::layout::release_mounts(&release)?;
    for file in BACKED_UP
        .iter()
        .filter_map(|rel| mounts.resolve(target, rel))
    {
        if backup(&file)? {
            rec.line(Phase::PostDeploy, &format!("backup {}.bak", file.display()))?;
        }
    }
    if let Some(script) = project.app.hooks.post_deploy.as_deref() {
        let env = platform.hook_env(tree_id, &release, Mode::PostDeploy);
        let hook = Hook {
            name: "hooks.post_deploy",
            script,
            cwd: &release,
            env: &env,
            timeout: platform.hook_timeout(),
        };
        if let Err(e) = shell::run(&hook, Phase::PostDeploy, rec) {
            failure.get_or_insert(e);
        }
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(report),
    }
}

/// Copies `file` to `file.bak` (replacing it atomically) when `file` exists. Returns whether it did.
fn backup(file: &Path) -> Result<bool> {
    if !file.is_file() {
        return Ok(false);
    }
    let mut name = file
        .file_name()
        .expect("backed-up paths name files")
        .to_owned();
    name.push(".bak");
    let bak = file.with_file_name(name);
    fsutil::copy_atomic(file, &bak)?;
    Ok(true)
}
