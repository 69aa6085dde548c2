//! Slug archives: a slug as a standard tar stream, and back.
//!
//! An archive is how a slug leaves slugstore for tools that know nothing of it: `tar --zstd -xf` on any
//! machine gives the tree bit-exact. It is also how a tree enters a store from elsewhere, which is why
//! the two directions are built so differently:
//!
//! - [`export`](export::export) writes POSIX pax archives that are *deterministic* (entries in manifest
//!   order, mtime 0, owner 0:0, canonical modes), so the same slug always gives the same bytes, and
//!   *streaming* (one object at a time, verified, from the store to the output).
//! - [`import`](import::import) treats every byte as hostile. It never extracts anything: entries only
//!   become objects in the store and lines of a manifest, and the manifest is committed only once the
//!   whole archive has been read and checked (see [`mod@import`] for the rules). A refused archive leaves at
//!   most unreferenced packs, like an interrupted snapshot.
//!
//! [`spool::import_when_free`] imports a stream that may have to wait for the store (a pipe from an
//! export of the same store).
//!
//! Compression is chosen from the file name when writing and from the magic bytes when reading.

pub mod export;
mod header;
pub mod import;
pub mod limits;
mod paths;
mod pax;
pub mod spool;
mod tree;

use std::path::Path;

use serde::Serialize;

use crate::error::{Error, Result};

pub use export::{export, export_to_path, ExportOptions, ExportReport};
pub use import::{import, import_path, ImportOptions, ImportReport};
pub use limits::ImportLimits;
pub use spool::{import_when_free, Spool};

/// The compression around the tar stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum Compression {
    /// A bare tar stream (`.tar`).
    #[cfg_attr(feature = "clap", value(name = "tar"))]
    None,
    /// gzip (`.tar.gz`, `.tgz`).
    #[cfg_attr(feature = "clap", value(name = "tar.gz"))]
    Gzip,
    /// zstd (`.tar.zst`, `.tzst`).
    #[cfg_attr(feature = "clap", value(name = "tar.zst"))]
    Zstd,
}

const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const XZ_MAGIC: [u8; 4] = [0xfd, b'7', b'z', b'X'];
const BZIP2_MAGIC: [u8; 3] = *b"BZh";

impl Compression {
    /// The compression a file name asks for, from its extension.
    pub fn from_name(path: &Path) -> Option<Compression> {
        let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
        if name.ends_with(".tar.zst") || name.ends_with(".tzst") {
            Some(Compression::Zstd)
        } else if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
            Some(Compression::Gzip)
        } else if name.ends_with(".tar") {
            Some(Compression::None)
        } else {
            None
        }
    }

    /// The compression of a stream from its first bytes; `source` names the stream in errors.
    pub fn detect(head: &[u8], source: &str) -> Result<Compression> {
        if head.starts_with(&ZSTD_MAGIC) {
            Ok(Compression::Zstd)
        } else if head.starts_with(&GZIP_MAGIC) {
            Ok(Compression::Gzip)
        } else if head.starts_with(&XZ_MAGIC) || head.starts_with(&BZIP2_MAGIC) {
            Err(Error::format(
                source,
                "xz and bzip2 archives are not supported; use .tar, .tar.gz or .tar.zst",
            ))
        } else {
            Ok(Compression::None)
        }
    }

    /// The usual file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Compression::None => "tar",
            Compression::Gzip => "tar.gz",
            Compression::Zstd => "tar.zst",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_magic() {
        assert_eq!(
            Compression::from_name(Path::new("x/A.TAR.ZST")),
            Some(Compression::Zstd)
        );
        assert_eq!(
            Compression::from_name(Path::new("a.tgz")),
            Some(Compression::Gzip)
        );
        assert_eq!(
            Compression::from_name(Path::new("a.tar")),
            Some(Compression::None)
        );
        assert_eq!(Compression::from_name(Path::new("a.zip")), None);
        assert_eq!(
            Compression::detect(&ZSTD_MAGIC, "x").unwrap(),
            Compression::Zstd
        );
        assert_eq!(
            Compression::detect(&[0x1f, 0x8b, 8, 0], "x").unwrap(),
            Compression::Gzip
        );
        assert_eq!(Compression::detect(b"abc", "x").unwrap(), Compression::None);
        assert!(Compression::detect(b"BZh91AY", "x").is_err());
    }
}
