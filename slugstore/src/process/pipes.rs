//! Reading a program's stdout and stderr as they come, without waiting on what it leaves behind.
//!
//! A script that starts a process in the background (`php bin/magento cache:warm &`) hands that
//! process its stdout. Reading until the pipes close would wait until the background process ends, or
//! for ever for a daemon, long after the script itself exited. [`pump`] polls both pipes and the
//! program together: once the program has exited, output is still read for a short drain time (what
//! the program printed last, what its background processes print at once), then the pipes are let go.

use std::fs::File;
use std::io::{self, ErrorKind, Read};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

use super::POLL;

/// Which of a program's output streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Out,
    /// Standard error.
    Err,
}

/// A program's output pipes, taken from its [`Child`].
pub struct Pipes {
    pipes: Vec<Pipe>,
}

struct Pipe {
    stream: Stream,
    file: File,
    fd: RawFd,
    open: bool,
    readable: bool,
}

impl Pipes {
    /// Takes `child`'s stdout and stderr pipes (those it was given).
    pub fn of(child: &mut Child) -> Pipes {
        let out = child.stdout.take().map(|p| (Stream::Out, OwnedFd::from(p)));
        let err = child.stderr.take().map(|p| (Stream::Err, OwnedFd::from(p)));
        let pipes = out
            .into_iter()
            .chain(err)
            .map(|(stream, fd)| Pipe {
                stream,
                fd: fd.as_raw_fd(),
                file: File::from(fd),
                open: true,
                readable: false,
            })
            .collect();
        Pipes { pipes }
    }

    fn any_open(&self) -> bool {
        self.pipes.iter().any(|p| p.open)
    }

    /// Waits at most `timeout` for an open pipe to have data (or be closed), and marks those that do.
    fn wait_readable(&mut self, timeout: Duration) -> io::Result<()> {
        let mut fds: Vec<libc::pollfd> = self
            .pipes
            .iter()
            .filter(|p| p.open)
            .map(|p| libc::pollfd {
                fd: p.fd,
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
        // SAFETY: `fds` is a valid array of `fds.len()` pollfd structs for the duration of the call.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == ErrorKind::Interrupted {
                Ok(())
            } else {
                Err(e)
            };
        }
        for p in self.pipes.iter_mut().filter(|p| p.open) {
            let polled = fds.iter().find(|f| f.fd == p.fd).expect("polled");
            // Data, or the writer gone (POLLHUP), or an error: a read tells which.
            p.readable = polled.revents != 0;
        }
        Ok(())
    }
}

/// How pumping ended.
#[derive(Debug, Clone, Copy)]
pub struct Pumped {
    /// The program's status, when it exited while its output was read (`None`: the pipes closed
    /// first; the caller waits for it).
    pub status: Option<ExitStatus>,
    /// True when a pipe was still open at the end of the drain: something the program left running
    /// holds it, and what it prints from then on is not read.
    pub left_open: bool,
}

/// Reads `pipes` as they come, handing each chunk to `sink`, until both are closed, or until `drain`
/// after `exited` first returns the program's status. `exited` is asked every [`POLL`] at least (it
/// may enforce a deadline, see [`Supervised::poll`](super::Supervised::poll)); `io_error` turns a
/// failed read into the caller's error.
pub fn pump<E>(
    mut pipes: Pipes,
    drain: Duration,
    mut exited: impl FnMut() -> Result<Option<ExitStatus>, E>,
    mut sink: impl FnMut(Stream, &[u8]) -> Result<(), E>,
    io_error: impl Fn(io::Error) -> E,
) -> Result<Pumped, E> {
    let mut status: Option<(ExitStatus, Instant)> = None;
    let mut buf = vec![0u8; 16 * 1024];
    let mut left_open = false;
    while pipes.any_open() {
        if status.is_some_and(|(_, at)| at.elapsed() >= drain) {
            left_open = true;
            break;
        }
        pipes.wait_readable(POLL).map_err(&io_error)?;
        for p in pipes.pipes.iter_mut() {
            if !std::mem::take(&mut p.readable) {
                continue;
            }
            match p.file.read(&mut buf) {
                Ok(0) => p.open = false,
                Ok(n) => sink(p.stream, &buf[..n])?,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(io_error(e)),
            }
        }
        if status.is_none() {
            if let Some(s) = exited()? {
                status = Some((s, Instant::now()));
            }
        }
    }
    Ok(Pumped {
        status: status.map(|(s, _)| s),
        left_open,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    fn pumped(script: &str, drain: Duration) -> (Pumped, Vec<u8>, Vec<u8>, Duration) {
        let mut child = Command::new("sh")
            .args(["-c", script])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pipes = Pipes::of(&mut child);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let t = Instant::now();
        let r = pump(
            pipes,
            drain,
            || child.try_wait(),
            |s, b| {
                match s {
                    Stream::Out => out.extend_from_slice(b),
                    Stream::Err => err.extend_from_slice(b),
                }
                Ok(())
            },
            |e| e,
        )
        .unwrap();
        let took = t.elapsed();
        if r.status.is_none() {
            child.wait().unwrap();
        }
        (r, out, err, took)
    }

    #[test]
    fn both_streams_are_read_whole_until_they_close() {
        let (r, out, err, _) = pumped(
            "head -c 300000 /dev/zero; echo done >&2",
            Duration::from_secs(5),
        );
        assert!(!r.left_open);
        assert_eq!(out.len(), 300_000);
        assert_eq!(err, b"done\n");
    }

    #[test]
    fn a_background_process_holding_the_pipes_is_let_go_after_the_drain() {
        let (r, out, _, took) = pumped(
            "echo first; (sleep 0.1; echo late) & sleep 30 & exit 3",
            Duration::from_millis(500),
        );
        assert!(took < Duration::from_secs(10), "{took:?}");
        assert!(r.left_open);
        assert_eq!(r.status.and_then(|s| s.code()), Some(3));
        assert_eq!(
            out, b"first\nlate\n",
            "output given during the drain is kept"
        );
    }
}
