//! Scanning a build tree: what to leave out, walking it, and hashing what changed.
//!
//! The mounts of the application (writable paths such as `var` or `pub/media`) are not part of a slug:
//! the platform replaces them with persistent storage at deploy time. They are read from the tree's own
//! `.magento.app.yaml` when it has one, so the slug always excludes exactly what the deploy will mount.

pub mod walk;

use std::collections::HashSet;
use std::path::Path;

use crate::error::{Error, Result};

pub use walk::{walk, FileMeta, Found, WalkResult, Walked};

/// Relative paths left out of a scan, with everything beneath them.
#[derive(Debug, Clone, Default)]
pub struct Excludes {
    paths: HashSet<Vec<u8>>,
}

impl Excludes {
    /// Adds a relative path; a leading `/`, trailing `/` and `./` are ignored. Refuses `..` components.
    pub fn add(&mut self, path: &str) -> Result<()> {
        let norm = normalize_rel(path)?;
        if !norm.is_empty() {
            self.paths.insert(norm.into_bytes());
        }
        Ok(())
    }

    /// Adds a relative path given as raw bytes (already normalized, e.g. from `Path::strip_prefix`).
    pub fn add_bytes(&mut self, rel: &[u8]) {
        if !rel.is_empty() {
            self.paths.insert(rel.to_vec());
        }
    }

    /// True when `rel` is excluded (exactly; descendants are never visited).
    pub fn contains(&self, rel: &[u8]) -> bool {
        self.paths.contains(rel)
    }

    /// The excluded paths, sorted, for reports.
    pub fn list(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .paths
            .iter()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect();
        v.sort();
        v
    }
}

/// Normalizes a user-given relative path: strips leading `/`, `./` and trailing `/`, collapses `//`.
pub fn normalize_rel(path: &str) -> Result<String> {
    let mut parts = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                return Err(Error::Invalid(format!(
                    "path `{path}` must not contain `..`"
                )))
            }
            c => parts.push(c),
        }
    }
    Ok(parts.join("/"))
}

/// The paths a scan of `tree` leaves out: the mounts its config declares (or the defaults), plus `extra`.
pub fn excludes_for(tree: &Path, extra: &[String]) -> Result<Excludes> {
    let mut ex = Excludes::default();
    for m in crate::config::mount_paths(tree)? {
        ex.add(&m)?;
    }
    for e in extra {
        ex.add(e)?;
    }
    Ok(ex)
}
