//! A status-page server on a free loopback port over an empty store, and a raw HTTP client whose
//! every read and write has a deadline: the tests speak bytes, so they can send what no HTTP library
//! would (duplicate headers, huge lengths, half a request) and never wait forever for the answer.

#![allow(dead_code)] // each test file uses its own part of the helpers

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use slugstore_serve::{ServeOptions, Server, Token};

/// A server running on a thread of its own (for the rest of the test process), with its store.
pub struct Running {
    pub addr: SocketAddr,
    _store: tempfile::TempDir,
}

impl Running {
    /// `Host: ...` as a browser would send it for this server.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.addr.port())
    }

    /// A connection with read and write deadlines of `timeout`.
    pub fn connect(&self, timeout: Duration) -> TcpStream {
        let s = TcpStream::connect_timeout(&self.addr, timeout).expect("connecting to the server");
        s.set_read_timeout(Some(timeout)).unwrap();
        s.set_write_timeout(Some(timeout)).unwrap();
        s
    }

    /// Sends `request` whole on a new connection and reads the answer, within `within`.
    pub fn exchange(&self, request: &[u8], within: Duration) -> Answer {
        let mut s = self.connect(within);
        // Written beside the reading: the server may answer before it has read everything (and a
        // request larger than the socket buffers would block a writer that nobody reads).
        let mut w = s.try_clone().unwrap();
        let request = request.to_vec();
        let writer = std::thread::spawn(move || {
            let _ = w.write_all(&request);
        });
        let answer = read_answer(&mut s, within);
        drop(s);
        writer.join().unwrap();
        answer
    }

    /// `GET path` with a proper `Host`, within `within`.
    pub fn get(&self, path: &str, within: Duration) -> Answer {
        let request = format!("GET {path} HTTP/1.1\r\nHost: {}\r\n\r\n", self.host());
        self.exchange(request.as_bytes(), within)
    }
}

/// Starts a server with `opts` (its `listen` is replaced by 127.0.0.1:0).
pub fn start_with(mut opts: ServeOptions) -> Running {
    let store = tempfile::tempdir().unwrap();
    std::fs::write(store.path().join("slugstore.json"), "{}").unwrap();
    opts.listen = "127.0.0.1:0".parse().unwrap();
    let server = Server::bind(store.path(), opts).expect("binding a free port");
    let addr = server.addr();
    std::thread::spawn(move || server.run());
    Running {
        addr,
        _store: store,
    }
}

/// Starts a server with the default options.
pub fn start() -> Running {
    start_with(options())
}

/// The default options, with a fixed token.
pub fn options() -> ServeOptions {
    ServeOptions::new(Token::parse("test-token-0123456789abcdef", "test").unwrap())
}

/// What came back on a connection.
#[derive(Debug)]
pub struct Answer {
    /// Everything read until the server closed (or the deadline, see `complete`).
    pub bytes: Vec<u8>,
    /// True when the server closed the connection (end of file or reset) before the deadline.
    pub closed: bool,
}

impl Answer {
    /// The status code of the answer's status line, if one came.
    pub fn status(&self) -> Option<u16> {
        let text = String::from_utf8_lossy(&self.bytes);
        let line = text.lines().next()?;
        let mut words = line.split(' ');
        matches!(words.next()?, "HTTP/1.1" | "HTTP/1.0").then_some(())?;
        words.next()?.parse().ok()
    }

    /// The answer as text, for messages.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    /// The head and body, when the answer is a well-formed HTTP/1.1 response with a `Content-Length`
    /// that the body matches, or no body at all when it may answer `HEAD` (panics naming what is
    /// wrong otherwise).
    pub fn well_formed(&self, to_head: bool) -> (String, Vec<u8>) {
        let end = self
            .bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("no end of head in {:?}", self.text()));
        let head = std::str::from_utf8(&self.bytes[..end])
            .unwrap_or_else(|_| panic!("a head that is not text: {:?}", self.text()))
            .to_owned();
        let body = self.bytes[end + 4..].to_vec();
        let mut lines = head.split("\r\n");
        let status = lines.next().unwrap();
        assert!(
            self.status().is_some_and(|s| (100..600).contains(&s)),
            "status line `{status}`"
        );
        let mut length = None;
        for line in lines {
            let (name, value) = line
                .split_once(": ")
                .unwrap_or_else(|| panic!("header line `{line}` in {head}"));
            assert!(
                !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && b != b':'),
                "header name `{name}`"
            );
            if name.eq_ignore_ascii_case("content-length") {
                length = Some(value.parse::<usize>().expect("a numeric Content-Length"));
            }
        }
        let length = length.unwrap_or_else(|| panic!("no Content-Length in {head}"));
        if !(to_head && body.is_empty()) {
            assert_eq!(length, body.len(), "Content-Length and body in {head}");
        }
        (head, body)
    }
}

/// Reads until the server closes the connection or `within` has passed.
pub fn read_answer(s: &mut TcpStream, within: Duration) -> Answer {
    let deadline = Instant::now() + within;
    let mut bytes = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Answer {
                bytes,
                closed: false,
            };
        }
        s.set_read_timeout(Some(left)).unwrap();
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            // Reset: the server closed with input unread; what was read before counts.
            Err(_) => break,
        }
    }
    Answer {
        bytes,
        closed: true,
    }
}

/// Reads the head of an answer that stays open (an event stream), within `within`: the status code,
/// or `None` when the connection closed or nothing came in time.
pub fn read_head(s: &mut TcpStream, within: Duration) -> Option<u16> {
    let deadline = Instant::now() + within;
    let mut bytes = Vec::new();
    let mut byte = [0u8; 1];
    while !bytes.ends_with(b"\r\n\r\n") {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        s.set_read_timeout(Some(left)).unwrap();
        match s.read(&mut byte) {
            Ok(0) => return None,
            Ok(_) => bytes.push(byte[0]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return None,
        }
    }
    Answer {
        bytes,
        closed: false,
    }
    .status()
}

/// Closes the sending side, so the server sees the end of the request.
pub fn finish(s: &TcpStream) {
    let _ = s.shutdown(Shutdown::Write);
}
