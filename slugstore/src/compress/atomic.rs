//! Replacing a file so that readers see the old bytes or the new ones, never a part.
//!
//! The bytes go to a temporary file in the destination's directory, which is then renamed over the
//! destination (a rename within one file system is atomic). A failed or interrupted write leaves at most
//! a `.slugtmp-*` file, which no selection rule matches, and which is removed on error. The file is not
//! fsynced: everything written here is derived data that a later run checks byte for byte and rewrites if
//! a crash left it damaged, and syncing thousands of small files would dominate the run time.

use std::fs::{File, FileTimes, Permissions};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::SystemTime;

use crate::error::{IoResultExt, Result};

/// Prefix of the temporary files.
pub const TEMP_PREFIX: &str = ".slugtmp-";

/// Attributes given to the new file before it becomes visible.
#[derive(Debug, Clone, Copy)]
pub struct Attrs {
    /// Permission bits.
    pub mode: u32,
    /// Modification time; `None` keeps the time of writing.
    pub modified: Option<SystemTime>,
}

/// Writes `bytes` to `path` atomically, replacing whatever file or symlink is there.
pub fn write_atomic(path: &Path, bytes: &[u8], attrs: Attrs) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .tempfile_in(dir)
        .at(dir)?;
    let file: &mut File = tmp.as_file_mut();
    file.write_all(bytes).at(path)?;
    // Set explicitly rather than at creation, where the umask would apply.
    file.set_permissions(Permissions::from_mode(attrs.mode))
        .at(path)?;
    if let Some(modified) = attrs.modified {
        file.set_times(FileTimes::new().set_modified(modified))
            .at(path)?;
    }
    tmp.persist(path).map_err(|e| e.error).at(path)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn replaces_content_sets_attributes_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a b.gz");
        fs::write(&path, b"old").unwrap();
        let when = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        write_atomic(
            &path,
            b"new bytes",
            Attrs {
                mode: 0o640,
                modified: Some(when),
            },
        )
        .unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new bytes");
        let meta = fs::metadata(&path).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o640);
        assert_eq!(meta.modified().unwrap(), when);
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("a b.gz")]);
    }

    #[test]
    fn replaces_a_symlink_instead_of_writing_through_it() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        fs::write(&target, b"keep me").unwrap();
        let link = dir.path().join("x.gz");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        write_atomic(
            &link,
            b"gz",
            Attrs {
                mode: 0o644,
                modified: None,
            },
        )
        .unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"keep me");
        assert!(fs::symlink_metadata(&link).unwrap().is_file());
    }
}
