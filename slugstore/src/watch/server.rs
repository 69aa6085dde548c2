//! The watcher process: a journal of the tree, answering snapshots on a Unix socket.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::journal::Journal;
use super::protocol::{socket_addr, Request};
use crate::error::{Error, IoResultExt, Result};
use crate::scan;

/// What to watch.
#[derive(Debug, Clone, Default, Serialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct WatchOptions {
    /// Extra paths (relative to the tree) to leave unwatched, besides the mounts. A snapshot uses the
    /// journal only if it leaves these out too (`slug snapshot --exclude`).
    #[cfg_attr(feature = "clap", arg(long = "exclude", value_name = "PATH"))]
    pub excludes: Vec<String>,
}

/// A watcher's state, reported once it watches the whole tree and again when it stops.
#[derive(Debug, Clone, Serialize)]
pub struct WatchStatus {
    /// The tree watched (canonical path).
    pub tree: String,
    /// Directories watched.
    pub dirs: u64,
    /// Paths left unwatched.
    pub unwatched: Vec<String>,
    /// The watcher's process id.
    pub pid: u32,
    /// Seconds it took to set up the watches (when ready), or that it ran (when stopped).
    pub seconds: f64,
    /// Requests answered.
    pub answered: u64,
    /// Times the journal started over (queue overflow, a directory moved).
    pub restarts: u64,
}

/// How long a connected client may take to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Watches `tree` until asked to stop ([`super::stop`]): journals its changes and answers snapshots.
/// Calls `ready` once every directory is watched. Fails if another watcher runs for the tree.
pub fn serve(
    tree: &Path,
    opts: &WatchOptions,
    ready: &mut dyn FnMut(&WatchStatus),
) -> Result<WatchStatus> {
    let started = Instant::now();
    let root = tree.canonicalize().at(tree)?;
    if !root.is_dir() {
        return Err(Error::NotADirectory(root.to_path_buf()));
    }
    let excludes = scan::Excludes::from_paths(&opts.excludes)?;
    let listener = match UnixListener::bind_addr(&socket_addr(&root)?) {
        Ok(l) => l,
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            return Err(Error::WatcherRunning(root))
        }
        Err(e) => return Err(Error::io(&root, e)),
    };
    listener.set_nonblocking(true).at(&root)?;
    let mut journal = Journal::start(&root, excludes.clone())?;
    let mut status = WatchStatus {
        tree: root.display().to_string(),
        dirs: journal.dirs(),
        unwatched: excludes.list(),
        pid: std::process::id(),
        seconds: started.elapsed().as_secs_f64(),
        answered: 0,
        restarts: 0,
    };
    ready(&status);
    loop {
        let mut fds = [
            libc::pollfd {
                fd: journal.fd().as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: listener.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: `fds` is a valid array of two pollfd for the duration of the call.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(Error::io(&root, e));
        }
        if fds[0].revents != 0 {
            journal.drain()?;
        }
        if fds[1].revents == 0 {
            continue;
        }
        let conn = match listener.accept() {
            Ok((conn, _)) => conn,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(Error::io(&root, e)),
        };
        // A client that misbehaves (or gave up waiting) costs it its answer, never the watcher.
        match answer(conn, &mut journal) {
            Ok(stop) => {
                status.answered += 1;
                if stop {
                    break;
                }
            }
            Err(_) => continue,
        }
    }
    status.dirs = journal.dirs();
    status.restarts = journal.restarts;
    status.seconds = started.elapsed().as_secs_f64();
    Ok(status)
}

/// Reads one request, brings the journal up to date and answers. True when asked to stop.
fn answer(mut conn: UnixStream, journal: &mut Journal) -> Result<bool> {
    let at = Error::WatcherClient;
    conn.set_nonblocking(false).map_err(at)?;
    conn.set_read_timeout(Some(REQUEST_TIMEOUT)).map_err(at)?;
    let mut line = Vec::new();
    (&mut conn).take(256).read_to_end(&mut line).map_err(at)?;
    let request = Request::decode(&line)?;
    let reply = match request {
        Request::Stop => {
            let mut a = journal.answer(None);
            a.stopped = true;
            a
        }
        Request::Since(since) => {
            // Every change that completed before this request is queued by now: read them all.
            journal.drain()?;
            journal.answer(since)
        }
    };
    conn.write_all(&reply.encode()).map_err(at)?;
    Ok(reply.stopped)
}
