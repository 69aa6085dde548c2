//! Releases on their way out: renamed to `releases/.trash-*`, then deleted under a lock of their own.
//!
//! Renaming is what removes a release (from that instant it is not one, see [`super::target`]); it is
//! one system call and stays in the command that applies retention. Deleting the files is the slow
//! part (seconds for a large release), so it may happen later and elsewhere: in a background process
//! the CLI starts after a deploy ([`empty_trash`]), or in the next command on the target
//! ([`super::retention::clean_leftovers`]). Those may overlap, and the background one runs without the
//! target's lock (a rollback or a switch must never wait for a deletion), so each deleter holds an
//! exclusive `flock` on the trash directory itself while it deletes it, and leaves alone one whose lock
//! another holds. A deleter killed half-way releases its lock with its death; what it left is deleted
//! by the next one.

use std::fs::{self, File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::checkout::target::{Target, TRASH_PREFIX};
use crate::error::{IoResultExt, Result};
use crate::fsutil::{self, Lock};
use crate::id::SlugId;

/// Renames the release of `id` to a fresh `releases/.trash-*` name and syncs `releases/`: the release
/// is gone from then on, its files not yet. Returns the trash directory. Call with the target's lock
/// held.
pub fn trash_release(target: &Target, id: &SlugId) -> Result<PathBuf> {
    let dir = target.release_dir(id);
    let trash = target.releases_dir().join(format!(
        "{TRASH_PREFIX}{}",
        fsutil::temp_name(&id.short(16)).trim_start_matches('.')
    ));
    fs::rename(&dir, &trash).at(&dir)?;
    fsutil::sync_dir(&target.releases_dir())?;
    Ok(trash)
}

/// Deletes the directory tree `dir` unless another process (or another open in this one) holds its
/// lock, i.e. is deleting it. Returns whether this call deleted it; `false` also when it is already
/// gone.
pub fn delete_unless_locked(dir: &Path) -> Result<bool> {
    let Some(_lock) = try_lock(dir)? else {
        return Ok(false);
    };
    // Locked: no one else deletes it now. It may have been deleted whole by the previous holder.
    match fs::symlink_metadata(dir) {
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).at(dir),
        Ok(_) => fsutil::remove_tree(dir).map(|()| true),
    }
}

/// Deletes every `.trash-*` directory of the target at `target_root` that no other process is
/// deleting, without the target's lock. Returns how many it deleted.
pub fn empty_trash(target_root: &Path) -> Result<usize> {
    let target = Target::existing(target_root)?;
    let mut deleted = 0;
    for dir in target.trash()? {
        deleted += usize::from(delete_unless_locked(&dir)?);
    }
    Ok(deleted)
}

/// An exclusive `flock` on the directory `dir` itself, or `None` when another holds it or `dir` is
/// gone.
fn try_lock(dir: &Path) -> Result<Option<File>> {
    let opened = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW)
        .open(dir);
    let file = match opened {
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        other => other.at(dir)?,
    };
    Ok(fsutil::flock(&file, dir, Lock::ExclusiveNoWait)?.then_some(file))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkout::retention::clean_leftovers;
    use std::os::unix::fs::PermissionsExt;
    use std::sync::mpsc;
    use std::time::Duration;

    /// A read-only trash directory with a few files.
    fn make_trash(target: &Target, name: &str) -> PathBuf {
        let dir = target.releases_dir().join(name);
        fs::create_dir_all(dir.join("sub")).unwrap();
        fs::write(dir.join("sub/f"), b"x").unwrap();
        for d in [dir.join("sub"), dir.clone()] {
            fs::set_permissions(&d, fs::Permissions::from_mode(0o555)).unwrap();
        }
        dir
    }

    #[test]
    fn clean_leftovers_skips_trash_another_holds_and_deletes_it_once_free() {
        let tmp = tempfile::tempdir().unwrap();
        let target = Target::open(tmp.path()).unwrap();
        let trash = make_trash(&target, ".trash-held");

        let (locked_tx, locked_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let holder = {
            let trash = trash.clone();
            std::thread::spawn(move || {
                let lock = try_lock(&trash).unwrap().expect("nobody else holds it");
                locked_tx.send(()).unwrap();
                release_rx.recv_timeout(Duration::from_secs(30)).unwrap();
                drop(lock);
            })
        };
        locked_rx.recv_timeout(Duration::from_secs(30)).unwrap();

        clean_leftovers(&target).unwrap();
        assert!(trash.join("sub/f").exists(), "held trash is left alone");
        assert_eq!(empty_trash(target.root()).unwrap(), 0);

        release_tx.send(()).unwrap();
        holder.join().unwrap();
        clean_leftovers(&target).unwrap();
        assert!(!trash.exists(), "free trash is deleted");
    }

    #[test]
    fn empty_trash_deletes_trash_only() {
        let tmp = tempfile::tempdir().unwrap();
        let target = Target::open(tmp.path()).unwrap();
        let trash = make_trash(&target, ".trash-a");
        let checkout = make_trash(&target, ".tmp-in-progress");
        assert_eq!(empty_trash(target.root()).unwrap(), 1);
        assert!(!trash.exists());
        assert!(
            checkout.join("sub/f").exists(),
            "a checkout in progress stays"
        );
        assert_eq!(empty_trash(target.root()).unwrap(), 0);
    }
}
