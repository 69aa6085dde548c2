//! Phase 4: materialize the release and give its mounts their build-time content.
//!
//! The release is checked out next to the live one (see [`slugstore::checkout`]); its mounts are symlinks
//! into their storage under `TARGET/shared/`, named by each mount's `source_path`
//! ([`Mounts::resolve`](slugstore::checkout::Mounts::resolve): `"app/etc": "shared:files/etc"` is `shared/etc`). Everything below writes
//! through that one mapping, so it lands where the release's links point. Then, as ece-tools does at
//! deploy:
//!
//! - `init/app/etc` and `init/pub/media` are copied into their mounts, without replacing any file that
//!   is already there (the live configuration and uploaded media win over what the build produced).
//!   Files are copied, never hardlinked: the mounts are writable, and a write through a hardlink would
//!   change the read-only release (and every release sharing the inode).
//! - each top-level entry of `init/pub/static` gets a symlink in the `pub/static` mount. The link goes
//!   through `current` (`../../current/init/pub/static/<entry>` from `shared/static/`), so the
//!   static files served are always the live release's: they change with the switch, not before, stay
//!   right when a deploy hook fails, and follow a rollback without any copy. While the deploy hook
//!   runs they lead straight to the new release ([`StaticVia::Release`]), so the hook reads the
//!   `pub/static` it deploys, as on the platform; they go back through `current` when it ends.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::deploy::init::{INIT_DIR, STATIC_DIR};
use crate::error::{Error, IoResultExt, Result};
use slugstore::checkout::mounts::Mounts;
use slugstore::checkout::target::{Target, CURRENT};
use slugstore::fsutil;

/// The init paths copied into their mounts.
pub const COPIED_INIT_PATHS: &[&str] = &["app/etc", "pub/media"];

/// What wiring the mounts did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MountsReport {
    /// Files copied from `init/` into mounts.
    pub copied: u64,
    /// Files of `init/` not copied because the mount already had the path.
    pub kept: u64,
    /// Symlinks made (or updated) in the static mount.
    pub static_links: u64,
    /// Entries of the static mount left alone because they are not symlinks.
    pub static_kept: Vec<String>,
}

/// Copies `init/` content of the release at `release` into the target's mounts and links its static
/// entries, for the mounts the release's configuration declares.
pub fn wire_mounts(target: &Target, release: &Path) -> Result<MountsReport> {
    let mounts = crate::layout::release_mounts(release)?;
    let mut report = MountsReport::default();
    for rel in COPIED_INIT_PATHS {
        let from = release.join(INIT_DIR).join(rel);
        if let Some(to) = mounts.resolve(target, rel).filter(|_| from.is_dir()) {
            copy_missing(&from, &to, &mut report)?;
        }
    }
    link_static_of(target, &mounts, release, StaticVia::Current, &mut report)?;
    Ok(report)
}

/// Where the static mount's links lead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaticVia {
    /// Through `current`: the live release's assets, whatever it is (the steady state).
    Current,
    /// Straight to the release being deployed, while its deploy hook runs: the hook, like ece-tools'
    /// deploy on the platform, reads the new release's `pub/static` (the site is in maintenance).
    Release,
}

/// Points the static mount's links at the release at `release` (its `init/pub/static` entries),
/// through `current` or straight at it. Nothing when the release's configuration mounts no
/// `pub/static` or it has no `init/pub/static`.
pub fn point_static(target: &Target, release: &Path, via: StaticVia) -> Result<MountsReport> {
    let mounts = crate::layout::release_mounts(release)?;
    let mut report = MountsReport::default();
    link_static_of(target, &mounts, release, via, &mut report)?;
    Ok(report)
}

fn link_static_of(
    target: &Target,
    mounts: &Mounts,
    release: &Path,
    via: StaticVia,
    report: &mut MountsReport,
) -> Result<()> {
    let init_static = release.join(INIT_DIR).join(STATIC_DIR);
    let Some(mount) = mounts
        .resolve(target, STATIC_DIR)
        .filter(|_| init_static.is_dir())
    else {
        return Ok(());
    };
    let through = match via {
        StaticVia::Current => PathBuf::from(CURRENT),
        StaticVia::Release => release
            .strip_prefix(target.root())
            .expect("releases lie under the target")
            .to_path_buf(),
    };
    link_static(target, &mount, &through, &init_static, report)
}

/// Copies every file and symlink of `from` missing in `to` (created as needed), recursively.
fn copy_missing(from: &Path, to: &Path, report: &mut MountsReport) -> Result<()> {
    fs::create_dir_all(to).at(to)?;
    for entry in fs::read_dir(from).at(from)? {
        let entry = entry.at(from)?;
        let src = entry.path();
        let dest = to.join(entry.file_name());
        let kind = entry.file_type().at(&src)?;
        let exists = fs::symlink_metadata(&dest).is_ok();
        if kind.is_dir() {
            if exists && !dest.is_dir() {
                report.kept += 1;
            } else {
                copy_missing(&src, &dest, report)?;
            }
        } else if exists {
            report.kept += 1;
        } else if kind.is_symlink() {
            symlink(fs::read_link(&src).at(&src)?, &dest).at(&dest)?;
            report.copied += 1;
        } else {
            fsutil::copy_atomic(&src, &dest)?;
            report.copied += 1;
        }
    }
    Ok(())
}

/// Links each top-level entry of the release's `init/pub/static` into the static mount's storage
/// `mount`, through `through` (a release directory relative to the target: `current`, or
/// `releases/<id>`). Existing symlinks are replaced atomically; anything else there is left alone.
fn link_static(
    target: &Target,
    mount: &Path,
    through: &Path,
    init_static: &Path,
    report: &mut MountsReport,
) -> Result<()> {
    fs::create_dir_all(mount).at(mount)?;
    // From the storage (`shared/static`) up to the target root: one level per component.
    let depth = mount
        .strip_prefix(target.root())
        .expect("mount storage lies under the target")
        .components()
        .count();
    let up = "../".repeat(depth);
    for entry in fs::read_dir(init_static).at(init_static)? {
        let name = entry.at(init_static)?.file_name();
        let link = mount.join(&name);
        let dest = PathBuf::from(&up)
            .join(through)
            .join(INIT_DIR)
            .join(STATIC_DIR)
            .join(&name);
        match fs::symlink_metadata(&link) {
            Ok(m) if !m.file_type().is_symlink() => {
                report.static_kept.push(link.display().to_string());
                continue;
            }
            Ok(_) if fs::read_link(&link).ok().as_deref() == Some(dest.as_path()) => {}
            _ => {
                let tmp = fsutil::temp_sibling(&link);
                symlink(&dest, &tmp).at(&tmp)?;
                if let Err(e) = fs::rename(&tmp, &link) {
                    let _ = fs::remove_file(&tmp);
                    return Err(Error::io(&link, e));
                }
            }
        }
        report.static_links += 1;
    }
    Ok(())
}
