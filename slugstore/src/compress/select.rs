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
//! The walk keeps the selected paths in memory (a few thousand in a real `pub/static`): the parallel run
//! needs them up front to balance the work.

use std::ffi::CStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use foldhash::HashSet;

use super::run::gz_path_of;
use super::seen::StatKey;
use crate::error::{Error, IoResultExt, Result};
use crate::fsutil::dir::{Dir, Kind};
use crate::fsutil::walk;

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
    /// The stat key of its `NAME.gz` when it was selected, if its directory listed one and that is a
    /// regular file (when not, there is no earlier `.gz` to compare with, and none is looked for).
    pub gz: Option<StatKey>,
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
/// only checked on directories below `dir`. Directories are read in parallel, through descriptors (a
/// `pub/static` has thousands, and a rerun that finds everything up to date spends most of its time
/// here); each asset's `.gz`, when its directory lists one, is statted there too.
pub fn select(dir: &Path) -> Result<Vec<Asset>> {
    let mut found = walk::walk(dir, &Select { root: dir })?;
    found.sort_unstable_by(|a, b| b.len.cmp(&a.len).then_with(|| a.path.cmp(&b.path)));
    Ok(found)
}

/// The selection rules, applied to each directory.
struct Select<'a> {
    root: &'a Path,
}

impl walk::Visitor for Select<'_> {
    type Out = Asset;

    fn visit(
        &self,
        dir: &Dir,
        rel: &[u8],
        out: &mut Vec<Asset>,
        descend: &mut dyn FnMut(&CStr),
    ) -> Result<()> {
        let first = out.len();
        let mut gz_names = HashSet::default();
        dir.for_each(
            |name, kind| {
                let bytes = name.to_bytes();
                if let Some(stem) = bytes.strip_suffix(b".gz") {
                    gz_names.insert(stem.to_vec());
                }
                match kind {
                    Kind::Dir if !is_deleting_dir(bytes) => descend(name),
                    Kind::File if has_asset_extension(bytes) => {
                        let path = walk::join(self.root, &walk::child(rel, bytes));
                        let meta = dir.lstat(name).at(&path)?;
                        if meta.size > MIN_SIZE {
                            out.push(Asset {
                                path,
                                len: meta.size,
                                key: StatKey::from(&meta),
                                gz: None,
                            });
                        }
                    }
                    _ => {}
                }
                Ok(())
            },
            |e| Error::io(walk::join(self.root, rel), e),
        )?;
        for asset in &mut out[first..] {
            let name = asset.path.file_name().unwrap_or_default().as_bytes();
            if gz_names.contains(name) {
                let gz = gz_path_of(&asset.path);
                let gz_name = gz.file_name().unwrap_or_default();
                asset.gz = match dir.lstat(gz_name) {
                    Ok(meta) if meta.is_file() => Some(StatKey::from(&meta)),
                    Ok(_) => None,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                    Err(e) => return Err(Error::io(&gz, e)),
                };
            }
        }
        Ok(())
    }
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
