//! A connection with a deadline for a whole exchange, not for each system call.
//!
//! A socket's own timeouts bound one read or one write: a client sending (or reading) one byte every
//! few seconds never trips them, and would hold its thread for as long as it likes. [`Timed`] sets the
//! socket's timeout to the time left before each call, so the whole request, answer or event ends by
//! its deadline.

use std::io::{self, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Reads and writes on `conn` until `deadline`; past it every call fails with `TimedOut`.
pub struct Timed<'a> {
    conn: &'a TcpStream,
    deadline: Instant,
}

impl Timed<'_> {
    /// `conn` with `within` from now to do what it has to.
    pub fn new(conn: &TcpStream, within: Duration) -> Timed<'_> {
        Timed {
            conn,
            deadline: Instant::now() + within,
        }
    }

    /// The time left, or `TimedOut`.
    fn left(&self) -> io::Result<Duration> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            Err(ErrorKind::TimedOut.into())
        } else {
            Ok(left)
        }
    }
}

impl Read for Timed<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.conn.set_read_timeout(Some(self.left()?))?;
        (&mut &*self.conn).read(buf)
    }
}

impl Write for Timed<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.conn.set_write_timeout(Some(self.left()?))?;
        (&mut &*self.conn).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;
    use std::thread;

    use super::*;

    /// A connected pair of sockets on loopback.
    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (server, client)
    }

    #[test]
    fn a_client_that_does_not_read_fails_the_write_at_the_deadline() {
        let (server, _client) = pair();
        let start = Instant::now();
        // Far more than the socket buffers hold: the write blocks once they are full.
        let big = vec![0u8; 64 << 20];
        let e = Timed::new(&server, Duration::from_millis(300))
            .write_all(&big)
            .unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock),
            "{e}"
        );
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn a_client_sending_a_byte_at_a_time_is_cut_at_the_deadline_of_the_whole() {
        let (server, mut client) = pair();
        let dripping = thread::spawn(move || {
            while client.write_all(b"a").is_ok() {
                thread::sleep(Duration::from_millis(50));
            }
        });
        let start = Instant::now();
        let mut sink = Vec::new();
        let e = Timed::new(&server, Duration::from_millis(500))
            .read_to_end(&mut sink)
            .unwrap_err();
        let took = start.elapsed();
        assert!(
            matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock),
            "{e}"
        );
        assert!(!sink.is_empty(), "the bytes came");
        assert!(took < Duration::from_secs(3), "{took:?}");
        drop(server);
        dripping.join().unwrap();
    }
}
