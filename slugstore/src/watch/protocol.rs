//! What a snapshot and a watcher say to each other, over a Unix socket: one request, one answer.
//!
//! Request: one line, `since EPOCH SEQ`, `now`, or `stop`.
//! Answer: one line `KIND EPOCH SEQ DIRS UNWATCHED CHANGED` (`KIND` is `changes` or `rescan`), then the
//! unwatched paths and then the changed paths, each ended by a NUL byte (a path never holds one). A
//! watcher that stops answers `stopped`.

use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::SocketAddr;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::slug::manifest::is_clean_name;

/// A point in a watcher's journal: the epoch names one run of the journal (a new one after a restart,
/// an overflow or a moved directory), the sequence number counts the changes within it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    /// The journal's run.
    pub epoch: u64,
    /// Changes journaled so far in that run.
    pub seq: u64,
}

/// A request to a watcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// The paths changed since a token (`None`: only the current token).
    Since(Option<Token>),
    /// Stop watching and exit.
    Stop,
}

/// A watcher's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The journal's position when it answered: the token to ask with next time.
    pub token: Token,
    /// Paths (relative to the tree) changed since the token asked about, sorted; `None` when the
    /// journal cannot tell (another epoch, or no token asked about): the tree must be walked.
    pub changed: Option<Vec<Vec<u8>>>,
    /// Paths the watcher does not watch (the mounts, and what it was told to leave out), sorted.
    pub unwatched: Vec<Vec<u8>>,
    /// Directories watched.
    pub dirs: u64,
    /// Set in the answer to [`Request::Stop`].
    pub stopped: bool,
}

impl Request {
    /// The request line.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Request::Since(Some(t)) => format!("since {} {}\n", t.epoch, t.seq),
            Request::Since(None) => "now\n".to_string(),
            Request::Stop => "stop\n".to_string(),
        }
        .into_bytes()
    }

    /// Parses a request line.
    pub fn decode(line: &[u8]) -> Result<Request> {
        let text = std::str::from_utf8(line).map_err(|_| bad("request is not text"))?;
        let words: Vec<&str> = text.split_whitespace().collect();
        match words.as_slice() {
            ["now"] => Ok(Request::Since(None)),
            ["stop"] => Ok(Request::Stop),
            ["since", epoch, seq] => Ok(Request::Since(Some(Token {
                epoch: number(epoch)?,
                seq: number(seq)?,
            }))),
            _ => Err(bad(format!("unknown request `{}`", text.trim()))),
        }
    }
}

impl Answer {
    /// The answer's bytes.
    pub fn encode(&self) -> Vec<u8> {
        if self.stopped {
            return b"stopped\n".to_vec();
        }
        let changed = self.changed.as_deref().unwrap_or(&[]);
        let kind = if self.changed.is_some() {
            "changes"
        } else {
            "rescan"
        };
        let mut out = format!(
            "{kind} {} {} {} {} {}\n",
            self.token.epoch,
            self.token.seq,
            self.dirs,
            self.unwatched.len(),
            changed.len()
        )
        .into_bytes();
        for p in self.unwatched.iter().chain(changed) {
            out.extend_from_slice(p);
            out.push(0);
        }
        out
    }

    /// Parses an answer, refusing anything malformed (the paths it names are stat-ed and read).
    pub fn decode(bytes: &[u8]) -> Result<Answer> {
        let nl = bytes
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| bad("answer has no header line"))?;
        let head =
            std::str::from_utf8(&bytes[..nl]).map_err(|_| bad("answer header is not text"))?;
        if head == "stopped" {
            return Ok(Answer {
                token: Token { epoch: 0, seq: 0 },
                changed: None,
                unwatched: Vec::new(),
                dirs: 0,
                stopped: true,
            });
        }
        let words: Vec<&str> = head.split(' ').collect();
        let [kind, epoch, seq, dirs, unwatched, changed] = words.as_slice() else {
            return Err(bad(format!("bad answer header `{head}`")));
        };
        let (unwatched, changed) = (number(unwatched)? as usize, number(changed)? as usize);
        let mut paths = bytes[nl + 1..].split(|&b| b == 0);
        let mut take = |n: usize| -> Result<Vec<Vec<u8>>> {
            (0..n)
                .map(|_| match paths.next() {
                    Some(p) if is_rel(p) => Ok(p.to_vec()),
                    Some(p) => Err(bad(format!("bad path `{}`", p.escape_ascii()))),
                    None => Err(bad("answer is truncated")),
                })
                .collect()
        };
        let unwatched = take(unwatched)?;
        let changed = take(changed)?;
        if paths.next() != Some(&[][..]) || paths.next().is_some() {
            return Err(bad("answer has trailing bytes"));
        }
        let changed = match *kind {
            "changes" => Some(changed),
            "rescan" if changed.is_empty() => None,
            _ => return Err(bad(format!("bad answer kind `{kind}`"))),
        };
        Ok(Answer {
            token: Token {
                epoch: number(epoch)?,
                seq: number(seq)?,
            },
            changed,
            unwatched,
            dirs: number(dirs)?,
            stopped: false,
        })
    }
}

/// A relative path of clean components (as a manifest's): what a journal may name.
fn is_rel(p: &[u8]) -> bool {
    p.split(|&b| b == b'/').all(is_clean_name)
}

fn number(s: &str) -> Result<u64> {
    s.parse().map_err(|_| bad(format!("`{s}` is not a number")))
}

fn bad(detail: impl Into<String>) -> Error {
    Error::format("watcher answer", detail)
}

/// The socket name of the watcher of `root` (canonical): per user and per tree, in the abstract
/// namespace.
pub fn socket_addr(root: &Path) -> Result<SocketAddr> {
    let tree = blake3::hash(root.as_os_str().as_bytes());
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    let name = format!("slugstore-watch/{uid}/{}", &tree.to_hex()[..32]);
    SocketAddr::from_abstract_name(name.as_bytes()).map_err(|e| Error::io(root, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_answers_round_trip() {
        for r in [
            Request::Since(None),
            Request::Stop,
            Request::Since(Some(Token { epoch: 7, seq: 42 })),
        ] {
            assert_eq!(Request::decode(&r.encode()).unwrap(), r);
        }
        let a = Answer {
            token: Token { epoch: 9, seq: 3 },
            changed: Some(vec![b"a/b".to_vec(), b"c\n\xff".to_vec()]),
            unwatched: vec![b"var".to_vec()],
            dirs: 12,
            stopped: false,
        };
        assert_eq!(Answer::decode(&a.encode()).unwrap(), a);
        let rescan = Answer { changed: None, ..a };
        assert_eq!(Answer::decode(&rescan.encode()).unwrap(), rescan);
    }

    #[test]
    fn malformed_answers_are_refused() {
        let good = b"changes 1 2 3 0 1\na/b\0".to_vec();
        assert!(Answer::decode(&good).is_ok());
        for bad in [
            &b"changes 1 2 3 0 2\na/b\0"[..],
            b"changes 1 2 3 0 1\n../etc\0",
            b"changes 1 2 3 0 1\n/abs\0",
            b"changes 1 2 3 0 1\na/b\0extra",
            b"changes 1 2 3 0 1\na/b",
            b"rescan 1 2 3 0 1\na\0",
            b"maybe 1 2 3 0 0\n",
            b"changes 1 2\n",
        ] {
            assert!(Answer::decode(bad).is_err(), "{}", bad.escape_ascii());
        }
        assert!(Request::decode(b"since 1\n").is_err());
    }
}
