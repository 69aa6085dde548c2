//! The front of the server: accepting connections within the limits, one thread each, and closing
//! them so that the answer arrives.
//!
//! Each connection carries one request (every answer says `Connection: close`). The accept loop takes
//! a connection slot before it starts a thread; without one, a short-lived thread answers 503, itself
//! from a small pool of its own, so a flood of connections costs a bounded number of threads. The
//! request is read against a deadline for the whole of it (see [`crate::limits`]). An event stream
//! swaps its connection slot for a stream slot, so streams and requests never compete.
//!
//! A connection answered before its request was read whole (refused at the door, or for its size,
//! shape or slowness) is closed by *lingering*: after the answer the server shuts its sending side and
//! reads what the client still sends until the client closes, for a second at most. Closing a socket
//! with unread input resets the connection, and a client receiving the reset may throw away the answer
//! it had not read yet: a refused request would look like a dropped one. A request read whole needs
//! none of that, and its connection is closed at once, so its slot is free at once.

use std::io::{self, BufReader, Read};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use crate::limits::{LINGER, MAX_LINGER_BYTES, REFUSALS, WRITE_TIMEOUT};
use crate::reply::{ApiError, Reply};
use crate::request::{self, Failure};
use crate::routes::{self, Handled};
use crate::slots::{Slot, Slots};
use crate::timed::Timed;
use crate::{sse, Shared};

/// How long the accept loop rests after a failed accept (out of file descriptors, say), so that it
/// does not spin while the condition lasts.
const ACCEPT_PAUSE: Duration = Duration::from_millis(50);

/// Accepts connections on `listener` and serves them, until the process ends.
pub fn serve(listener: &TcpListener, shared: &Arc<Shared>) {
    let limits = &shared.opts.limits;
    let connections = Slots::new(limits.connections.max(1));
    let streams = Slots::new(limits.streams);
    let refusals = Slots::new(REFUSALS);
    for accepted in listener.incoming() {
        let conn = match accepted {
            Ok(conn) => conn,
            Err(_) => {
                thread::sleep(ACCEPT_PAUSE);
                continue;
            }
        };
        let Some(slot) = connections.take() else {
            let message = format!(
                "the server is answering its limit of {} connections; try again",
                connections.max()
            );
            refuse(conn, &refusals, message);
            continue;
        };
        let (shared, streams) = (Arc::clone(shared), Arc::clone(&streams));
        // Without a thread the connection is closed with the closure that held it.
        let _ = thread::Builder::new()
            .name("slug-serve".into())
            .spawn(move || handle(&shared, conn, slot, &streams));
    }
}

/// Answers 503 with `message` on a thread of the refusal pool; closes `conn` when that pool is full.
fn refuse(conn: TcpStream, refusals: &Arc<Slots>, message: String) {
    let Some(slot) = refusals.take() else {
        return;
    };
    let _ = thread::Builder::new()
        .name("slug-serve-refusal".into())
        .spawn(move || {
            let _slot = slot;
            answer(&conn, &ApiError::new(503, message).reply(), Close::Linger);
        });
}

/// Reads the request on `conn` and answers it, or streams events.
fn handle(shared: &Shared, conn: TcpStream, slot: Slot, streams: &Arc<Slots>) {
    let _ = conn.set_nodelay(true);
    let within = shared.opts.limits.request_timeout;
    let read = request::read(
        &mut BufReader::new(Timed::new(&conn, within)),
        &mut Timed::new(&conn, WRITE_TIMEOUT),
    );
    let request = match read {
        Ok(request) => request,
        Err(Failure::Refused(e)) => return answer(&conn, &e.reply(), Close::Linger),
        Err(Failure::Gone) => return,
    };
    match routes::handle(shared, &request) {
        Handled::Reply(reply) if request.method == "HEAD" => answer(&conn, &reply, Close::HeadOnly),
        Handled::Reply(reply) => {
            answer(&conn, &reply, Close::Now);
            // Interrupted while this action ran a hook: the action wound down and answered; the
            // server now ends of the signal, as it would have at once without a hook running.
            slugstore::process::exit_if_interrupted();
        }
        Handled::Stream => match streams.take() {
            Some(stream_slot) => {
                drop(slot);
                sse::stream(shared, &conn);
                drop(stream_slot);
            }
            None => {
                let message = format!(
                    "the server is serving its limit of {} event streams; the page retries by itself",
                    streams.max()
                );
                answer(&conn, &ApiError::new(503, message).reply(), Close::Now);
            }
        },
    }
}

/// How a connection ends after its answer.
#[derive(Clone, Copy, PartialEq)]
enum Close {
    /// The request was read whole: close at once.
    Now,
    /// The same, the answer without its body (to `HEAD`).
    HeadOnly,
    /// The client may still be sending: linger (see the module doc).
    Linger,
}

/// Sends `reply` (within [`WRITE_TIMEOUT`]) and closes `conn` as `close` says. The client may be
/// gone: there is no one to tell.
fn answer(conn: &TcpStream, reply: &Reply, close: Close) {
    let mut out = Timed::new(conn, WRITE_TIMEOUT);
    if reply.write_to(&mut out, close == Close::HeadOnly).is_err() {
        return;
    }
    let _ = conn.shutdown(Shutdown::Write);
    if close == Close::Linger {
        let mut rest = Timed::new(conn, LINGER).take(MAX_LINGER_BYTES);
        let _ = io::copy(&mut rest, &mut io::sink());
    }
}
