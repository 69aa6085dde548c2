//! How a configuration file is read from a project directory: the one door every reader goes through
//! (`slug validate`, the scan's mounts, a deploy's phases, a checkout's mounts).
//!
//! The project directory may come from anyone (a pushed branch, an unpacked archive), and a name there
//! is not necessarily a file: `.magento.app.yaml` as a symlink to `/dev/zero` would be read forever
//! into memory, one to `/dev/urandom` or a FIFO would never end (or never open), and one to a file
//! elsewhere on the machine would quote that file in the error. So a configuration file is read only
//! when:
//! - the name, followed through any symlinks, leads to a place inside the project (a link between two
//!   files of the project is fine; one leading out is refused, naming where it leads);
//! - what is opened there is a regular file: it is opened without following a link and without
//!   blocking (a FIFO opens at once instead of waiting for a writer), and its type is checked on the
//!   open descriptor, so a swap between the check and the open cannot slip a device in;
//! - it holds at most [`MAX_FILE_BYTES`], checked before and while reading (a file that grows while it
//!   is read is cut at the limit and refused).
//!
//! Files fetched from elsewhere (a git commit, a stored slug) are bytes already bounded by their source;
//! [`too_large`] gives them the same limit and the same words.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

use slugstore::escape;

/// The largest configuration file read, in bytes (1 MiB): these files are a few KiB, and a bound keeps a
/// mistaken or hostile file from being read into memory whole.
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// Why a configuration file of `size` bytes is refused.
pub fn too_large(size: u64) -> String {
    format!(
        "is {size} bytes, over the limit of 1 MiB ({MAX_FILE_BYTES} bytes) for a configuration file"
    )
}

/// The bytes of configuration file `name` of the project in `root`: `None` when there is no such
/// file, or why it is refused (a phrase to follow the file's name: "is a FIFO, not a regular file").
pub fn project_file(root: &Path, name: &str) -> Result<Option<Vec<u8>>, String> {
    let cannot = |e: std::io::Error| format!("cannot read: {e}");
    let root = match root.canonicalize() {
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        other => other.map_err(cannot)?,
    };
    let path = root.join(name);
    match path.symlink_metadata() {
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        other => other.map_err(cannot)?,
    };
    let real = path.canonicalize().map_err(|e| match e.kind() {
        ErrorKind::NotFound => "is a symlink to a file that does not exist".to_owned(),
        _ => cannot(e),
    })?;
    if !real.starts_with(&root) {
        return Err(format!(
            "is a symlink leading outside the project (to {}); configuration files must be inside it",
            escape::text(&real.display().to_string())
        ));
    }
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(&real)
        .map_err(cannot)?;
    read_regular(file).map(Some)
}

/// The bytes of `file` if it is a regular file of at most [`MAX_FILE_BYTES`].
fn read_regular(file: File) -> Result<Vec<u8>, String> {
    let meta = file.metadata().map_err(|e| format!("cannot read: {e}"))?;
    let kind = meta.file_type();
    let what = if kind.is_file() {
        None
    } else if kind.is_dir() {
        Some("a directory")
    } else if kind.is_fifo() {
        Some("a FIFO")
    } else if kind.is_char_device() {
        Some("a character device")
    } else if kind.is_block_device() {
        Some("a block device")
    } else if kind.is_socket() {
        Some("a socket")
    } else {
        Some("a special file")
    };
    if let Some(what) = what {
        return Err(format!("is {what}, not a regular file"));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(too_large(meta.len()));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_files_inside_are_read_others_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("p");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("sub/real.yaml"), "a: 1\n").unwrap();
        std::os::unix::fs::symlink("sub/real.yaml", root.join("inside")).unwrap();
        std::fs::write(dir.path().join("secret"), "x").unwrap();
        std::os::unix::fs::symlink("../secret", root.join("outside")).unwrap();
        std::os::unix::fs::symlink("missing", root.join("dangling")).unwrap();

        assert_eq!(project_file(&root, "inside").unwrap().unwrap(), b"a: 1\n");
        assert_eq!(project_file(&root, "absent").unwrap(), None);
        assert_eq!(project_file(&dir.path().join("nope"), "x").unwrap(), None);
        let outside = project_file(&root, "outside").unwrap_err();
        assert!(outside.contains("outside the project"), "{outside}");
        let dangling = project_file(&root, "dangling").unwrap_err();
        assert!(dangling.contains("does not exist"), "{dangling}");
        let sub = project_file(&root, "sub").unwrap_err();
        assert_eq!(sub, "is a directory, not a regular file");
    }

    #[test]
    fn the_limit_is_exact() {
        let dir = tempfile::tempdir().unwrap();
        let at_limit = vec![b'#'; MAX_FILE_BYTES as usize];
        std::fs::write(dir.path().join("ok"), &at_limit).unwrap();
        assert_eq!(
            project_file(dir.path(), "ok").unwrap().unwrap().len(),
            at_limit.len()
        );
        std::fs::write(dir.path().join("big"), [&at_limit[..], b"#"].concat()).unwrap();
        let err = project_file(dir.path(), "big").unwrap_err();
        assert!(
            err.contains("1048577 bytes, over the limit of 1 MiB"),
            "{err}"
        );
    }
}
