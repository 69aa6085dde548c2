//! The deploy pipeline: a project's source tree to a live release, phase by phase.
//!
//! `deploy` takes a source tree through the platform's phases, each a thin layer over the rest of the
//! crate, and records each phase's state and timing ([`status`]):
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
//! nothing). A deploy to an [`Environment`] adds the environment's variables to the hooks (the build's
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

use crate::config::{load_project, topology_change, Project};
use crate::deploy::access::StoreAccess;
use crate::deploy::builddir::BuildPaths;
use crate::deploy::platform::Platform;
use crate::environment::{Destination, Environment};
use crate::error::{Error, IoResultExt, Result};
use crate::layout::MagentoLayout;
use slugstore::checkout::{checkout, CheckoutOptions, SwitchOptions, Target};
use slugstore::fsutil::{self, Lock};
use slugstore::id::{ObjectId, SlugId};
use slugstore::progress::ProgressBars;
use slugstore::snapshot::{snapshot, SnapshotOptions};
use slugstore::store::Store;

/// How to deploy.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
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
    let _lock = lock_deploys(target.root())?;
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

/// One deploy in progress.
struct Run<'a> {
    store: &'a StoreAccess<'a>,
    source: &'a source::Resolved,
    target: &'a Target,
    env: Option<&'a Environment>,
    opts: &'a DeployOptions,
    rec: &'a Recorder<'a>,
    bars: &'a dyn ProgressBars,
}

/// What the build phase decided.
struct Built {
    key: ObjectId,
    identity: reuse::TreeIdentity,
    reused: Option<SlugId>,
}

impl Run<'_> {
    fn phases(&self) -> Result<()> {
        let (project, platform) = self.phase(Phase::Validate, || self.validate())?;
        let built = self.phase(Phase::Build, || {
            self.build(&self.build_project(&project), &platform)
        })?;
        let tree_id = built.key.to_hex();
        let slug = self.phase(Phase::Slug, || self.slug(&built, &project))?;
        let release = self.phase(Phase::Release, || self.release(&slug))?;
        self.phase(Phase::Deploy, || {
            let id = self.rec.id();
            hooks::run_deploy_hook(
                self.target,
                &project,
                &platform,
                &tree_id,
                &release,
                &id,
                self.rec,
            )?;
            Ok(((), None))
        })?;
        self.phase(Phase::PostDeploy, || {
            let r = post::switch_and_finish(
                self.target,
                &slug,
                &self.opts.switch,
                &project,
                &platform,
                &tree_id,
                self.rec,
            )?;
            let detail = match r.previous {
                Some(p) => format!("live: {} (was {})", slug.short(12), p.short(12)),
                None => format!("live: {}", slug.short(12)),
            };
            Ok(((), Some(detail)))
        })
    }

    /// Runs `f` as `phase`: marks it in progress, then succeeded (with `f`'s summary) or failed.
    fn phase<T>(&self, phase: Phase, f: impl FnOnce() -> Result<(T, Option<String>)>) -> Result<T> {
        self.rec.begin(phase)?;
        match f() {
            Ok((value, detail)) => {
                self.rec.end(phase, PhaseState::Success, detail)?;
                Ok(value)
            }
            Err(e) => {
                self.rec
                    .end(phase, PhaseState::Failed, Some(e.to_string()))?;
                Err(Error::Deploy {
                    deploy: self.rec.id(),
                    phase,
                    source: Box::new(e),
                })
            }
        }
    }

    /// Phase 1: the configuration, how the topology changes against the live release, and the
    /// platform's variables (every relationship must have an endpoint in the environment).
    fn validate(&self) -> Result<((Project, Platform), Option<String>)> {
        let project = self.source.project(&*self.store.get()?)?;
        let (platform, unresolved) = Platform::new(&project, self.env)?;
        if !unresolved.0.is_empty() {
            self.rec.line(
                Phase::Validate,
                &format!(
                    "warning: deploying outside an environment: relationships {} have no endpoint \
                     (left out of PLATFORM_RELATIONSHIPS)",
                    unresolved.0.join(", ")
                ),
            )?;
        }
        let previous = self.target.current()?;
        self.rec.update(|r| r.previous = previous)?;
        if let Some(prev) = previous {
            let live = self.target.release_dir(&prev);
            match load_project(&live) {
                Ok(old) => {
                    let change = topology_change(&old, &project);
                    let text = if change.is_empty() {
                        "topology unchanged".to_owned()
                    } else {
                        change.to_string()
                    };
                    for line in text.lines() {
                        self.rec.line(Phase::Validate, line)?;
                    }
                }
                Err(_) => self.rec.line(
                    Phase::Validate,
                    &format!(
                        "live release {} has no valid configuration: topology not compared",
                        prev.short(12)
                    ),
                )?,
            }
        }
        for w in project.warnings() {
            self.rec.line(Phase::Validate, &format!("warning: {w}"))?;
        }
        let app = &project.app;
        let detail = format!(
            "app {} ({}), {} services, {} mounts, {} routes",
            app.name,
            app.runtime,
            project.services.len(),
            app.mounts.len(),
            project.routes.len()
        );
        Ok(((project, platform), Some(detail)))
    }

    /// The project as the build key sees it: the environment's variables added to `variables.env`
    /// (they reach the build hook, see [`platform`]).
    fn build_project(&self, project: &Project) -> Project {
        let mut build = project.clone();
        if let Some(env) = self.env {
            build.app.env.extend(env.variables.clone());
        }
        build
    }

    /// Phase 2: reuse an earlier build of this tree, or build it.
    fn build(&self, project: &Project, platform: &Platform) -> Result<(Built, Option<String>)> {
        let (identity, tree) = match self.source {
            source::Resolved::Slug { slug, from } => return self.promoted(slug, from),
            source::Resolved::Dir(dir) => {
                let store = self.store.get()?;
                let tree = reuse::source_tree(&store, dir, self.target.root(), self.bars)?;
                (reuse::TreeIdentity::Slug(tree), Some(tree))
            }
            source::Resolved::Git(c) => (reuse::TreeIdentity::Git(c.tree.clone()), None),
        };
        let no_vars = Default::default();
        let variables = self.env.map_or(&no_vars, |e| &e.variables);
        let key = reuse::build_key(&identity, project, variables);
        self.rec.update(|r| r.tree = Some(key.to_hex()))?;
        if !self.opts.no_reuse {
            if let Some(slug) = reuse::lookup(&*self.store.get()?, &key)? {
                self.rec.line(
                    Phase::Build,
                    &format!("reusing existing build {slug} for {identity} (build key {key})"),
                )?;
                let detail = format!("reused build {}", slug.short(12));
                let built = Built {
                    key,
                    identity,
                    reused: Some(slug),
                };
                return Ok((built, Some(detail)));
            }
        }
        let tree = match (tree, self.source) {
            (Some(tree), _) => tree,
            (None, source::Resolved::Git(c)) => {
                self.rec.line(
                    Phase::Build,
                    &format!("exporting commit {} (tree {})", c.commit, c.tree),
                )?;
                let store = self.store.get()?;
                let exported = c.export(&store, self.bars)?;
                source::without_mounts(&store, exported, project)?
            }
            (None, _) => unreachable!("only a git source is exported"),
        };
        let paths = BuildPaths::of(self.target.root());
        build::build_tree(
            self.store,
            &tree,
            project,
            platform,
            &key.to_hex(),
            &paths,
            self.rec,
            self.bars,
        )?;
        let detail = format!("built {identity} (build key {key})");
        let built = Built {
            key,
            identity,
            reused: None,
        };
        Ok((built, Some(detail)))
    }

    /// Phase 2 of a promotion: nothing is built, the slug is the build.
    fn promoted(&self, slug: &SlugId, from: &str) -> Result<(Built, Option<String>)> {
        let rec = self.store.get()?.slug(slug)?;
        let key = rec
            .labels
            .get(reuse::BUILD_KEY_LABEL)
            .and_then(|k| k.parse().ok())
            .unwrap_or_else(|| slug.object());
        let identity = rec
            .labels
            .get(reuse::SOURCE_LABEL)
            .and_then(|l| reuse::TreeIdentity::from_label(l))
            .unwrap_or(reuse::TreeIdentity::Slug(*slug));
        self.rec.update(|r| r.tree = Some(key.to_hex()))?;
        self.rec.line(
            Phase::Build,
            &format!("promoting slug {slug} from {from}: nothing to build"),
        )?;
        let detail = format!("promoted {} from {from}", slug.short(12));
        let built = Built {
            key,
            identity,
            reused: Some(*slug),
        };
        Ok((built, Some(detail)))
    }

    /// Phase 3: snapshot the build output, recording it under its key.
    fn slug(&self, built: &Built, project: &Project) -> Result<(SlugId, Option<String>)> {
        let slug = match built.reused {
            Some(slug) => {
                self.rec.update(|r| {
                    r.slug = Some(slug);
                    r.reused_build = true;
                })?;
                return Ok((slug, Some(format!("reused slug {slug}"))));
            }
            None => {
                let dir = BuildPaths::of(self.target.root()).dir;
                let opts = SnapshotOptions {
                    excludes: crate::layout::snapshot_excludes(&dir, &[])?,
                    ref_name: Some(reuse::build_ref(&built.key)),
                    message: Some(format!("build of tree {}", built.key)),
                    labels: vec![
                        ("app".to_owned(), project.app.name.clone()),
                        ("deploy".to_owned(), self.rec.id()),
                        (reuse::BUILD_KEY_LABEL.to_owned(), built.key.to_hex()),
                        (reuse::SOURCE_LABEL.to_owned(), built.identity.label()),
                    ],
                    ..SnapshotOptions::default()
                };
                // The build directory stays for the next build, which syncs it (see `builddir`):
                // unchanged files keep their inodes, so the stat cache spares them a rehash here.
                let r = snapshot(&*self.store.get()?, &dir, &opts, self.bars)?;
                self.rec.line(
                    Phase::Slug,
                    &format!(
                        "{} files, {} new objects ({} bytes)",
                        r.tree.files, r.new_objects, r.new_bytes
                    ),
                )?;
                r.slug
            }
        };
        self.rec.update(|r| r.slug = Some(slug))?;
        Ok((slug, Some(format!("slug {slug}"))))
    }

    /// Phase 4: the release on disk, its mounts wired.
    fn release(&self, slug: &SlugId) -> Result<(PathBuf, Option<String>)> {
        let c = checkout(
            &*self.store.get()?,
            self.target.root(),
            slug,
            &self.opts.checkout,
            &MagentoLayout,
            self.bars,
        )?;
        let mut detail = if c.already_present {
            format!("release {} already on disk", slug.short(12))
        } else {
            format!("materialized {}", c.release.display())
        };
        let fixed = relayout::repair(self.target, &c.release)?;
        if !fixed.is_empty() {
            self.rec.line(
                Phase::Release,
                &format!(
                    "repaired the mount layout: {} paths moved into their mount storage, {} old static links dropped",
                    fixed.moved, fixed.dropped_links
                ),
            )?;
            for aside in &fixed.kept_aside {
                self.rec.line(
                    Phase::Release,
                    &format!(
                        "warning: {} holds files the mount storage already has: kept, not merged",
                        aside.display()
                    ),
                )?;
            }
        }
        let m = release::wire_mounts(self.target, &c.release)?;
        detail.push_str(&format!(
            "; mounts: {} init files copied, {} kept, {} static links",
            m.copied, m.kept, m.static_links
        ));
        for kept in &m.static_kept {
            self.rec.line(
                Phase::Release,
                &format!("warning: {kept} is not a symlink: left as is"),
            )?;
        }
        Ok((c.release, Some(detail)))
    }
}

/// The target's deploy lock (`deploys/.lock`), held by a deploy from start to end.
pub fn deploy_lock_path(target_root: &Path) -> PathBuf {
    target_root.join(crate::status::DEPLOYS).join(".lock")
}

/// Takes the exclusive deploy lock of the target (`deploys/.lock`), waiting for a running deploy.
fn lock_deploys(target_root: &Path) -> Result<File> {
    let path = deploy_lock_path(target_root);
    let dir = path.parent().expect("the lock is in deploys/");
    std::fs::create_dir_all(dir).at(dir)?;
    Ok(fsutil::lock_file(&path, Lock::Exclusive)?.expect("an exclusive lock is waited for"))
}
