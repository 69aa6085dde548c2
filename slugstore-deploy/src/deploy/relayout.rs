//! Repairs targets deployed while the deploy wrote mount content to the wrong place.
//!
//! A release's mount links have always pointed at the mount's storage, named by its `source_path`
//! (`"app/etc": "shared:files/etc"` -> `shared/etc`). Earlier versions of the deploy wrote the init
//! content, the static links and the `.bak` files under the mount's *path* instead (`shared/app/etc`,
//! `shared/pub/static`, `shared/pub/media`), where the application never looked. This module moves what
//! such a target holds there into the storage, before the release phase wires the mounts:
//!
//! - a file or directory missing in the storage is moved in (a rename: same filesystem, nothing copied);
//! - a static link (`.../current/init/pub/static/<entry>`) is dropped: it was computed for the old
//!   location, and the release phase makes the right one;
//! - a path the storage already has is never overwritten: what the application wrote wins. The
//!   leftovers are kept under `shared/.old-layout/<mount path>` and named in the deploy log.
//!
//! A directory under `shared/` that is (or holds, or lies inside) the storage of a mount of the release
//! is in use and never touched. Empty directories left behind are removed.

use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::deploy::init::INIT_DIR;
use crate::error::{Error, IoResultExt, Result};
use slugstore::checkout::target::{Target, CURRENT};

/// Where leftovers of the old layout are kept, under `shared/`.
pub const OLD_LAYOUT_DIR: &str = ".old-layout";

/// What a repair did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RelayoutReport {
    /// Files and directories moved into their mount's storage.
    pub moved: u64,
    /// Static links of the old location dropped.
    pub dropped_links: u64,
    /// Directories kept aside because the storage already had some of their paths.
    pub kept_aside: Vec<PathBuf>,
}

impl RelayoutReport {
    /// True when the target needed no repair.
    pub fn is_empty(&self) -> bool {
        self.moved == 0 && self.dropped_links == 0 && self.kept_aside.is_empty()
    }
}

/// Moves content written under `shared/<mount path>` into the storage of that mount, for each mount
/// of the release at `release` whose storage is named otherwise.
pub fn repair(target: &Target, release: &Path) -> Result<RelayoutReport> {
    let mounts = crate::layout::release_mounts(release)?;
    let shared = target.shared_dir();
    let in_use: Vec<PathBuf> = mounts
        .paths()
        .iter()
        .filter_map(|p| mounts.resolve(target, p))
        .collect();
    let mut report = RelayoutReport::default();
    for path in mounts.paths() {
        let Some(storage) = mounts.resolve(target, &path) else {
            continue;
        };
        let stale = shared.join(&path);
        let is_dir = fs::symlink_metadata(&stale).is_ok_and(|m| m.is_dir());
        let busy = in_use
            .iter()
            .any(|s| s.starts_with(&stale) || stale.starts_with(s));
        if stale == storage || !is_dir || busy {
            continue;
        }
        fs::create_dir_all(&storage).at(&storage)?;
        let complete = merge(&stale, &storage, &mut report)?;
        if complete {
            fs::remove_dir(&stale).at(&stale)?;
        } else {
            let aside = shared.join(OLD_LAYOUT_DIR).join(&path);
            let parent = aside.parent().expect("a path under shared/");
            fs::create_dir_all(parent).at(parent)?;
            if fs::symlink_metadata(&aside).is_ok() {
                return Err(Error::RelayoutBlocked {
                    stale: stale.to_path_buf(),
                    aside: aside.to_path_buf(),
                });
            }
            fs::rename(&stale, &aside).at(&stale)?;
            report.kept_aside.push(aside);
        }
        remove_empty_parents(&stale, &shared, &in_use);
    }
    Ok(report)
}

/// Moves every entry of `from` missing in `to` into it (recursively for directories both have), drops
/// the old static links. Returns true when `from` is left empty.
fn merge(from: &Path, to: &Path, report: &mut RelayoutReport) -> Result<bool> {
    let mut complete = true;
    for entry in fs::read_dir(from).at(from)? {
        let entry = entry.at(from)?;
        let src = entry.path();
        let dest = to.join(entry.file_name());
        let kind = entry.file_type().at(&src)?;
        if kind.is_symlink() && is_static_link(&src) {
            fs::remove_file(&src).at(&src)?;
            report.dropped_links += 1;
            continue;
        }
        match fs::symlink_metadata(&dest) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                fs::rename(&src, &dest).at(&src)?;
                report.moved += 1;
            }
            Err(e) => return Err(Error::io(&dest, e)),
            Ok(m) if m.is_dir() && kind.is_dir() => {
                if merge(&src, &dest, report)? {
                    fs::remove_dir(&src).at(&src)?;
                } else {
                    complete = false;
                }
            }
            Ok(_) => complete = false,
        }
    }
    Ok(complete)
}

/// A link the old layout made in the static mount: `../../../current/init/pub/static/<entry>`.
fn is_static_link(link: &Path) -> bool {
    fs::read_link(link).is_ok_and(|dest| {
        let text = dest.to_string_lossy();
        text.contains(&format!("{CURRENT}/{INIT_DIR}/"))
    })
}

/// Removes the empty directories between `dir` (exclusive, already gone or moved) and `shared`,
/// leaving any mount storage alone. Errors are ignored: a directory that is not empty stays.
fn remove_empty_parents(dir: &Path, shared: &Path, in_use: &[PathBuf]) {
    let mut p = dir.parent();
    while let Some(d) = p.filter(|d| *d != shared && d.starts_with(shared)) {
        if in_use.iter().any(|s| s == d) || fs::remove_dir(d).is_err() {
            return;
        }
        p = d.parent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    /// A release directory whose configuration declares the usual Magento mounts with storage names
    /// that differ from their paths.
    fn release(root: &Path) -> PathBuf {
        let release = root.join("release");
        write(
            &release.join(".magento.app.yaml"),
            "name: app\ntype: php:8.3\ndisk: 1024\nmounts:\n  var: \"shared:files/var\"\n  \
             \"app/etc\": \"shared:files/etc\"\n  \"pub/static\": \"shared:files/static\"\n  \
             \"pub/media\": {source: local, source_path: media}\n",
        );
        release
    }

    #[test]
    fn moves_old_content_keeps_what_the_application_wrote() {
        let tmp = tempfile::tempdir().unwrap();
        let target = Target::open(&tmp.path().join("target")).unwrap();
        let release = release(tmp.path());
        let shared = target.shared_dir();
        // The old layout: init copies, backups and static links under the mount paths.
        write(&shared.join("app/etc/env.php"), "built");
        write(&shared.join("app/etc/env.php.bak"), "backup");
        write(&shared.join("app/etc/config.php"), "built config");
        write(&shared.join("pub/media/catalog/a.jpg"), "placeholder");
        fs::create_dir_all(shared.join("pub/static")).unwrap();
        std::os::unix::fs::symlink(
            "../../../current/init/pub/static/frontend",
            shared.join("pub/static/frontend"),
        )
        .unwrap();
        // What the application wrote through its links, in the right storage.
        write(&shared.join("etc/env.php"), "live");
        write(&shared.join("media/catalog/b.jpg"), "upload");

        let report = repair(&target, &release).unwrap();

        assert_eq!(
            fs::read_to_string(shared.join("etc/env.php")).unwrap(),
            "live"
        );
        assert_eq!(
            fs::read_to_string(shared.join("etc/env.php.bak")).unwrap(),
            "backup"
        );
        assert_eq!(
            fs::read_to_string(shared.join("etc/config.php")).unwrap(),
            "built config"
        );
        assert_eq!(
            fs::read_to_string(shared.join("media/catalog/a.jpg")).unwrap(),
            "placeholder"
        );
        assert_eq!(
            fs::read_to_string(shared.join("media/catalog/b.jpg")).unwrap(),
            "upload"
        );
        assert_eq!(report.dropped_links, 1);
        // The conflicting env.php was kept aside, nothing else of the old layout remains.
        let aside = shared.join(OLD_LAYOUT_DIR).join("app/etc/env.php");
        assert_eq!(fs::read_to_string(aside).unwrap(), "built");
        assert_eq!(report.kept_aside.len(), 1);
        assert!(!shared.join("pub").exists());
        assert!(!shared.join("app").exists());
        // A second run finds nothing to do.
        assert!(repair(&target, &release).unwrap().is_empty());
    }

    #[test]
    fn storage_named_like_the_path_is_left_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let target = Target::open(&tmp.path().join("target")).unwrap();
        let release = release(tmp.path());
        write(&target.shared_dir().join("var/log/system.log"), "log");
        assert!(repair(&target, &release).unwrap().is_empty());
        assert!(target.shared_dir().join("var/log/system.log").is_file());
    }
}
