//! What a release needs beyond its files: the writable mounts, as the application's own config says.
//!
//! The core materializes any slug; which of its paths are writable mounts (links into the target's
//! `shared/` storage) is the application's business, declared in a config file that travels inside the
//! slug. A [`ReleaseLayout`] is how a caller tells the checkout about it: which root file decides the
//! mounts (materialized first, so the layout can read it from the release being built) and how to read
//! the mounts from a release directory. The core ships [`NoMounts`] (a fully read-only release); the
//! Magento one lives in the orchestrator crate, which reads `.magento.app.yaml`.

use std::path::Path;

use crate::checkout::mounts::MountSpec;
/// What a layout's reading of a release's config fails with (the caller's own error type).
pub type LayoutError = Box<dyn std::error::Error + Send + Sync>;

/// How the mounts of a release are found.
pub trait ReleaseLayout: Sync {
    /// The file at the slug's root that declares the mounts, if any: materialized before anything else,
    /// so [`ReleaseLayout::mounts`] can read it from the release being built.
    fn config_file(&self) -> Option<&str>;

    /// The mounts of the release (or tree) at `dir`, whose config file is in place. An error fails the
    /// checkout; when it comes from an earlier release, that release is not linked from.
    fn mounts(&self, dir: &Path) -> Result<Vec<MountSpec>, LayoutError>;
}

/// A layout without mounts: every path of the slug is part of the read-only release.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoMounts;

impl ReleaseLayout for NoMounts {
    fn config_file(&self) -> Option<&str> {
        None
    }

    fn mounts(&self, _dir: &Path) -> Result<Vec<MountSpec>, LayoutError> {
        Ok(Vec::new())
    }
}

/// A layout with a fixed list of mounts, whatever the release declares.
#[derive(Debug, Clone, Default)]
pub struct FixedMounts(pub Vec<MountSpec>);

impl ReleaseLayout for FixedMounts {
    fn config_file(&self) -> Option<&str> {
        None
    }

    fn mounts(&self, _dir: &Path) -> Result<Vec<MountSpec>, LayoutError> {
        Ok(self.0.clone())
    }
}
