//! Phase 1 of a deploy: reading and validating the project's configuration.
//!
//! A Magento-Cloud project is configured by three YAML files: `.magento.app.yaml` (the application),
//! `.magento/services.yaml` and `.magento/routes.yaml`. A mistake in them must refuse the deploy before
//! anything is built, and the refusal must say exactly where and what: every [`Diagnostic`] names the
//! file, line, column and key path, and all of them are reported at once.
//!
//! The parts:
//! - `read` reads a file from a project directory, only when it is a regular file inside it and
//!   small;
//! - `yaml` parses a file into a tree that keeps positions, under tight budgets (alias bombs are
//!   refused), with duplicate keys refused; `recover` makes syntax errors point at the real defect;
//! - `field` reads typed values out of that tree, recording a diagnostic for each mismatch;
//! - `app`, `mounts`, `crons`, `services`, `routes`, `magento_env` hold the rules of each file, `project` the
//!   rules across files; `variables` gives `PLATFORM_VARIABLES`, `warnings` what a valid configuration
//!   makes impossible;
//! - `topology` compares two configurations, `build_key` gives the bytes a build is keyed on.

mod app;
mod build_key;
mod compression;
mod crons;
mod field;
mod magento_env;
mod mounts;
mod project;
mod read;
mod recover;
mod relationships;
mod routes;
mod services;
mod topology;
mod variables;
mod warnings;
mod yaml;

use std::path::Path;

pub use crate::diagnostic::{Diagnostic, KeyPath, Pos};
pub use app::{
    App, BuildFlavor, Hooks, Relationship, Runtime, MIN_DISK_MB, SCD_COMPRESSION_LEVEL,
    SCD_COMPRESSION_TIMEOUT,
};
pub use build_key::build_key_material;
pub use crons::{Cron, DEFAULT_SHUTDOWN_TIMEOUT, MAX_CRON_TIMEOUT};
pub use magento_env::{MagentoEnv, Stage, ENV_FILE};
pub use mounts::{Mount, MountSource};
pub use project::{
    load_project, load_project_from, parse_project, Project, Sources, APP_FILE, ROUTES_FILE,
    SERVICES_FILE,
};
pub use read::{too_large, MAX_FILE_BYTES};
pub use routes::{Route, RouteAction};
pub use services::{Service, ServiceType};
pub use topology::{topology_change, TopologyChange};

use crate::error::{Error, Result};

/// The mounts of a Magento application when `.magento.app.yaml` does not say: the paths ece-tools
/// expects to be writable.
pub const DEFAULT_MOUNTS: &[&str] = &["var", "app/etc", "pub/media", "pub/static"];

/// The mount paths of `<tree>/.magento.app.yaml`, normalized (no leading `/`) and in file order, or
/// [`DEFAULT_MOUNTS`] when the file is absent.
///
/// Only the application file is read. When it is present but invalid, the error lists its diagnostics
/// with the file's path and each line.
pub fn mount_paths(tree: &Path) -> Result<Vec<String>> {
    Ok(mounts(tree)?.into_iter().map(|m| m.path).collect())
}

/// The mounts of `<tree>/.magento.app.yaml` in file order (path, source and storage sub-path), or
/// [`DEFAULT_MOUNTS`] as local mounts stored under their own path when the file is absent. Errors as
/// [`mount_paths`].
pub fn mounts(tree: &Path) -> Result<Vec<Mount>> {
    let name = tree.join(APP_FILE).display().to_string();
    let text = match project::read_config(tree, APP_FILE, &name) {
        Ok(Some(text)) => text,
        Ok(None) => return Ok(DEFAULT_MOUNTS.iter().map(|m| Mount::local(m)).collect()),
        Err(diagnostic) => return Err(Error::Config(vec![diagnostic])),
    };
    let mut diagnostics = Vec::new();
    let app = project::parse_file(&name, &text, &mut diagnostics, app::parse);
    match app {
        Some(app) if diagnostics.is_empty() => Ok(app.mounts),
        _ => Err(Error::Config(diagnostics)),
    }
}
