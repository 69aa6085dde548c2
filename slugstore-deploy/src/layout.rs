//! What the project's configuration tells the core about a tree and its releases: the mounts.
//!
//! The core leaves out of a snapshot what it is told to, and links into a release's `shared/` storage
//! what its [`ReleaseLayout`] reads. For a Magento Cloud project both are the mounts of
//! `.magento.app.yaml` (or the platform's defaults without one): [`snapshot_excludes`] for the snapshot,
//! [`MagentoLayout`] for the checkout, which reads each release's own file, so a release is mounted as
//! its own slug declares whatever the previous one did.
//!
//! Storage is named as the platform names it, by the mount's `source_path`: `local` mounts live in
//! `shared/<source_path>`, so two mounts with one source path share their files and
//! `"app/etc": "shared:files/etc"` is stored in `shared/etc`. This single host has no network storage and
//! nothing that wipes temporary storage, so `service` mounts live in `shared/@<service>/<source_path>`
//! and `tmp` mounts in `shared/@tmp/<source_path>`, both kept like local ones.

use std::path::{Path, PathBuf};

use slugstore::checkout::layout::LayoutError;
use slugstore::checkout::{MountSpec, Mounts, ReleaseLayout};
use slugstore::slug::normalize_rel;

use crate::config::{self, Mount, MountSource, APP_FILE};
use crate::error::{Error, Result};

/// The layout of a Magento Cloud release: the mounts of its own `.magento.app.yaml`.
#[derive(Debug, Clone, Copy, Default)]
pub struct MagentoLayout;

impl ReleaseLayout for MagentoLayout {
    fn config_file(&self) -> Option<&str> {
        Some(APP_FILE)
    }

    fn mounts(&self, dir: &Path) -> std::result::Result<Vec<MountSpec>, LayoutError> {
        Ok(mount_specs(dir)?)
    }
}

/// The paths a snapshot of `tree` leaves out: the mounts its `.magento.app.yaml` declares (or the
/// defaults), plus `extra`.
pub fn snapshot_excludes(tree: &Path, extra: &[String]) -> Result<Vec<String>> {
    let mut out = config::mount_paths(tree)?;
    out.extend(extra.iter().cloned());
    Ok(out)
}

/// The mounts the configuration of the tree or release at `dir` declares (the defaults without
/// `.magento.app.yaml`), normalized, without looking at any slug.
pub fn release_mounts(dir: &Path) -> Result<Mounts> {
    Ok(Mounts::declared(&mount_specs(dir)?)?)
}

/// The mounts of the tree or release at `dir`, each with its storage.
fn mount_specs(dir: &Path) -> Result<Vec<MountSpec>> {
    config::mounts(dir)?
        .iter()
        .map(|m| {
            Ok(MountSpec {
                path: m.path.clone(),
                storage: storage_of(m)?,
            })
        })
        .collect()
}

/// The storage of one declared mount, relative to `TARGET/shared/`: `local` mounts in
/// `<source_path>`, `service` mounts in `@<service>/<source_path>`, `tmp` mounts in `@tmp/<source_path>`.
/// A source path that is absolute or climbs out with `..` is refused (validation refuses it first, with
/// its line).
pub fn storage_of(m: &Mount) -> Result<PathBuf> {
    if m.source_path.starts_with('/') {
        return Err(Error::Mount {
            path: m.path.clone(),
            why: format!(
                "source_path `{}` is absolute; it must be a path inside the mount storage",
                m.source_path
            ),
        });
    }
    let sub = normalize_rel(&m.source_path).map_err(|_| Error::Mount {
        path: m.path.clone(),
        why: format!(
            "source_path `{}` leaves the mount storage (`..`)",
            m.source_path
        ),
    })?;
    if sub.is_empty() {
        return Err(Error::MountWithoutSource {
            path: m.path.clone(),
            mount: m.to_string(),
        });
    }
    Ok(match (m.source, &m.service) {
        (MountSource::Local, _) => PathBuf::from(sub),
        (MountSource::Service, Some(service)) => {
            PathBuf::from(format!("@{}", normalize_rel(service)?)).join(sub)
        }
        (MountSource::Service, None) => PathBuf::from("@service").join(sub),
        (MountSource::Tmp, _) => PathBuf::from("@tmp").join(sub),
    })
}
