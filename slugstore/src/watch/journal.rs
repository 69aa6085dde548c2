//! The journal a watcher keeps: an inotify watch per directory of the tree, and the paths changed,
//! each with the sequence number of its last change.

use std::collections::HashMap;
use std::ffi::CStr;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::fs::inotify::{self, CreateFlags, ReadFlags, WatchFlags};
use rustix::io::Errno;

use super::protocol::{Answer, Token};
use crate::error::{Error, Result};
use crate::fsutil::dir::{Dir, Kind};
use crate::fsutil::walk::{child, join};
use crate::scan::Excludes;

/// What each directory watch reports: every way an entry can appear, vanish, or change its content,
/// mode or times. `EXCL_UNLINK`: nothing about files already unlinked.
fn watch_flags() -> WatchFlags {
    WatchFlags::MODIFY
        | WatchFlags::ATTRIB
        | WatchFlags::CLOSE_WRITE
        | WatchFlags::CREATE
        | WatchFlags::DELETE
        | WatchFlags::DELETE_SELF
        | WatchFlags::MOVED_FROM
        | WatchFlags::MOVED_TO
        | WatchFlags::MOVE_SELF
        | WatchFlags::ONLYDIR
        | WatchFlags::DONT_FOLLOW
        | WatchFlags::EXCL_UNLINK
}

/// Paths a journal holds before it starts over (about 100 MB of memory at most).
pub const MAX_PATHS: usize = 1_000_000;

/// A tree's change journal.
pub struct Journal {
    root: PathBuf,
    excludes: Excludes,
    inotify: OwnedFd,
    /// Watch descriptor -> the directory's path below the root.
    dirs: HashMap<i32, Vec<u8>>,
    /// Changed path -> sequence number of its last change.
    changed: HashMap<Vec<u8>, u64>,
    epoch: u64,
    seq: u64,
    /// Times the journal started over (overflow, a moved directory).
    pub restarts: u64,
}

impl Journal {
    /// Watches every directory of `root` (canonical) outside `excludes`.
    pub fn start(root: &Path, excludes: Excludes) -> Result<Journal> {
        let mut j = Journal {
            root: root.to_path_buf(),
            excludes,
            inotify: new_inotify(root)?,
            dirs: HashMap::new(),
            changed: HashMap::new(),
            epoch: new_epoch(),
            seq: 0,
            restarts: 0,
        };
        j.watch_tree(Vec::new(), false)?;
        Ok(j)
    }

    /// The inotify descriptor, to poll.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.inotify.as_fd()
    }

    /// Directories watched.
    pub fn dirs(&self) -> u64 {
        self.dirs.len() as u64
    }

    /// Starts over: a new descriptor (dropping every watch and queued event), a new epoch, an empty
    /// journal, the tree watched again.
    fn restart(&mut self) -> Result<()> {
        self.inotify = new_inotify(&self.root)?;
        self.dirs.clear();
        self.changed.clear();
        self.epoch = new_epoch();
        self.seq = 0;
        self.restarts += 1;
        self.watch_tree(Vec::new(), false)
    }

    /// Watches `rel` and every directory below it. With `mark`, every path found is journaled as
    /// changed (a directory that appeared: what it holds is new to any snapshot). The watch on a
    /// directory is set before it is listed, so an entry created meanwhile is either listed or reported.
    fn watch_tree(&mut self, rel: Vec<u8>, mark: bool) -> Result<()> {
        let mut todo = vec![rel];
        while let Some(rel) = todo.pop() {
            let path = join(&self.root, &rel);
            let wd = match inotify::add_watch(&self.inotify, path.as_path(), watch_flags()) {
                Ok(wd) => wd,
                // Gone (or replaced by a non-directory) since it was listed: its parent reports that.
                Err(Errno::NOENT | Errno::NOTDIR) => continue,
                Err(Errno::NOSPC) => return Err(watch_limit(&path)),
                Err(e) => return Err(Error::io(&path, e.into())),
            };
            self.dirs.insert(wd, rel.clone());
            let entries = match Dir::open(&path).and_then(|d| d.entries()) {
                Ok(entries) => entries,
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
                Err(e) => return Err(Error::io(&path, e)),
            };
            for e in entries {
                let sub = child(&rel, e.name_bytes());
                if self.excludes.contains(&sub) {
                    continue;
                }
                if mark {
                    self.mark(sub.clone());
                }
                if e.kind == Kind::Dir {
                    todo.push(sub);
                }
            }
        }
        Ok(())
    }

    fn mark(&mut self, path: Vec<u8>) {
        self.seq += 1;
        self.changed.insert(path, self.seq);
    }

    /// Starts over when the journal holds more than [`MAX_PATHS`] paths: a watcher left running for
    /// weeks of builds sees every temporary name a build ever wrote, and nothing tells it which old
    /// positions no store will ask about again. The cost is one walk for the next snapshot.
    fn bound(&mut self) -> Result<bool> {
        if self.changed.len() > MAX_PATHS {
            self.restart()?;
            return Ok(false);
        }
        Ok(true)
    }

    /// Reads every queued event (the descriptor is non-blocking) into the journal.
    pub fn drain(&mut self) -> Result<()> {
        let mut buf = vec![MaybeUninit::<u8>::uninit(); 64 << 10];
        loop {
            let mut events = Vec::new();
            {
                let mut reader = inotify::Reader::new(&self.inotify, &mut buf);
                loop {
                    match reader.next() {
                        Ok(ev) => events.push((
                            ev.wd(),
                            ev.events(),
                            ev.file_name().map(|n: &CStr| n.to_bytes().to_vec()),
                        )),
                        Err(Errno::AGAIN) => break,
                        Err(Errno::INTR) => continue,
                        Err(e) => return Err(Error::io(&self.root, e.into())),
                    }
                    if reader.is_buffer_empty() {
                        break;
                    }
                }
            }
            if events.is_empty() {
                return Ok(());
            }
            for (wd, mask, name) in events {
                if !(self.apply(wd, mask, name)? && self.bound()?) {
                    // Started over: what is left of this batch belongs to the old watches.
                    break;
                }
            }
        }
    }

    /// Journals one event. False when the journal started over.
    fn apply(&mut self, wd: i32, mask: ReadFlags, name: Option<Vec<u8>>) -> Result<bool> {
        if mask.contains(ReadFlags::QUEUE_OVERFLOW) {
            self.restart()?;
            return Ok(false);
        }
        let Some(dir) = self.dirs.get(&wd).cloned() else {
            return Ok(true);
        };
        if mask.contains(ReadFlags::IGNORED) {
            self.dirs.remove(&wd);
            return Ok(true);
        }
        let Some(name) = name else {
            // About the watched directory itself.
            if dir.is_empty() && mask.intersects(ReadFlags::MOVE_SELF | ReadFlags::DELETE_SELF) {
                return Err(Error::WatchedTreeGone(self.root.clone()));
            }
            if !dir.is_empty() {
                self.mark(dir);
            }
            return Ok(true);
        };
        let path = child(&dir, &name);
        if self.excludes.contains(&path) {
            return Ok(true);
        }
        let is_dir = mask.contains(ReadFlags::ISDIR);
        if is_dir && mask.contains(ReadFlags::MOVED_FROM) {
            // The watches below it now name paths that moved: start over.
            self.restart()?;
            return Ok(false);
        }
        self.mark(path.clone());
        if is_dir && mask.intersects(ReadFlags::CREATE | ReadFlags::MOVED_TO) {
            self.watch_tree(path, true)?;
        }
        Ok(true)
    }

    /// The answer to "what changed since `since`".
    pub fn answer(&self, since: Option<Token>) -> Answer {
        let token = Token {
            epoch: self.epoch,
            seq: self.seq,
        };
        let changed = since
            .filter(|t| t.epoch == self.epoch && t.seq <= self.seq)
            .map(|t| {
                let mut paths: Vec<Vec<u8>> = self
                    .changed
                    .iter()
                    .filter(|(_, &s)| s > t.seq)
                    .map(|(p, _)| p.clone())
                    .collect();
                paths.sort_unstable();
                paths
            });
        Answer {
            token,
            changed,
            unwatched: self
                .excludes
                .list()
                .into_iter()
                .map(String::into_bytes)
                .collect(),
            dirs: self.dirs(),
            stopped: false,
        }
    }
}

fn new_inotify(root: &Path) -> Result<OwnedFd> {
    inotify::init(CreateFlags::NONBLOCK | CreateFlags::CLOEXEC)
        .map_err(|e| Error::io(root, e.into()))
}

/// A fresh epoch: distinct across runs of the watcher (process id, clock) and restarts of one journal
/// (a counter).
fn new_epoch() -> u64 {
    static STARTS: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let n = STARTS.fetch_add(1, Ordering::Relaxed);
    let seed = format!("{}:{}:{n}", std::process::id(), now.as_nanos());
    let h = blake3::hash(seed.as_bytes());
    u64::from_le_bytes(h.as_bytes()[..8].try_into().expect("8 bytes"))
}

fn watch_limit(path: &Path) -> Error {
    let limit = std::fs::read_to_string("/proc/sys/fs/inotify/max_user_watches")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "?".into());
    Error::WatchLimit {
        path: path.to_path_buf(),
        limit,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("a/b")).unwrap();
        std::fs::create_dir_all(t.path().join("var/log")).unwrap();
        std::fs::write(t.path().join("a/f"), "x").unwrap();
        t
    }

    fn excludes() -> Excludes {
        let mut ex = Excludes::default();
        ex.add("var").unwrap();
        ex
    }

    #[test]
    fn changes_are_answered_since_a_token_and_excluded_dirs_are_not_watched() {
        let t = tree();
        let root = t.path().canonicalize().unwrap();
        let mut j = Journal::start(&root, excludes()).unwrap();
        assert_eq!(j.dirs(), 3, "root, a, a/b; not var");
        let before = j.answer(None);
        assert_eq!(before.changed, None);
        std::fs::write(root.join("a/b/new"), "y").unwrap();
        std::fs::write(root.join("var/log/x"), "mount").unwrap();
        j.drain().unwrap();
        let after = j.answer(Some(before.token));
        assert_eq!(after.changed, Some(vec![b"a/b/new".to_vec()]));
        assert_eq!(after.unwatched, vec![b"var".to_vec()]);
        // Asked again from the newer token: nothing.
        assert_eq!(j.answer(Some(after.token)).changed, Some(vec![]));
    }

    #[test]
    fn an_overflow_or_a_moved_directory_starts_a_new_epoch() {
        let t = tree();
        let root = t.path().canonicalize().unwrap();
        let mut j = Journal::start(&root, excludes()).unwrap();
        let first = j.answer(None).token;
        assert!(!j.apply(-1, ReadFlags::QUEUE_OVERFLOW, None).unwrap());
        let second = j.answer(None).token;
        assert_ne!(first.epoch, second.epoch);
        assert_eq!(
            j.answer(Some(first)).changed,
            None,
            "an old token is not vouched for"
        );
        assert_eq!(j.dirs(), 3, "watching again");

        std::fs::rename(root.join("a/b"), root.join("c")).unwrap();
        j.drain().unwrap();
        assert_eq!(j.restarts, 2);
        assert_eq!(j.answer(Some(second)).changed, None);
    }

    #[test]
    fn a_journal_past_its_bound_starts_over() {
        let t = tree();
        let root = t.path().canonicalize().unwrap();
        let mut j = Journal::start(&root, excludes()).unwrap();
        let token = j.answer(None).token;
        for i in 0..=MAX_PATHS {
            j.changed.insert(format!("p{i}").into_bytes(), 1);
        }
        assert!(!j.bound().unwrap());
        assert!(j.changed.is_empty());
        assert_eq!(j.answer(Some(token)).changed, None);
    }
}
