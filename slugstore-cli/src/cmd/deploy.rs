//! `slug deploy`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use slugstore_deploy::deploy::{
    deploy_reopening, DeployOptions, DeployRecord, Event, GitSource, Source,
};
use slugstore_deploy::environment::destination_for_branch;

use crate::cmd::internal::spawn_empty_trash;
use crate::cmd::target_arg::TargetArg;
use crate::cmd::CmdResult;
use crate::context::Context;

/// Deploy a project's source tree to a target, phase by phase.
///
/// validate (the three YAML files; any defect refuses the deploy), build (hooks.build in a private copy
/// of the tree, or the stored build of the same tree and build configuration), slug, release (materialized
/// beside the live one, init/ content copied into the mounts), deploy (hooks.deploy in the new release under
/// var/.maintenance.flag; on failure the previous release keeps serving), post_deploy (atomic switch of
/// `current`, post-switch command, backups, hooks.post_deploy). Each phase's state and timing are shown
/// as they happen and kept under TARGET/deploys/ (see `slug status` and `slug log`).
///
/// Releases beyond --keep are renamed away in the release phase and their files deleted afterwards by a
/// detached, low-priority `slug` process, so the deploy returns as soon as the new release is live
/// (--cleanup foreground deletes them before returning).
///
/// The code is a directory (SRC), or a commit of a git repository (--git REPO --rev REV: no working copy
/// is needed, and the build is keyed by the commit's tree id, so the same tree is built once whatever
/// the branch or commit). The target is --target DIR, --env NAME, or with --branch the environment that
/// branch deploys to (what the repository's post-receive hook uses).
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("code").required(true).args(["source", "git"])))]
pub struct Args {
    /// The project's source tree (with .magento.app.yaml and .magento/).
    #[arg(value_name = "SRC")]
    pub source: Option<PathBuf>,
    /// Deploy a commit of this git repository (bare or not) instead of a directory.
    #[arg(long, value_name = "REPO")]
    pub git: Option<PathBuf>,
    /// The revision to deploy with --git: branch, tag, commit id (default: HEAD, or the --branch).
    #[arg(long, value_name = "REV", requires = "git")]
    pub rev: Option<String>,
    /// Deploy to the environment this git branch deploys to (`slug env add --branch`); with --git
    /// and no --rev, deploys the branch's head. Fails when no environment takes the branch.
    #[arg(long, value_name = "BRANCH")]
    pub branch: Option<String>,
    #[command(flatten)]
    pub target: TargetArg,
    #[command(flatten)]
    pub opts: DeployOptions,
    /// When the files of releases removed by retention (--keep) are deleted: `background` in a
    /// detached low-priority process started once the deploy has finished; `foreground` in the release
    /// phase, before the new release goes live. Either way they stop being releases in the release
    /// phase.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = Cleanup::Background)]
    pub cleanup: Cleanup,
}

/// When old releases are deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Cleanup {
    /// After the deploy, by a detached process.
    Background,
    /// During the deploy.
    Foreground,
}

pub fn run(ctx: &Context, mut a: Args) -> CmdResult {
    let store = ctx.open_or_init()?;
    let dest = match &a.branch {
        Some(branch) => destination_for_branch(store.root(), branch)?,
        None => a.target.destination(ctx)?,
    };
    let source = match (&a.source, &a.git) {
        (_, Some(repo)) => Source::Git(GitSource::new(repo, a.rev.clone(), a.branch.as_deref())),
        (Some(dir), None) => Source::Dir(dir.clone()),
        (None, None) => unreachable!("clap requires SRC or --git"),
    };
    let live = !ctx.global.quiet && !ctx.global.json;
    let observer = |e: Event<'_>| {
        if let (true, Event::Line(line)) = (live, e) {
            eprintln!("{line}");
        }
    };
    // The store is closed while hooks.build runs, so that `slug cache run` in the hook can open it.
    let reopen = || ctx.open();
    a.opts.checkout.retention.defer = a.cleanup == Cleanup::Background;
    let result = deploy_reopening(
        store, &reopen, &source, &dest, &a.opts, &observer, &ctx.bars,
    );
    if a.cleanup == Cleanup::Background {
        start_cleanup(ctx, &dest.target);
    }
    let record = result?;
    if ctx.global.json {
        ctx.print_json(&record);
    } else {
        out!("{}", summary(&record));
    }
    Ok(ExitCode::SUCCESS)
}

/// Starts deleting the target's trash in the background (see [`crate::cmd::internal`]). A failure
/// to start is only worth a warning: the next command on the target deletes the trash.
fn start_cleanup(ctx: &Context, target: &Path) {
    if let Err(e) = spawn_empty_trash(target) {
        ctx.note(&format!(
            "slug: warning: could not start deleting old releases in the background ({e}); \
             the next command on {} deletes them",
            target.display()
        ));
    }
}

/// `deploy 20261122T060832Z-123: slug 3f2a… live (build reused) in 0.412s`.
pub fn summary(r: &DeployRecord) -> String {
    format!(
        "deploy {}: {}{}{}",
        r.id,
        r.slug
            .map(|s| format!("slug {} ", s.short(12)))
            .unwrap_or_default(),
        r.state.as_str(),
        match (r.reused_build, r.seconds) {
            (true, Some(s)) => format!(" (build reused) in {s:.3}s"),
            (false, Some(s)) => format!(" in {s:.3}s"),
            (_, None) => String::new(),
        }
    )
}
