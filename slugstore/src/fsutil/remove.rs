//! Deleting a whole tree, in parallel, over open directory descriptors.
//!
//! Releases are large (tens of thousands of files, thousands of directories) and read-only down to
//! their directories, and retention deletes one on most deploys. A serial walk that makes every
//! directory writable by path and then `remove_dir_all` took seconds, almost all of it in system calls
//! resolving paths one component at a time and in waiting for one `unlink` after another. Here each
//! directory is a rayon task: it is opened relative to its parent's descriptor (never through a
//! symlink), made writable with `fchmod` only when its owner cannot write it, listed with `getdents`,
//! and its files and symlinks are unlinked by name relative to it; its subdirectories are deleted by
//! their own tasks, and each is removed (`unlinkat(AT_REMOVEDIR)`) once its task has emptied it.
//!
//! A symlink is an entry like a file: removed, never followed, so nothing outside the tree is touched.
//! An entry that vanishes meanwhile (another deleter got there first) is not an error.

use std::ffi::{CStr, CString};
use std::io;
use std::path::Path;

use rayon::prelude::*;
use rustix::fs::AtFlags;

use super::dir::{Dir, Kind};
use super::walk::{child, join};
use crate::error::{Error, IoResultExt, Result};

/// The owner's bits a directory needs for its entries to be listed and removed.
const OWNER_RWX: u32 = 0o700;

/// Deletes the tree at `root`, whose directories may be read-only. A symlink at `root` is removed
/// itself; symlinks inside are removed, never followed. Errors name the path they are about.
pub fn remove_tree(root: &Path) -> Result<()> {
    let meta = std::fs::symlink_metadata(root).at(root)?;
    if meta.file_type().is_symlink() {
        return std::fs::remove_file(root).at(root);
    }
    let dir = open_writable(root, &[], || Dir::open(root), || chmod_path(root))?;
    empty(root, &dir, &[])?;
    drop(dir);
    std::fs::remove_dir(root).at(root)
}

/// Removes everything in `dir` (at `rel` below `root`, for messages).
fn empty(root: &Path, dir: &Dir, rel: &[u8]) -> Result<()> {
    let mut subdirs = Vec::new();
    dir.for_each(
        |name, kind| {
            if kind == Kind::Dir {
                subdirs.push(name.to_owned());
                Ok(())
            } else {
                unlink(dir, name, AtFlags::empty()).at(join(root, &child(rel, name.to_bytes())))
            }
        },
        |e| Error::io(join(root, rel), e),
    )?;
    subdirs
        .par_iter()
        .try_for_each(|name| remove_subdir(root, dir, rel, name))
}

/// Empties and removes the subdirectory `name` of `parent` (at `rel`).
fn remove_subdir(root: &Path, parent: &Dir, rel: &[u8], name: &CString) -> Result<()> {
    let rel = child(rel, name.as_bytes());
    let opened = open_writable(
        root,
        &rel,
        || parent.open_at(name.as_c_str()),
        || parent.chmod_at(name.as_c_str(), OWNER_RWX),
    );
    let dir = match opened {
        Ok(dir) => dir,
        Err(Error::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    empty(root, &dir, &rel)?;
    drop(dir);
    unlink(parent, name, AtFlags::REMOVEDIR).at(join(root, &rel))
}

/// Opens a directory with `open`, giving it its owner's permissions first with `chmod` when it cannot
/// be read, and after with `fchmod` when its owner cannot write or search it.
fn open_writable(
    root: &Path,
    rel: &[u8],
    open: impl Fn() -> io::Result<Dir>,
    chmod: impl Fn() -> io::Result<()>,
) -> Result<Dir> {
    let path = || join(root, rel);
    let dir = match open() {
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            chmod().at(path())?;
            open()
        }
        other => other,
    }
    .at(path())?;
    let mode = dir.stat().at(path())?.mode;
    if mode & OWNER_RWX != OWNER_RWX {
        dir.chmod((mode & 0o7777) | OWNER_RWX).at(path())?;
    }
    Ok(dir)
}

fn chmod_path(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(OWNER_RWX))
}

/// `unlinkat`, where an entry already gone counts as removed.
fn unlink(dir: &Dir, name: &CStr, flags: AtFlags) -> io::Result<()> {
    match rustix::fs::unlinkat(dir.fd(), name, flags) {
        Err(e) if e == rustix::io::Errno::NOENT => Ok(()),
        other => Ok(other?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{symlink, PermissionsExt};

    fn chmod(path: &Path, mode: u32) {
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn removes_read_only_trees_and_never_follows_symlinks() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("outside");
        fs::create_dir(&outside).unwrap();
        fs::write(outside.join("keep"), b"mine").unwrap();

        let root = tmp.path().join("release");
        let deep = root.join("a/b/c");
        fs::create_dir_all(&deep).unwrap();
        for (i, dir) in [root.join("a"), root.join("a/b"), deep.clone()]
            .iter()
            .enumerate()
        {
            for n in 0..20 {
                let f = dir.join(format!("f{i}-{n}"));
                fs::write(&f, b"x").unwrap();
                chmod(&f, 0o444);
            }
        }
        fs::create_dir(root.join("a/unreadable")).unwrap();
        symlink(&outside, deep.join("link")).unwrap();
        symlink(&outside, root.join("top-link")).unwrap();
        for dir in [&deep, &root.join("a/b"), &root.join("a"), &root] {
            chmod(dir, 0o555);
        }
        chmod(&root.join("a/unreadable"), 0o000);

        remove_tree(&root).unwrap();

        assert!(!root.exists(), "the tree is gone");
        assert_eq!(fs::read(outside.join("keep")).unwrap(), b"mine");
        let mode = fs::metadata(&outside).unwrap().permissions().mode();
        assert_eq!(mode & 0o200, 0o200, "the symlinked directory kept its mode");
    }

    #[test]
    fn a_symlink_root_is_removed_itself_and_errors_name_the_path() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("dir");
        fs::create_dir(&dir).unwrap();
        fs::write(dir.join("f"), b"x").unwrap();
        let link = tmp.path().join("link");
        symlink(&dir, &link).unwrap();
        remove_tree(&link).unwrap();
        assert!(fs::symlink_metadata(&link).is_err());
        assert!(dir.join("f").exists());

        let missing = tmp.path().join("missing");
        let err = remove_tree(&missing).unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");
    }
}
