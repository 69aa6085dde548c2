//! A loopback S3 endpoint that refuses every upload slowly: it lists an empty bucket, answers
//! 404 to every read, and answers every PUT with `403 AccessDenied` after a delay, like a store
//! whose credentials cannot write, or a proxy in front of one, answering late under load.
//!
//! It understands just enough HTTP/1.1 for an S3 client (keep-alive, `Content-Length` and chunked
//! bodies). Nothing in it waits for ever: connections time out after 30 s without a byte, and
//! dropping the [`RefusingS3`] stops the listener.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// How long a connection may stay silent before the server closes it.
const IDLE: Duration = Duration::from_secs(30);

/// The running endpoint; stopped on drop.
pub struct RefusingS3 {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// PUT requests answered so far.
    pub puts: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    listener: Option<JoinHandle<()>>,
}

impl RefusingS3 {
    /// Starts an endpoint on a free loopback port whose PUTs are refused after `delay`.
    pub fn start(delay: Duration) -> RefusingS3 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let puts = Arc::new(AtomicUsize::new(0));
        let (stopping, counted) = (Arc::clone(&stop), Arc::clone(&puts));
        let handle = thread::spawn(move || {
            while !stopping.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let counted = Arc::clone(&counted);
                        thread::spawn(move || serve(conn, delay, &counted));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        RefusingS3 {
            endpoint,
            puts,
            stop,
            listener: Some(handle),
        }
    }
}

impl Drop for RefusingS3 {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.listener.take() {
            let _ = h.join();
        }
    }
}

/// Answers the requests of one connection until it closes, goes idle or sends what this server
/// does not understand.
fn serve(conn: TcpStream, delay: Duration, puts: &AtomicUsize) {
    let _ = conn.set_nonblocking(false);
    let _ = conn.set_read_timeout(Some(IDLE));
    let _ = conn.set_write_timeout(Some(IDLE));
    let Ok(mut out) = conn.try_clone() else {
        return;
    };
    let mut input = BufReader::new(conn);
    while let Some((method, path)) = read_request(&mut input) {
        let (status, body) = match method.as_str() {
            "PUT" => {
                puts.fetch_add(1, Ordering::SeqCst);
                thread::sleep(delay);
                (
                    "403 Forbidden",
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessDenied</Code>\
                     <Message>Access Denied</Message></Error>"
                        .to_string(),
                )
            }
            "GET" if path.contains("list-type=2") => ("200 OK", empty_listing()),
            _ => ("404 Not Found", not_found()),
        };
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\r\n",
            if method == "HEAD" { 0 } else { body.len() }
        );
        let sent = out.write_all(head.as_bytes()).and_then(|()| {
            if method == "HEAD" {
                Ok(())
            } else {
                out.write_all(body.as_bytes())
            }
        });
        if sent.is_err() {
            return;
        }
    }
}

fn empty_listing() -> String {
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult \
     xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>bucket</Name><KeyCount>0</KeyCount>\
     <MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>"
        .to_string()
}

fn not_found() -> String {
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchKey</Code>\
     <Message>The specified key does not exist.</Message></Error>"
        .to_string()
}

/// Reads one request (its body discarded); `None` at the end of the connection or on anything
/// unexpected.
fn read_request(input: &mut BufReader<TcpStream>) -> Option<(String, String)> {
    let mut line = String::new();
    if input.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_string(), parts.next()?.to_string());
    let (mut length, mut chunked) = (0u64, false);
    loop {
        let mut header = String::new();
        if input.read_line(&mut header).ok()? == 0 {
            return None;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = value.parse().ok()?;
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.eq_ignore_ascii_case("chunked");
        }
    }
    if chunked {
        loop {
            let mut size = String::new();
            input.read_line(&mut size).ok()?;
            let size = u64::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            // The chunk and its CRLF (the last chunk: no data, then the final CRLF).
            skip(input, size + 2)?;
            if size == 0 {
                break;
            }
        }
    } else {
        skip(input, length)?;
    }
    Some((method, path))
}

fn skip(input: &mut BufReader<TcpStream>, n: u64) -> Option<()> {
    let copied = std::io::copy(&mut input.by_ref().take(n), &mut std::io::sink()).ok()?;
    (copied == n).then_some(())
}
