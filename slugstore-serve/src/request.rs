//! Reading one HTTP/1.1 request from a client that may be hostile.
//!
//! The API is narrow (a few GET paths, two POSTs with a small JSON body), so the reader accepts exactly
//! that shape of request and refuses the rest by name, before reading more than it must:
//!
//! - sizes are checked line by line as the bytes come ([`crate::limits`]): a 100 KB header line is
//!   refused after 8 KiB, ten thousand headers after 64;
//! - headers that decide what the request means (`Host`, `Content-Length`, `Authorization`) must
//!   appear once: with two `Host` values one check could read the first and another part the second,
//!   so a request carrying two is refused whatever they are;
//! - a body is read only up to its `Content-Length`, itself at most 64 KiB, and never as chunks;
//! - line folding and control characters are refused, bare `\n` line ends are accepted.
//!
//! The reader works on any [`BufRead`]: the connection's deadline lives in the reader it is given, so
//! the parser itself never waits.

use std::io::{self, BufRead, ErrorKind, Read, Write};

use crate::limits::{MAX_BODY, MAX_HEAD, MAX_HEADERS, MAX_HEADER_LINE, MAX_REQUEST_LINE};
use crate::reply::ApiError;

/// A request read whole.
#[derive(Debug)]
pub struct Request {
    /// The method, as sent (`GET`, `POST`, ...).
    pub method: String,
    /// The request target: path and query.
    pub target: String,
    /// The headers in order, values trimmed.
    pub headers: Vec<(String, String)>,
    /// The body (at most [`MAX_BODY`] bytes).
    pub body: Vec<u8>,
}

impl Request {
    /// The value of header `name` (case-insensitive); the headers that matter appear once at most.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Why no request came.
#[derive(Debug)]
pub enum Failure {
    /// The request is refused: answer this error, then close.
    Refused(ApiError),
    /// The client sent nothing, or is gone: there is no one to answer.
    Gone,
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Failure {
        Failure::Refused(e)
    }
}

/// Headers that must not appear twice.
const SINGLE: [&str; 3] = ["host", "content-length", "authorization"];

/// Reads a request from `input`. `interim` receives `100 Continue` when the client asks for it
/// before sending its body.
pub fn read(input: &mut impl BufRead, interim: &mut impl Write) -> Result<Request, Failure> {
    let line = read_line(input, MAX_REQUEST_LINE, 0)?.ok_or(Failure::Gone)?;
    let mut head_size = line.len();
    let (method, target) = request_line(&line)?;
    let mut headers: Vec<(String, String)> = Vec::new();
    loop {
        let line = read_line(input, MAX_HEADER_LINE, head_size)?
            .ok_or_else(|| ApiError::bad_request("the request ended inside its head"))?;
        head_size += line.len();
        if head_size > MAX_HEAD {
            return Err(too_large(format!("request head over {} KiB", MAX_HEAD / 1024)).into());
        }
        if line.is_empty() {
            break;
        }
        if headers.len() == MAX_HEADERS {
            return Err(too_large(format!("more than {MAX_HEADERS} headers")).into());
        }
        let (name, value) = header_line(&line)?;
        if SINGLE.contains(&name.to_ascii_lowercase().as_str())
            && headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(&name))
        {
            return Err(ApiError::bad_request(format!("more than one {name} header")).into());
        }
        headers.push((name, value));
    }
    let mut request = Request {
        method,
        target,
        headers,
        body: Vec::new(),
    };
    if request.header("Transfer-Encoding").is_some() {
        return Err(ApiError::new(
            411,
            "Transfer-Encoding is not accepted: send the body with a Content-Length",
        )
        .into());
    }
    let length = content_length(request.header("Content-Length"))?;
    if length > 0 {
        if request
            .header("Expect")
            .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
        {
            interim
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .and_then(|()| interim.flush())
                .map_err(|_| Failure::Gone)?;
        }
        request.body = read_body(input, length)?;
    }
    Ok(request)
}

/// One line without its end (`\r\n` or `\n`), at most `max` bytes; `None` at the end of the input
/// before any byte. `before` is how much of the head came before it (none: the request line).
fn read_line(
    input: &mut impl BufRead,
    max: usize,
    before: usize,
) -> Result<Option<Vec<u8>>, Failure> {
    let over = || {
        let kib = max / 1024;
        if before == 0 {
            ApiError::new(414, format!("request line over {kib} KiB"))
        } else {
            too_large(format!("a header line over {kib} KiB"))
        }
    };
    let mut line = Vec::new();
    // Room for the line end, and one byte more to tell a line of `max` bytes from a longer one.
    let limit = max as u64 + 3;
    match input.by_ref().take(limit).read_until(b'\n', &mut line) {
        Ok(0) => return Ok(None),
        Ok(_) => {}
        Err(e) => return Err(io_failure(e)),
    }
    if line.last() != Some(&b'\n') {
        if line.len() as u64 == limit {
            return Err(over().into());
        }
        return Err(ApiError::bad_request("the request ended inside its head").into());
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    if line.len() > max {
        return Err(over().into());
    }
    Ok(Some(line))
}

/// `METHOD TARGET HTTP/1.x` → method and target.
fn request_line(line: &[u8]) -> Result<(String, String), ApiError> {
    let bad = || {
        ApiError::bad_request(format!(
            "not an HTTP request line: `{}`",
            printable(&line[..line.len().min(80)])
        ))
    };
    let mut parts = line.split(|b| *b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    if method.is_empty() || !method.iter().all(|b| is_token(*b)) {
        return Err(bad());
    }
    if target.is_empty() || !target.iter().all(|b| b.is_ascii_graphic()) {
        return Err(bad());
    }
    match version {
        b"HTTP/1.1" | b"HTTP/1.0" => {}
        v if v.starts_with(b"HTTP/") => {
            return Err(ApiError::new(
                505,
                format!("{} is not served (HTTP/1.1 is)", printable(v)),
            ))
        }
        _ => return Err(bad()),
    }
    // Both are ASCII, checked above.
    Ok((
        String::from_utf8_lossy(method).into_owned(),
        String::from_utf8_lossy(target).into_owned(),
    ))
}

/// `Name: value` → name and trimmed value.
fn header_line(line: &[u8]) -> Result<(String, String), ApiError> {
    let bad = |why: &str| {
        ApiError::bad_request(format!(
            "{why}: `{}`",
            printable(&line[..line.len().min(80)])
        ))
    };
    if line.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
        return Err(bad("a folded header line (not accepted)"));
    }
    let colon = line
        .iter()
        .position(|b| *b == b':')
        .ok_or_else(|| bad("a header line without `:`"))?;
    let (name, value) = (&line[..colon], &line[colon + 1..]);
    if name.is_empty() || !name.iter().all(|b| is_token(*b)) {
        return Err(bad("not a header name"));
    }
    if value.iter().any(|b| b.is_ascii_control() && *b != b'\t') {
        return Err(bad("a control character in a header value"));
    }
    let value = value.trim_ascii();
    Ok((
        String::from_utf8_lossy(name).into_owned(),
        String::from_utf8_lossy(value).into_owned(),
    ))
}

/// The body length announced: digits only, at most [`MAX_BODY`].
fn content_length(value: Option<&str>) -> Result<u64, ApiError> {
    let Some(value) = value else { return Ok(0) };
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::bad_request(format!(
            "Content-Length `{}` is not a byte count",
            printable(&value.as_bytes()[..value.len().min(40)])
        )));
    }
    match value.parse::<u64>() {
        Ok(n) if n <= MAX_BODY => Ok(n),
        _ => Err(ApiError::new(
            413,
            format!(
                "request body over {} KiB (Content-Length: {})",
                MAX_BODY / 1024,
                &value[..value.len().min(40)]
            ),
        )),
    }
}

/// Exactly `length` bytes of body.
fn read_body(input: &mut impl BufRead, length: u64) -> Result<Vec<u8>, Failure> {
    let mut body = Vec::with_capacity(length as usize);
    input
        .by_ref()
        .take(length)
        .read_to_end(&mut body)
        .map_err(io_failure)?;
    if (body.len() as u64) < length {
        return Err(ApiError::bad_request(format!(
            "the request body ended after {} of {length} bytes",
            body.len()
        ))
        .into());
    }
    Ok(body)
}

/// A read that failed: past the deadline the client is told (408); otherwise it is gone.
fn io_failure(e: io::Error) -> Failure {
    match e.kind() {
        ErrorKind::TimedOut | ErrorKind::WouldBlock => {
            Failure::Refused(ApiError::new(408, "the request did not arrive in time"))
        }
        _ => Failure::Gone,
    }
}

/// A 431 with `message`.
fn too_large(message: String) -> ApiError {
    ApiError::new(431, message)
}

/// A token character (RFC 9110): what method and header names are made of.
fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// `bytes` for a message: printable ASCII kept, anything else escaped (a hostile request cannot
/// send terminal escapes through the server's answer or log).
fn printable(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> Result<Request, Failure> {
        read(&mut &bytes[..], &mut Vec::new())
    }

    fn refused(bytes: &[u8]) -> (u16, String) {
        match parse(bytes) {
            Err(Failure::Refused(e)) => (e.status, e.message),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_plain_request_and_one_with_a_body_are_read() {
        let r = parse(b"GET /api/status?x=1 HTTP/1.1\r\nHost:  127.0.0.1:7878 \r\n\r\n").unwrap();
        assert_eq!(
            (r.method.as_str(), r.target.as_str()),
            ("GET", "/api/status?x=1")
        );
        assert_eq!(r.header("host"), Some("127.0.0.1:7878"));
        let r =
            parse(b"POST /a HTTP/1.0\nContent-Length: 2\nExpect: 100-continue\n\n{}junk").unwrap();
        assert_eq!(r.body, b"{}");
        let mut interim = Vec::new();
        read(
            &mut &b"POST /a HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n{}"[..],
            &mut interim,
        )
        .unwrap();
        assert_eq!(interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    }

    #[test]
    fn each_malformed_or_oversized_part_is_refused_by_name() {
        let long_line = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(MAX_REQUEST_LINE));
        let long_header = format!(
            "GET / HTTP/1.1\r\nX: {}\r\n\r\n",
            "a".repeat(MAX_HEADER_LINE)
        );
        let many: String = (0..=MAX_HEADERS).map(|i| format!("X-{i}: 1\r\n")).collect();
        let many = format!("GET / HTTP/1.1\r\n{many}\r\n");
        let big: String = (0..40)
            .map(|i| format!("X-{i}: {}\r\n", "b".repeat(1000)))
            .collect();
        let big = format!("GET / HTTP/1.1\r\n{big}\r\n");
        for (request, status, needle) in [
            (long_line.as_bytes(), 414, "request line over 8 KiB"),
            (long_header.as_bytes(), 431, "header line over 8 KiB"),
            (many.as_bytes(), 431, "more than 64 headers"),
            (big.as_bytes(), 431, "request head over 32 KiB"),
            (
                b"GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n",
                400,
                "more than one host header",
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
                400,
                "more than one",
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 1000000000000\r\n\r\n{}",
                413,
                "over 64 KiB",
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
                400,
                "not a byte count",
            ),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                411,
                "Content-Length",
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\n{}",
                400,
                "ended after 2 of 9 bytes",
            ),
            (b"GET / HTTP/1.1\r\nX: a\r\n folded\r\n\r\n", 400, "folded"),
            (b"GET / HTTP/1.1\r\nNo colon\r\n\r\n", 400, "without `:`"),
            (b"GET / HTTP/1.1\r\nX: a\x1b[2Jb\r\n\r\n", 400, "a\\x1b[2Jb"),
            (b"GET / HTTP/2.0\r\n\r\n", 505, "HTTP/2.0 is not served"),
            (b"GET /\r\n\r\n", 400, "not an HTTP request line"),
            (
                b"GET / HTTP/1.1\r\nHost: a\r\n",
                400,
                "ended inside its head",
            ),
        ] {
            let (s, message) = refused(request);
            assert_eq!(s, status, "{message}");
            assert!(message.contains(needle), "{message}");
        }
        assert!(matches!(parse(b""), Err(Failure::Gone)));
    }
}
