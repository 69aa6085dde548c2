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
//! Deploys of one target are serialized by a lock file in `TARGET/deploys/`.

pub mod build;
pub mod hooks;
pub mod init;
pub mod post;
pub mod release;
pub mod reuse;
pub mod shell;
pub mod status;

use std::fs::{File, OpenOptions};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use status::{DeployRecord, Event, Observer, Phase, PhaseState, PhaseStatus, Recorder};

use crate::checkout::{checkout, CheckoutOptions, SwitchOptions, Target};
use crate::config::{load_project, topology_change, Diagnostic, Project};
use crate::error::{Error, IoResultExt, Result};
use crate::id::{ObjectId, SlugId};
use crate::progress::ProgressBars;
use crate::snapshot::{snapshot, SnapshotOptions};
use crate::store::Store;

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

/// Deploys the project at `source` to the target at `target_root` (created if absent), storing slugs
/// in `store`. `observer` sees every phase change and log line as it happens.
///
/// Returns the deploy's record. A failed phase gives [`Error::Deploy`] naming the deploy and the phase;
/// the record (`TARGET/deploys/<id>.json`) and log are written either way.
pub fn deploy(
    store: &Store,
    source: &Path,
    target_root: &Path,
    opts: &DeployOptions,
    observer: Observer<'_>,
    bars: &dyn ProgressBars,
) -> Result<DeployRecord> {
    let source = source.canonicalize().at(source)?;
    let target = Target::open(target_root)?;
    let _lock = lock_deploys(target.root())?;
    let rec = Recorder::create(target.root(), &source, observer)?;
    let run = Run {
        store,
        source: &source,
        target: &target,
        opts,
        rec: &rec,
        bars,
    };
    let result = run.phases();
    rec.finish(result.as_ref().err())?;
    result.map(|()| rec.record())
}

/// One deploy in progress.
struct Run<'a> {
    store: &'a Store,
    source: &'a Path,
    target: &'a Target,
    opts: &'a DeployOptions,
    rec: &'a Recorder<'a>,
    bars: &'a dyn ProgressBars,
}

/// What the build phase decided.
struct Built {
    key: ObjectId,
    reused: Option<SlugId>,
}

impl Run<'_> {
    fn phases(&self) -> Result<()> {
        let project = self.phase(Phase::Validate, || self.validate())?;
        let built = self.phase(Phase::Build, || self.build(&project))?;
        let tree_id = built.key.to_hex();
        let slug = self.phase(Phase::Slug, || self.slug(&built, &project))?;
        let release = self.phase(Phase::Release, || self.release(&slug))?;
        self.phase(Phase::Deploy, || {
            let id = self.rec.id();
            hooks::run_deploy_hook(self.target, &project, &tree_id, &release, &id, self.rec)?;
            Ok(((), None))
        })?;
        self.phase(Phase::PostDeploy, || {
            let r = post::switch_and_finish(
                self.target,
                &slug,
                &self.opts.switch,
                &project,
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
                    phase: phase.as_str().to_owned(),
                    source: Box::new(e),
                })
            }
        }
    }

    /// Phase 1: the configuration, and how the topology changes against the live release.
    fn validate(&self) -> Result<(Project, Option<String>)> {
        let project = load_project(self.source).map_err(|d| under(self.source, d))?;
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
        let app = &project.app;
        let detail = format!(
            "app {} ({}), {} services, {} mounts, {} routes",
            app.name,
            app.runtime,
            project.services.len(),
            app.mounts.len(),
            project.routes.len()
        );
        Ok((project, Some(detail)))
    }

    /// Phase 2: reuse an earlier build of this tree, or build it.
    fn build(&self, project: &Project) -> Result<(Built, Option<String>)> {
        let tree = reuse::source_tree(self.store, self.source, self.target.root(), self.bars)?;
        let key = reuse::build_key(&tree, project);
        self.rec.update(|r| r.tree = Some(key.to_hex()))?;
        if !self.opts.no_reuse {
            if let Some(slug) = reuse::lookup(self.store, &key)? {
                self.rec.line(
                    Phase::Build,
                    &format!("reusing build {slug} for tree {key}"),
                )?;
                let detail = format!("reused build {}", slug.short(12));
                let built = Built {
                    key,
                    reused: Some(slug),
                };
                return Ok((built, Some(detail)));
            }
        }
        let dir = build::build_dir(self.target.root());
        build::prepare(self.store, &tree, project, &dir, self.bars)?;
        build::run_hook(project, &key.to_hex(), &dir, self.rec)?;
        if let Some(r) = init::compress(self.store, project, &dir, self.bars)? {
            self.rec.line(
                Phase::Build,
                &format!(
                    "static compression at level {}: {} assets, {} compressed, {} from cache, {} up to date",
                    r.level, r.selected, r.compressed, r.from_cache, r.up_to_date
                ),
            )?;
        }
        let moved = init::move_to_init(&dir)?;
        if !moved.is_empty() {
            self.rec.line(
                Phase::Build,
                &format!("moved to {}/: {}", init::INIT_DIR, moved.join(", ")),
            )?;
        }
        Ok((
            Built { key, reused: None },
            Some(format!("built tree {key}")),
        ))
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
                let dir = build::build_dir(self.target.root());
                let opts = SnapshotOptions {
                    ref_name: Some(reuse::build_ref(&built.key)),
                    message: Some(format!("build of tree {}", built.key)),
                    labels: vec![
                        ("app".to_owned(), project.app.name.clone()),
                        ("deploy".to_owned(), self.rec.id()),
                    ],
                    ..SnapshotOptions::default()
                };
                let r = snapshot(self.store, &dir, &opts, self.bars)?;
                crate::checkout::retention::remove_tree(&dir)?;
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
            self.store,
            self.target.root(),
            slug,
            &self.opts.checkout,
            self.bars,
        )?;
        let mut detail = if c.already_present {
            format!("release {} already on disk", slug.short(12))
        } else {
            format!("materialized {}", c.release.display())
        };
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

/// Diagnostics name their file from the project root; make them name it from the working directory.
fn under(dir: &Path, diagnostics: Vec<Diagnostic>) -> Error {
    Error::Config(
        diagnostics
            .into_iter()
            .map(|mut d| {
                d.file = dir.join(&d.file).display().to_string();
                d
            })
            .collect(),
    )
}

/// Takes the exclusive deploy lock of the target (`deploys/.lock`), waiting for a running deploy.
fn lock_deploys(target_root: &Path) -> Result<File> {
    let dir = target_root.join(status::DEPLOYS);
    std::fs::create_dir_all(&dir).at(&dir)?;
    let path = dir.join(".lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .at(&path)?;
    // SAFETY: flock on a file descriptor we own; the lock is released when `file` is closed.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(Error::io(&path, std::io::Error::last_os_error()));
    }
    Ok(file)
}
