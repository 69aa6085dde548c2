//! Replacing a file so that readers see the old bytes or the new ones, never a part.
//!
//! The bytes go to a temporary file in the destination's directory, which is then renamed over the
//! destination (a rename within one file system is atomic). A failed or interrupted write leaves at most
//! a `.slugtmp-*` file, which no selection rule matches, and which is removed on error. The file is not
//! fsynced: everything written here is derived data that a later run checks byte for byte and rewrites if
//! a crash left it damaged, and syncing thousands of small files would dominate the run time.

use std::fs::{FileTimes, Permissions};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::SystemTime;

use crate::error::{IoResultExt, Result};
use crate::fsutil::{self, Durability, TempFile};

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
///
/// Thousands of these run per build, so the path is kept to the system calls that matter: the temporary
/// file is created with its final mode (a `chmod` follows only when the umask would clear some of its
/// bits), and its name is unique to this process and call (no random retries, no absolute paths).
pub fn write_atomic(path: &Path, bytes: &[u8], attrs: Attrs) -> Result<()> {
    let dir = fsutil::parent_dir(path);
    let mut tmp = TempFile::create(path, attrs.mode | 0o600, || {
        dir.join(fsutil::temp_name(&TEMP_PREFIX[1..]))
    })?;
    let file = tmp.file();
    let written = (|| -> std::io::Result<()> {
        file.write_all(bytes)?;
        if attrs.mode & 0o600 != 0o600 || !fsutil::mode_survives_umask(attrs.mode) {
            file.set_permissions(Permissions::from_mode(attrs.mode))?;
        }
        if let Some(modified) = attrs.modified {
            file.set_times(FileTimes::new().set_modified(modified))?;
        }
        Ok(())
    })();
    written.at(path)?;
    tmp.persist_with(Durability::Unsynced)
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
