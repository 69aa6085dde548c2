//! Mounts inside a release: symlinks into the target's persistent `shared/` storage.
//!
//! A release is read-only; the application writes only under its mounts (`var`, `pub/media`, ...). Each
//! mount path of a release is a symlink to its storage under `TARGET/shared/`, so every release sees the
//! same files there and a switch or rollback never loses uploads or logs. The storage directory is created
//! the first time a release needs it and never deleted by slugstore.
//!
//! Where each mount's storage lies under `shared/` is part of its [`MountSpec`], given by the caller's
//! [`ReleaseLayout`](super::ReleaseLayout). [`Mounts::resolve`] is the one mapping from a path the
//! application sees to the file slugstore writes: the init content, the static links, the `.bak` files
//! and the maintenance and failure flags all go through it, so they land exactly where the release's
//! links point.
//!
//! The link is relative (`../../shared/var` from `releases/<id>/var`), so it works the same in the
//! temporary directory of a checkout (`releases/.tmp-*`, same depth) and after the target is moved.
//!
//! The mounts come from the release being built, read by its layout from the slug's own config: a
//! release is mounted as its slug declares, whatever the previous release declared. Slug entries at or
//! under a mount path are not materialized: at deploy time the mount hides them (a snapshot normally
//! leaves them out anyway), and a hardlink must never land where the application writes.

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::checkout::target::{Target, SHARED};
use crate::error::{Error, IoResultExt, Result};
use crate::scan::normalize_rel;
use crate::slug::{display_bytes, EntryKind, Manifest};

/// One writable path of a release, as its layout declares it ([`super::ReleaseLayout`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountSpec {
    /// The path inside the release (`pub/media`; a leading or trailing `/` is ignored).
    pub path: String,
    /// Where its files live, relative to the target's `shared/` (`media`, `@tmp/cache`).
    pub storage: PathBuf,
}

impl MountSpec {
    /// A mount whose storage is named after its own path, as `var` is stored in `shared/var`.
    pub fn local(path: &str) -> MountSpec {
        MountSpec {
            path: path.to_owned(),
            storage: PathBuf::from(path.trim_matches('/')),
        }
    }

    /// The storage, refused when it is empty, absolute or climbs out of `shared/` with `..`.
    fn checked_storage(&self) -> Result<PathBuf> {
        let raw = self.storage.to_string_lossy();
        let sub = match raw.starts_with('/') {
            true => None,
            false => normalize_rel(&raw).ok().filter(|s| !s.is_empty()),
        };
        sub.map(PathBuf::from).ok_or_else(|| Error::Mount {
            path: self.path.clone(),
            why: format!(
                "storage `{raw}` must be a relative path inside the target's shared/ directory"
            ),
        })
    }
}

/// The mounts of one release: normalized paths (`pub/media`, no leading or trailing `/`) and where each
/// one's storage lies under `shared/`.
#[derive(Debug, Clone, Default)]
pub struct Mounts {
    paths: Vec<Vec<u8>>,
    storage: Vec<PathBuf>,
}

impl Mounts {
    /// Normalizes `declared` and checks it against `manifest`: mounts must not overlap, and no parent of a
    /// mount may be a file or symlink in the slug (the mount link would be created through it).
    pub fn new(declared: &[MountSpec], manifest: &Manifest) -> Result<Mounts> {
        let mounts = Mounts::declared(declared)?;
        for a in &mounts.paths {
            for (pos, _) in a.iter().enumerate().filter(|(_, &c)| c == b'/') {
                let parent = &a[..pos];
                if let Some(e) = manifest.get(parent) {
                    if e.kind != EntryKind::Dir {
                        return Err(Error::Mount {
                            path: display_bytes(a).to_string(),
                            why: format!(
                                "`{}` is not a directory in the slug",
                                display_bytes(parent)
                            ),
                        });
                    }
                }
            }
        }
        Ok(mounts)
    }

    /// Normalizes `declared`: sorted, duplicates dropped, each with its storage; overlapping mounts
    /// are refused.
    pub fn declared(declared: &[MountSpec]) -> Result<Mounts> {
        let mut mounts: Vec<(Vec<u8>, PathBuf)> = Vec::new();
        for m in declared {
            let path = normalize_rel(&m.path)?;
            if path.is_empty() {
                return Err(Error::MountWithoutPath(m.path.clone()));
            }
            mounts.push((path.into_bytes(), m.checked_storage()?));
        }
        mounts.sort();
        mounts.dedup_by(|a, b| a.0 == b.0);
        let (paths, storage): (Vec<_>, Vec<_>) = mounts.into_iter().unzip();
        for (i, a) in paths.iter().enumerate() {
            if let Some(b) = paths[i + 1..].iter().find(|b| under(b, a)) {
                return Err(Error::MountsOverlap {
                    outer: display_bytes(a).to_string(),
                    inner: display_bytes(b).to_string(),
                });
            }
        }
        Ok(Mounts { paths, storage })
    }

    /// The storage of mount `path` (normalized, e.g. `app/etc`), relative to `TARGET/shared/`, when it
    /// is one of these mounts.
    pub fn storage(&self, path: &str) -> Option<&Path> {
        let i = self.paths.iter().position(|m| m == path.as_bytes())?;
        Some(&self.storage[i])
    }

    /// Where `rel` (a path inside a release, `/`-separated, e.g. `var/.maintenance.flag` or
    /// `app/etc/env.php`) really lives: the file under `TARGET/shared/` behind the mount that covers it,
    /// or `None` when no mount covers it (the path is part of the read-only release). This is the one
    /// mapping from what the application sees to where slugstore writes; everything that writes into a
    /// mount from outside the release (init content, static links, backups, flags) goes through it.
    pub fn resolve(&self, target: &Target, rel: &str) -> Option<PathBuf> {
        let rel = rel.trim_matches('/').as_bytes();
        self.paths
            .iter()
            .zip(&self.storage)
            .find(|(m, _)| rel == m.as_slice() || under(rel, m))
            .map(|(m, storage)| {
                let rest = &rel[m.len()..];
                let rest = std::str::from_utf8(rest.strip_prefix(b"/").unwrap_or(rest))
                    .expect("a &str split at a `/` boundary");
                let dir = target.shared_dir().join(storage);
                if rest.is_empty() {
                    dir
                } else {
                    dir.join(rest)
                }
            })
    }

    /// The mount paths, sorted.
    pub fn paths(&self) -> Vec<String> {
        self.paths
            .iter()
            .map(|p| display_bytes(p).into_owned())
            .collect()
    }

    /// The directories above the mount paths (`pub` for `pub/media`), which receive the mount links.
    pub fn parents(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for m in &self.paths {
            for (pos, _) in m.iter().enumerate().filter(|(_, &c)| c == b'/') {
                out.push(m[..pos].to_vec());
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// True when `path` (relative, `/`-separated) is a mount or lies under one.
    pub fn covers(&self, path: &[u8]) -> bool {
        self.paths
            .iter()
            .any(|m| path == m.as_slice() || under(path, m))
    }

    /// Creates each mount's storage under `TARGET/shared/` and its symlink inside `release`, creating
    /// missing parent directories of the link. Returns the directories it created in `release` (parents
    /// first), which the caller makes read-only with the rest.
    pub fn link_into(&self, target: &Target, release: &Path) -> Result<Vec<PathBuf>> {
        let mut created = Vec::new();
        for (m, sub) in self.paths.iter().zip(&self.storage) {
            let rel = Path::new(std::ffi::OsStr::from_bytes(m));
            let storage = target.shared_dir().join(sub);
            fs::create_dir_all(&storage).at(&storage)?;
            check_inside_shared(target, &storage)?;
            let link = release.join(rel);
            let mut missing = Vec::new();
            let mut p = link.parent();
            while let Some(dir) = p.filter(|d| *d != release && !d.exists()) {
                missing.push(dir.to_path_buf());
                p = dir.parent();
            }
            for dir in missing.into_iter().rev() {
                fs::create_dir(&dir).at(&dir)?;
                created.push(dir);
            }
            // From releases/<id>/<m>: up one level per component of `m` beyond the first, plus two for
            // `releases/<id>`, then into the storage under shared/.
            let depth = m.iter().filter(|&&c| c == b'/').count() + 2;
            let dest = PathBuf::from("../".repeat(depth)).join(SHARED).join(sub);
            std::os::unix::fs::symlink(&dest, &link).at(&link)?;
        }
        Ok(created)
    }
}

/// Refuses a storage directory that resolves outside `TARGET/shared/` (a symlink placed in `shared/`
/// by hand, say): the release would link the application's writes to somewhere slugstore does not own.
fn check_inside_shared(target: &Target, storage: &Path) -> Result<()> {
    let shared = target.shared_dir();
    let shared = shared.canonicalize().at(&shared)?;
    let real = storage.canonicalize().at(storage)?;
    if real.starts_with(&shared) {
        Ok(())
    } else {
        Err(Error::MountOutsideShared {
            storage: storage.to_path_buf(),
            resolved: real,
            shared,
        })
    }
}

/// True when `path` lies strictly under directory `dir`.
pub(super) fn under(path: &[u8], dir: &[u8]) -> bool {
    path.len() > dir.len() && path.starts_with(dir) && path[dir.len()] == b'/'
}
