//! Application configuration (`.magento.app.yaml`).

use std::path::Path;

use crate::error::Result;

/// Mounts used when a tree has no `.magento.app.yaml`.
pub const DEFAULT_MOUNTS: &[&str] = &["var", "app/etc", "pub/media", "pub/static"];

/// The mount paths of `<tree>/.magento.app.yaml`, or [`DEFAULT_MOUNTS`].
pub fn mount_paths(_tree: &Path) -> Result<Vec<String>> {
    Ok(DEFAULT_MOUNTS.iter().map(|s| s.to_string()).collect())
}
