//! Scanning a build tree: what to leave out, walking it, and hashing what changed.
//!
//! What to leave out is the caller's to say ([`Excludes`]): a deploy leaves out the application's writable
//! mounts (`var`, `pub/media`), which the platform replaces with persistent storage, but which paths
//! those are is the application's config, read by the orchestrator above this crate.

pub mod listings;
pub mod racy;
pub mod walk;

use crate::error::Result;

pub use crate::slug::normalize_rel;
pub use listings::{ListingChanges, Listings};
pub use racy::Racy;
pub use walk::{walk, walk_reading, FileMeta, Found, WalkResult, WalkSpec, Walked};

/// Relative paths left out of a scan, with everything beneath them.
///
/// A handful of paths, asked about once per walked entry: a sorted vector searched by bisection costs a
/// few byte comparisons where a hash set hashes the whole path.
#[derive(Debug, Clone, Default)]
pub struct Excludes {
    paths: Vec<Vec<u8>>,
    /// The directories holding an excluded path (`b""`: the root), sorted: a walk asks
    /// [`Excludes::within`] once per directory, and [`Excludes::contains`] for its entries only
    /// when it holds one.
    parents: Vec<Vec<u8>>,
}

impl Excludes {
    /// Adds a relative path; a leading `/`, trailing `/` and `./` are ignored. Refuses `..` components.
    pub fn add(&mut self, path: &str) -> Result<()> {
        self.add_bytes(normalize_rel(path)?.as_bytes());
        Ok(())
    }

    /// Adds a relative path given as raw bytes (already normalized, e.g. from `Path::strip_prefix`).
    pub fn add_bytes(&mut self, rel: &[u8]) {
        if let (false, Err(at)) = (
            rel.is_empty(),
            self.paths.binary_search_by(|p| p[..].cmp(rel)),
        ) {
            self.paths.insert(at, rel.to_vec());
            let parent = rel
                .iter()
                .rposition(|&c| c == b'/')
                .map_or(&rel[..0], |i| &rel[..i]);
            if let Err(at) = self.parents.binary_search_by(|p| p[..].cmp(parent)) {
                self.parents.insert(at, parent.to_vec());
            }
        }
    }

    /// True when directory `rel` (`b""`: the root) holds an excluded path.
    pub fn within(&self, rel: &[u8]) -> bool {
        self.parents.binary_search_by(|p| p[..].cmp(rel)).is_ok()
    }

    /// The excludes of `paths` (see [`Excludes::add`]).
    pub fn from_paths(paths: &[String]) -> Result<Excludes> {
        let mut ex = Excludes::default();
        for p in paths {
            ex.add(p)?;
        }
        Ok(ex)
    }

    /// True when `rel` is excluded (exactly; descendants are never visited).
    pub fn contains(&self, rel: &[u8]) -> bool {
        self.paths.binary_search_by(|p| p[..].cmp(rel)).is_ok()
    }

    /// True when `rel` or one of its ancestors is excluded.
    pub fn covers(&self, rel: &[u8]) -> bool {
        self.contains(rel)
            || rel
                .iter()
                .enumerate()
                .any(|(i, &b)| b == b'/' && self.contains(&rel[..i]))
    }

    /// The excluded paths, sorted, for reports.
    pub fn list(&self) -> Vec<String> {
        self.paths
            .iter()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excludes_know_the_directories_that_hold_them() {
        let ex =
            Excludes::from_paths(&["var".into(), "pub/media/".into(), "./app/etc".into()]).unwrap();
        assert_eq!(ex.list(), vec!["app/etc", "pub/media", "var"]);
        for (dir, holds) in [
            ("", true),
            ("pub", true),
            ("app", true),
            ("app/etc", false),
            ("vendor", false),
        ] {
            assert_eq!(ex.within(dir.as_bytes()), holds, "{dir:?}");
        }
        assert!(ex.contains(b"pub/media") && !ex.contains(b"pub"));
        assert!(ex.covers(b"pub/media/x/y") && !ex.covers(b"pub/mediax"));
        assert!(!Excludes::default().within(b""));
    }
}
