//! Which files get a `.gz`: the hosting platform's rules, reproduced exactly.
//!
//! The platform runs `find DIR -type d -name 'DELETING_*' -prune -o -type f -size +300c \( -name '*.js'
//! -o -name '*.css' -o -name '*.svg' -o -name '*.html' -o -name '*.htm' \)`. So a file is selected when
//! it is a regular file (a symlink is never followed, whether it points at a file or a directory), it is
//! strictly larger than [`MIN_SIZE`] bytes, and its name ends in one of [`EXTENSIONS`], compared
//! byte for byte (`app.JS` is not selected). Directories named `DELETING_*` are being removed by the
//! static content deployer and are not entered. Names are handled as raw bytes: spaces, quotes, newlines
//! and non-UTF-8 names are ordinary names here.
//!
//! The walk keeps a few directory listings in memory at a time (one per thread), plus the selected paths
//! (a few thousand in a real `pub/static`), which the parallel run needs up front to balance the work.

use std::collections::HashSet;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::seen::StatKey;
use crate::error::{IoResultExt, Result};

/// Files of this size or smaller are not worth compressing (the platform's `-size +300c`).
pub const MIN_SIZE: u64 = 300;

/// Name endings of the compressed assets, case-sensitive.
pub const EXTENSIONS: [&str; 5] = [".js", ".css", ".svg", ".html", ".htm"];

/// Prefix of directories the platform is deleting, which are skipped.
pub const DELETING_PREFIX: &str = "DELETING_";

/// A selected file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    /// Path of the file (the walked directory joined with the relative path).
    pub path: PathBuf,
    /// Size in bytes when it was selected.
    pub len: u64,
    /// Its stat key when it was selected.
    pub key: StatKey,
    /// Whether its directory listed a `NAME.gz` entry when it was selected (when not, there is no
    /// earlier `.gz` to compare with, and none is looked for).
    pub gz_listed: bool,
}

/// True when a file named `name` qualifies by name.
pub fn has_asset_extension(name: &[u8]) -> bool {
    EXTENSIONS.iter().any(|ext| name.ends_with(ext.as_bytes()))
}

/// True when a directory named `name` is skipped.
pub fn is_deleting_dir(name: &[u8]) -> bool {
    name.starts_with(DELETING_PREFIX.as_bytes())
}

/// Walks `dir` and returns the files to compress, largest first (so the parallel run does not end
/// waiting on one big file started last).
///
/// `dir` itself may be a symlink to a directory; nothing below it is followed. A `DELETING_*` name is
/// only checked on directories below `dir`. Directories are read in parallel (a `pub/static` has
/// thousands, and a rerun that finds everything up to date spends most of its time here).
pub fn select(dir: &Path) -> Result<Vec<Asset>> {
    let found = Mutex::new(Vec::new());
    let error = Mutex::new(None);
    rayon::scope(|s| visit(s, dir.to_path_buf(), &found, &error));
    if let Some(e) = error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    let mut found = found.into_inner().unwrap_or_else(|p| p.into_inner());
    found.sort_unstable_by(|a, b| b.len.cmp(&a.len).then_with(|| a.path.cmp(&b.path)));
    Ok(found)
}

type Found = Mutex<Vec<Asset>>;
type FirstError = Mutex<Option<crate::Error>>;

/// Reads one directory, queues its subdirectories, and adds its assets to `found`.
fn visit<'s>(scope: &rayon::Scope<'s>, dir: PathBuf, found: &'s Found, error: &'s FirstError) {
    let lock_error = || error.lock().unwrap_or_else(|p| p.into_inner());
    if lock_error().is_some() {
        return;
    }
    match read_one(scope, &dir, found, error) {
        Ok(here) => found.lock().unwrap_or_else(|p| p.into_inner()).extend(here),
        Err(e) => {
            lock_error().get_or_insert(e);
        }
    }
}

fn read_one<'s>(
    scope: &rayon::Scope<'s>,
    dir: &Path,
    found: &'s Found,
    error: &'s FirstError,
) -> Result<Vec<Asset>> {
    let mut here = Vec::new();
    let mut gz_names = HashSet::new();
    for entry in fs::read_dir(dir).at(dir)? {
        let entry = entry.at(dir)?;
        let name = entry.file_name();
        if let Some(stem) = name.as_bytes().strip_suffix(b".gz") {
            gz_names.insert(stem.to_vec());
        }
        // `file_type` and `metadata` on a directory entry do not follow symlinks.
        let kind = entry.file_type().at(entry.path())?;
        if kind.is_dir() {
            if !is_deleting_dir(name.as_bytes()) {
                let sub = entry.path();
                scope.spawn(move |s| visit(s, sub, found, error));
            }
        } else if kind.is_file() && has_asset_extension(name.as_bytes()) {
            let path = entry.path();
            let meta = entry.metadata().at(&path)?;
            if meta.len() > MIN_SIZE {
                here.push(Asset {
                    path,
                    len: meta.len(),
                    key: StatKey::of(&meta),
                    gz_listed: false,
                });
            }
        }
    }
    for asset in &mut here {
        let name = asset.path.file_name().unwrap_or_default().as_bytes();
        asset.gz_listed = gz_names.contains(name);
    }
    Ok(here)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_matched_case_sensitively_on_the_whole_ending() {
        for yes in [
            "a.js",
            "a.css",
            "a.svg",
            "a.html",
            "a.htm",
            ".js",
            "a b.min.js",
            "x.tar.css",
        ] {
            assert!(has_asset_extension(yes.as_bytes()), "{yes}");
        }
        for no in [
            "a.JS", "a.Css", "a.js.map", "a.json", "a.jsx", "a.gz", "a.js.gz", "ajs", "a.htmlx",
        ] {
            assert!(!has_asset_extension(no.as_bytes()), "{no}");
        }
        assert!(has_asset_extension(b"\xff\xfe.js"));
    }

    #[test]
    fn deleting_dirs_are_recognised_by_prefix() {
        assert!(is_deleting_dir(b"DELETING_"));
        assert!(is_deleting_dir(b"DELETING_123"));
        assert!(!is_deleting_dir(b"deleting_123"));
        assert!(!is_deleting_dir(b"xDELETING_"));
    }
}
