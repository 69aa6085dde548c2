//! Promotion: deploying a slug that was built for one environment to another, without building.
//!
//! The slug deployed is the very one the source environment runs (same id, so the same bytes), taken
//! through the deploy phases with the build phase reduced to a note: validate reads the configuration
//! stored in the slug, then release, deploy hooks and switch run on the destination as for any deploy.
//!
//! A build is only the same build if the destination would have built it the same way. Each build's
//! slug records its build key and source (labels `build_key`, `source_tree`); the key is recomputed
//! from that source, the configuration in the slug and the destination's build-visible variables, and
//! a mismatch refuses the promotion (nothing on the destination changes) unless forced. A slug that
//! does not record a key (made by `slug snapshot` or imported) cannot be checked, and is refused too.

use serde::Serialize;

use crate::deploy::reuse::{build_key, TreeIdentity, BUILD_KEY_LABEL, SOURCE_LABEL};
use crate::deploy::source::slug_project;
use crate::deploy::{deploy, DeployOptions, DeployRecord, Destination, Observer, Source};
use crate::environment::{resolve, Registry};
use crate::error::{Error, Result};
use slugstore::id::SlugId;
use slugstore::progress::ProgressBars;
use slugstore::store::Store;

/// How to promote.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct PromoteOptions {
    /// Promote even when the destination would build the slug's source differently (other
    /// build-visible variables, or a slug without a recorded build key).
    #[cfg_attr(feature = "clap", arg(long))]
    #[serde(default)]
    pub force: bool,
    /// The deploy on the destination (release, switch).
    #[cfg_attr(feature = "clap", command(flatten))]
    #[serde(flatten)]
    pub deploy: DeployOptions,
}

/// What is being promoted, resolved.
#[derive(Debug, Clone, Serialize)]
pub struct Promotion {
    /// The slug.
    pub slug: SlugId,
    /// Where it comes from: `environment staging` or the slug name given.
    pub from: String,
    /// The destination environment.
    pub to: String,
    /// The build key the slug records, if any.
    pub build_key: Option<String>,
    /// The build key the destination would give the same source.
    pub expected_key: Option<String>,
}

/// Resolves `what` (an environment name, whose live release is promoted, or a slug name) and checks
/// that environment `to` would build it the same way; see the module doc. Changes nothing.
pub fn plan(
    store: &Store,
    registry: &Registry,
    what: &str,
    to: &str,
    force: bool,
) -> Result<Promotion> {
    let dest = registry.get(to)?;
    if what == dest.name {
        return Err(Error::PromoteToSelf(to.to_owned()));
    }
    let (slug, from) = resolve(store, registry, what)?;
    let record = store
        .find_slug(&slug)?
        .ok_or_else(|| Error::PromotedSlugGone {
            slug,
            from: from.clone(),
        })?;
    let recorded = record.labels.get(BUILD_KEY_LABEL).cloned();
    let source = record
        .labels
        .get(SOURCE_LABEL)
        .and_then(|l| TreeIdentity::from_label(l));
    let expected = match &source {
        Some(tree) => {
            let project = slug_project(store, &slug)?;
            Some(build_key(tree, &project, &dest.variables).to_hex())
        }
        None => None,
    };
    let promotion = Promotion {
        slug,
        from,
        to: to.to_owned(),
        build_key: recorded,
        expected_key: expected,
    };
    if !force {
        check_key(&promotion)?;
    }
    Ok(promotion)
}

impl Promotion {
    /// `slug 3f2a… (live on environment staging)`, or `slug 3f2a…` when named directly.
    fn subject(&self) -> String {
        let short = self.slug.short(12);
        if self.from.starts_with("environment ") {
            format!("slug {short} (live on {})", self.from)
        } else {
            format!("slug {short}")
        }
    }
}

/// Refuses a promotion whose recorded and expected build keys differ or are unknown.
fn check_key(p: &Promotion) -> Result<()> {
    match (&p.build_key, &p.expected_key) {
        (Some(a), Some(b)) if a == b => Ok(()),
        (Some(a), Some(b)) => Err(Error::BuildKeyMismatch {
            subject: p.subject(),
            environment: p.to.clone(),
            built: a.clone(),
            expected: b.clone(),
        }),
        _ => Err(Error::NoBuildKey {
            subject: p.subject(),
            environment: p.to.clone(),
        }),
    }
}

/// Promotes `what` (an environment or a slug name) to environment `to`: [`plan`], then a deploy of the
/// slug to `to`'s target in which nothing is built. Returns the promotion and the deploy's record.
pub fn promote(
    store: &Store,
    what: &str,
    to: &str,
    opts: &PromoteOptions,
    observer: Observer<'_>,
    bars: &dyn ProgressBars,
) -> Result<(Promotion, DeployRecord)> {
    let registry = Registry::load(store.root())?;
    let p = plan(store, &registry, what, to, opts.force)?;
    let dest = Destination::env(registry.get(to)?.clone());
    let source = Source::Slug {
        slug: p.slug,
        from: p.from.clone(),
    };
    let record = deploy(store, &source, &dest, &opts.deploy, observer, bars)?;
    Ok((p, record))
}
