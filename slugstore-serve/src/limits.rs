//! What one client may hold of the server, and for how long.
//!
//! Every connection costs a thread, so the number of threads is the resource to protect: a client that
//! opens connections and sends half a request (slowloris), or opens event streams by the hundred, must
//! not leave the operators without an answer. Three things bound it:
//!
//! - **Two pools of slots.** Requests being read or answered take a *connection* slot; an event stream
//!   gives its connection slot back and takes a *stream* slot for as long as it is open. Streams can
//!   therefore never take the slots that `GET /api/status` needs, however many browsers watch.
//! - **A deadline per request**, not per read: a client sending one byte a second makes progress at every
//!   read, so only a deadline on the whole request (head and body) frees its slot in bounded time.
//! - **Sizes checked while reading**: the request line, each header line, the whole head, the number
//!   of headers and the body have ceilings, refused with the status that names them (414, 431, 413)
//!   before more is read.
//!
//! When a pool is full the client is told so (503 with `Retry-After`) rather than dropped: a browser
//! retries, an operator's script sees why.

use std::time::Duration;

/// The longest request line (method, path and query, version).
pub const MAX_REQUEST_LINE: usize = 8 * 1024;
/// The longest header line.
pub const MAX_HEADER_LINE: usize = 8 * 1024;
/// The largest request head (request line and headers together).
pub const MAX_HEAD: usize = 32 * 1024;
/// The most header lines in a request.
pub const MAX_HEADERS: usize = 64;
/// The largest request body (actions take a few fields of JSON).
pub const MAX_BODY: u64 = 64 * 1024;
/// How long an answer, or one event of a stream, may take to be written whole: a client that stops
/// reading (or reads a byte at a time) is cut off then.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a closing connection is drained of what the client still sends, so that closing does
/// not reset the connection before the client has read the answer.
pub const LINGER: Duration = Duration::from_secs(1);
/// The most bytes drained from a closing connection.
pub const MAX_LINGER_BYTES: u64 = 1024 * 1024;
/// Connections turned away at once (each answered 503 on a short-lived thread); beyond them a new
/// connection is closed without an answer.
pub const REFUSALS: usize = 16;

/// How many clients are served at once, and how long a request may take to arrive.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Connections being read or answered at once (event streams not counted); more get 503.
    pub connections: usize,
    /// Event streams open at once; more get 503.
    pub streams: usize,
    /// How long a client has to send a whole request (head and body); then 408.
    pub request_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            connections: 64,
            streams: 32,
            request_timeout: Duration::from_secs(10),
        }
    }
}
