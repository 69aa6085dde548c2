//! Limits on what an imported archive may hold.
//!
//! A few kilobytes of zstd can expand to billions of tiny members or to terabytes of zeros. Import keeps
//! one line of manifest per member in memory and writes every byte of content to the store, so the
//! number of members, the length of names and the total content size are bounded, each with an error
//! that says which limit was hit and how to raise it. Extension members (pax headers, GNU long names) are
//! read into memory whole, so their size is bounded by a fixed limit well above any real use.

use serde::Serialize;

use crate::error::{Error, Result};

/// Largest pax extended header or GNU long-name member accepted, in bytes.
pub const MAX_EXTENSION_BYTES: u64 = 1 << 20;
/// Longest single path component, in bytes (Linux's `NAME_MAX`).
pub const MAX_NAME_BYTES: usize = 255;
/// How many symlinks may be followed while checking where one leads (Linux's limit).
pub const MAX_LINK_HOPS: u32 = 40;

/// Configurable bounds of an import.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct ImportLimits {
    /// Refuse archives with more members than this.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = ImportLimits::default().max_entries))]
    pub max_entries: u64,
    /// Refuse paths and link targets longer than this many bytes.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = ImportLimits::default().max_path_bytes))]
    pub max_path_bytes: usize,
    /// Refuse archives whose files add up to more than this many bytes.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = ImportLimits::default().max_total_bytes))]
    pub max_total_bytes: u64,
}

impl Default for ImportLimits {
    fn default() -> Self {
        ImportLimits {
            max_entries: 10_000_000,
            max_path_bytes: 4096,
            max_total_bytes: 1 << 40,
        }
    }
}

impl ImportLimits {
    /// Checks the member count after one more member.
    pub fn check_entries(&self, count: u64) -> Result<()> {
        if count > self.max_entries {
            return Err(Error::TooManyMembers(self.max_entries));
        }
        Ok(())
    }

    /// Checks the total of file sizes after adding one more file.
    pub fn check_total(&self, total: u64) -> Result<()> {
        if total > self.max_total_bytes {
            return Err(Error::ArchiveTooLarge(self.max_total_bytes));
        }
        Ok(())
    }

    /// Checks the length of a path or link target and of its components; the error detail is returned
    /// for the caller to attach to the member's name.
    pub fn check_path(&self, what: &str, p: &[u8]) -> std::result::Result<(), String> {
        if p.len() > self.max_path_bytes {
            return Err(format!(
                "{what} is {} bytes long, over the limit of {} (--max-path-bytes)",
                p.len(),
                self.max_path_bytes
            ));
        }
        if let Some(c) = p.split(|&c| c == b'/').find(|c| c.len() > MAX_NAME_BYTES) {
            return Err(format!(
                "{what} has a {}-byte component, over the limit of {MAX_NAME_BYTES}",
                c.len()
            ));
        }
        Ok(())
    }
}
