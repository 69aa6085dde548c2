//! The event stream (`GET /api/events`): the status document, pushed whenever it changes.
//!
//! Server-Sent Events need no library on either side: the browser's `EventSource` reconnects by
//! itself after a network hiccup or a server restart, and the server writes `event:`/`data:` lines to
//! a response that never ends. `tiny_http` would buffer a streamed body in chunks, so the stream takes
//! the raw connection and writes the response head itself, flushing after each event. A comment line
//! goes out when nothing changed for a while, so a closed browser tab is noticed (the write fails) and
//! its thread ends. `X-Accel-Buffering: no` asks a reverse proxy in front (nginx) not to hold events back.

use std::io::{self, Write};
use std::time::Duration;

use crate::Shared;

/// How long the stream stays silent before a keep-alive comment.
const KEEPALIVE: Duration = Duration::from_secs(15);

/// Streams status events on `request`'s connection until the client goes away.
pub fn stream(shared: &Shared, request: tiny_http::Request) {
    let mut watcher = shared.feed.watch();
    let mut out = request.into_writer();
    let head = "HTTP/1.1 200 OK\r\n\
                Content-Type: text/event-stream; charset=utf-8\r\n\
                Cache-Control: no-store\r\n\
                X-Content-Type-Options: nosniff\r\n\
                X-Accel-Buffering: no\r\n\
                Connection: close\r\n\r\n\
                retry: 1000\n\n";
    if send(&mut out, head.as_bytes()).is_err() {
        return;
    }
    loop {
        let sent = match watcher.next(KEEPALIVE) {
            Some(doc) => send(&mut out, event("status", &doc).as_bytes()),
            None => send(&mut out, b": keep-alive\n\n"),
        };
        if sent.is_err() {
            return;
        }
    }
}

/// One event; `data` must be a single line (serialized JSON is).
fn event(name: &str, data: &str) -> String {
    debug_assert!(!data.contains('\n'));
    format!("event: {name}\ndata: {data}\n\n")
}

fn send(out: &mut dyn Write, bytes: &[u8]) -> io::Result<()> {
    out.write_all(bytes)?;
    out.flush()
}
