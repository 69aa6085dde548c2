//! One deploy as it runs: the phases in order, each recorded as it starts and ends.

use std::path::PathBuf;

use slugstore::checkout::{checkout, Target};
use slugstore::id::{ObjectId, SlugId};
use slugstore::progress::ProgressBars;
use slugstore::snapshot::{snapshot, SnapshotOptions};

use super::access::StoreAccess;
use super::builddir::BuildPaths;
use super::platform::Platform;
use super::{build, hooks, post, relayout, release, reuse, source, DeployOptions};
use crate::config::{load_project, topology_change, Project};
use crate::environment::Environment;
use crate::error::{Error, Result};
use crate::layout::MagentoLayout;
use crate::status::{Phase, PhaseState, Recorder};

/// One deploy in progress.
pub(super) struct Run<'a> {
    pub(super) store: &'a StoreAccess<'a>,
    pub(super) source: &'a source::Resolved,
    pub(super) target: &'a Target,
    pub(super) env: Option<&'a Environment>,
    pub(super) opts: &'a DeployOptions,
    pub(super) rec: &'a Recorder<'a>,
    pub(super) bars: &'a dyn ProgressBars,
}

/// What the build phase decided.
struct Built {
    key: ObjectId,
    identity: reuse::TreeIdentity,
    reused: Option<SlugId>,
}

impl Run<'_> {
    pub(super) fn phases(&self) -> Result<()> {
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
        let platform =
            platform.with_hook_timeout(std::time::Duration::from_secs(self.opts.hook_timeout));
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
        let mut detail = match &c.materialized {
            None => format!("release {} already on disk", slug.short(12)),
            Some(m) => match (m.recycled, &m.recycle_failed) {
                (Some(old), _) => format!(
                    "materialized {} from release {}, which retention was removing ({} files kept, {} written, {} linked)",
                    c.release.display(),
                    old.short(12),
                    m.files_kept,
                    m.files_written,
                    m.files_linked
                ),
                (None, Some(why)) => format!(
                    "materialized {} (a release could not be recycled: {why})",
                    c.release.display()
                ),
                (None, None) => format!("materialized {}", c.release.display()),
            },
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
