//! Change journal: a watcher process that tells a snapshot which paths of a tree changed, so that a
//! re-snapshot does not stat every file.
//!
//! Why: with the stat cache a re-snapshot reads only the files that changed, but it still lists every
//! directory and stats every file to find them. On a Magento build tree (91k files, 38k directories)
//! that walk is most of a re-snapshot, nearly all of it system calls, and no ordering or batching of
//! them makes it much cheaper. Git meets the same wall in large repositories and answers it the same
//! way: a file-system monitor (`core.fsmonitor`, Watchman) that journals what changed.
//!
//! `slug watch DIR` ([`serve`]) holds an inotify watch on each directory of the tree (the mounts left
//! out) and numbers every change it is told of. A snapshot records, with its slug, the [`Token`] it got
//! from the watcher *before* it read the tree; the next snapshot of that tree asks for the paths changed
//! since that token ([`ask`]) and builds its manifest from the recorded slug's manifest, stat-ing and
//! reading only those paths.
//!
//! Why that is sound: inotify queues an event in the very system call that changes a file, so every
//! change that completed before a snapshot asked is in the watcher's queue when the watcher drains it to
//! answer; and since the token is taken before the tree is read, whatever changes while a snapshot reads
//! is reported to the next one. Whenever the journal cannot vouch for the tree it starts over under a
//! new epoch, and the next snapshot walks the whole tree as without a watcher: the kernel's queue
//! overflowed, a directory was moved (the watches below it would name the wrong paths), the watcher was
//! restarted. A snapshot also walks when the watcher leaves out a path the snapshot does not, or when it
//! does not answer within [`ANSWER_TIMEOUT`].
//!
//! Not seen by inotify, so not by the journal: writes through a shared memory mapping, and writes to a
//! file through another of its hard links (inotify names the path written through: a second name of the
//! same file, in the tree or outside it, is not reported). Build tools do neither; a tree written that
//! way should be snapshotted without a watcher (or with `--no-cache`, which ignores it). The stat cache of
//! a walk does see both (the file's times change under every name).

mod journal;
mod protocol;
mod server;

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use crate::error::{Error, IoResultExt, Result};

pub use protocol::{Answer, Request, Token};
pub use server::{serve, WatchOptions, WatchStatus};

/// How long a snapshot waits for a watcher's answer before walking the tree itself (a watcher still
/// setting up its watches on a large tree answers once it is done).
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(20);

/// Asks the watcher of `root` (a canonical path) `request`. `Ok(None)` when no watcher runs for it.
///
/// The watcher is found by a name derived from the tree's path and the user id, in the abstract socket
/// namespace (nothing on disk to clean up after a killed watcher). Its answer is trusted only when the
/// process that holds the name runs as the same user (or root): another user could otherwise pose as
/// the watcher and hide changes from a snapshot.
pub fn ask(root: &Path, request: &Request) -> Result<Option<Answer>> {
    let addr = protocol::socket_addr(root)?;
    let mut conn = match UnixStream::connect_addr(&addr) {
        Ok(c) => c,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::NotFound
            ) =>
        {
            return Ok(None)
        }
        Err(e) => return Err(Error::io(root, e)),
    };
    check_peer(&conn, root)?;
    let at = |e| Error::io(root, e);
    conn.set_read_timeout(Some(ANSWER_TIMEOUT)).map_err(at)?;
    conn.write_all(&request.encode()).map_err(at)?;
    conn.shutdown(std::net::Shutdown::Write).map_err(at)?;
    let mut bytes = Vec::new();
    conn.read_to_end(&mut bytes)
        .map_err(|source| Error::WatcherUnreachable {
            root: root.to_path_buf(),
            source,
        })?;
    Answer::decode(&bytes).map(Some)
}

/// Refuses an answer from a process of another user.
fn check_peer(conn: &UnixStream, root: &Path) -> Result<()> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` is a valid `ucred` and `len` its size, as SO_PEERCRED expects.
    let rc = unsafe {
        libc::getsockopt(
            conn.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(Error::io(root, std::io::Error::last_os_error()));
    }
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if cred.uid != me && cred.uid != 0 {
        return Err(Error::WatcherForeign {
            root: root.to_path_buf(),
            uid: cred.uid,
        });
    }
    Ok(())
}

/// Asks the watcher of `dir` to stop. False when none runs.
pub fn stop(dir: &Path) -> Result<bool> {
    let root = dir.canonicalize().at(dir)?;
    Ok(ask(&root, &Request::Stop)?.is_some())
}

/// The state of the watcher of `dir`, if one runs.
pub fn status(dir: &Path) -> Result<Option<Answer>> {
    let root = dir.canonicalize().at(dir)?;
    ask(&root, &Request::Since(None))
}
