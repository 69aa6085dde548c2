//! The event stream (`GET /api/events`): the status document, pushed whenever it changes.
//!
//! Server-Sent Events need no library on either side: the browser's `EventSource` reconnects by
//! itself after a network hiccup or a server restart, and the server writes `event:`/`data:` lines to
//! a response that never ends, flushing after each event. `X-Accel-Buffering: no` asks a reverse
//! proxy in front (nginx) not to hold events back.
//!
//! A stream holds one of the few stream slots (see [`crate::limits`]), so a closed browser tab must
//! give it back soon: every second without news the stream checks whether the client closed its side,
//! and a comment line goes out when nothing changed for a while, so a client whose connection was
//! reset is noticed too (the write fails). Each event must be written within [`WRITE_TIMEOUT`]: a client that
//! stopped reading loses its stream.

use std::io::{self, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::limits::WRITE_TIMEOUT;
use crate::timed::Timed;
use crate::Shared;

/// How long the stream stays silent before a keep-alive comment.
const KEEPALIVE: Duration = Duration::from_secs(15);

/// How often a quiet stream checks that its client is still there.
const CHECK: Duration = Duration::from_secs(1);

const HEAD: &str = "HTTP/1.1 200 OK\r\n\
                    Content-Type: text/event-stream; charset=utf-8\r\n\
                    Cache-Control: no-store\r\n\
                    X-Content-Type-Options: nosniff\r\n\
                    X-Accel-Buffering: no\r\n\
                    Connection: close\r\n\r\n\
                    retry: 1000\n\n";

/// Streams status events on `conn` until the client goes away.
pub fn stream(shared: &Shared, conn: &TcpStream) {
    let mut watcher = shared.feed.watch();
    if send(conn, HEAD.as_bytes()).is_err() {
        return;
    }
    let mut quiet = Duration::ZERO;
    loop {
        let sent = match watcher.next(CHECK) {
            Some(doc) => {
                quiet = Duration::ZERO;
                send(conn, event("status", &doc).as_bytes())
            }
            None if closed(conn) => return,
            None => {
                quiet += CHECK;
                if quiet < KEEPALIVE {
                    continue;
                }
                quiet = Duration::ZERO;
                send(conn, b": keep-alive\n\n")
            }
        };
        if sent.is_err() {
            return;
        }
    }
}

/// True when the client closed its side (or the connection failed), without waiting: what it sent
/// meanwhile is read and ignored (a stream takes no input).
fn closed(conn: &TcpStream) -> bool {
    if conn.set_nonblocking(true).is_err() {
        return true;
    }
    let mut buf = [0u8; 512];
    let closed = match (&mut &*conn).read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != ErrorKind::WouldBlock,
    };
    closed || conn.set_nonblocking(false).is_err()
}

/// One event; `data` must be a single line (serialized JSON is).
fn event(name: &str, data: &str) -> String {
    debug_assert!(!data.contains('\n'));
    format!("event: {name}\ndata: {data}\n\n")
}

/// Writes `bytes` whole within [`WRITE_TIMEOUT`]: a client that stops reading loses its stream.
fn send(conn: &TcpStream, bytes: &[u8]) -> io::Result<()> {
    Timed::new(conn, WRITE_TIMEOUT).write_all(bytes)
}
