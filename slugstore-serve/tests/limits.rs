//! The status page under hostile or heavy use: each attack on the server's resources gets a prompt,
//! bounded answer, and the status document is served while event streams and slow clients hold
//! their slots. Every exchange has a deadline, so a server that would hang fails the test instead.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{finish, read_answer, read_head, start, Running};

/// How long a prompt answer may take on a loaded machine.
const PROMPT: Duration = Duration::from_secs(3);

#[test]
fn a_second_host_header_is_refused_whichever_comes_first() {
    let server = start();
    let good = server.host();
    for hosts in [
        [good.as_str(), "evil.example"],
        ["evil.example", good.as_str()],
    ] {
        let request = format!(
            "GET /api/status HTTP/1.1\r\nHost: {}\r\nHost: {}\r\n\r\n",
            hosts[0], hosts[1]
        );
        let answer = server.exchange(request.as_bytes(), PROMPT);
        let status = answer.status();
        assert!(
            matches!(status, Some(400 | 403)),
            "{hosts:?}: {}",
            answer.text()
        );
        assert!(!answer.text().contains("environments"), "{}", answer.text());
    }
    // One good Host is served.
    assert_eq!(server.get("/api/status", PROMPT).status(), Some(200));
}

#[test]
fn a_huge_content_length_with_a_tiny_body_is_answered_at_once() {
    let server = start();
    for method in ["POST /api/envs/staging/rollback", "GET /api/status"] {
        let mut s = server.connect(PROMPT);
        let start = Instant::now();
        write!(
            s,
            "{method} HTTP/1.1\r\nHost: {}\r\nContent-Length: 1000000000000\r\n\r\n{{}}",
            server.host()
        )
        .unwrap();
        // The client keeps its side open, as if the rest of the body were coming.
        let answer = read_answer(&mut s, PROMPT);
        assert!(
            answer.closed,
            "{method}: the connection was held for {PROMPT:?}: {}",
            answer.text()
        );
        assert_eq!(answer.status(), Some(413), "{method}: {}", answer.text());
        assert!(answer.text().contains("64 KiB"), "{}", answer.text());
        assert!(start.elapsed() < PROMPT);
    }
}

/// `GET /api/status` with `extra` header lines, and what came back.
fn status_with_headers(server: &Running, extra: &str) -> common::Answer {
    let request = format!(
        "GET /api/status HTTP/1.1\r\nHost: {}\r\n{extra}\r\n",
        server.host()
    );
    server.exchange(request.as_bytes(), Duration::from_secs(10))
}

#[test]
fn ten_thousand_headers_or_a_100_kb_header_line_are_refused() {
    let server = start();
    let many: String = (0..10_000)
        .map(|i| format!("X-Header-{i}: {i}\r\n"))
        .collect();
    let answer = status_with_headers(&server, &many);
    assert_eq!(answer.status(), Some(431), "{}", answer.text());
    assert!(answer.text().contains("headers"), "{}", answer.text());

    let long = format!("X-Long: {}\r\n", "a".repeat(100 * 1024));
    let answer = status_with_headers(&server, &long);
    assert_eq!(answer.status(), Some(431), "{}", answer.text());

    let target = format!("/api/status?{}", "a".repeat(100 * 1024));
    let answer = server.get(&target, Duration::from_secs(10));
    assert_eq!(answer.status(), Some(414), "{}", answer.text());

    // Many headers within the limits are fine.
    let some: String = (0..50).map(|i| format!("X-Header-{i}: {i}\r\n")).collect();
    assert_eq!(status_with_headers(&server, &some).status(), Some(200));
}

#[test]
fn a_request_trickling_in_is_cut_at_the_request_deadline() {
    let server = start();
    let mut s = server.connect(Duration::from_secs(20));
    let mut w = s.try_clone().unwrap();
    let start = Instant::now();
    // One byte of header every 200 ms, for longer than any deadline: each read makes progress, so only
    // a deadline on the whole request ends it.
    let host = server.host();
    let writer = std::thread::spawn(move || {
        let _ = write!(w, "GET /api/status HTTP/1.1\r\nHost: {host}\r\nX-Slow: ");
        while start.elapsed() < Duration::from_secs(20) {
            if w.write_all(b"a").is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    let answer = read_answer(&mut s, Duration::from_secs(16));
    let took = start.elapsed();
    assert!(answer.closed, "still open after {took:?}");
    assert!(took < Duration::from_secs(14), "cut after {took:?}");
    assert_eq!(answer.status(), Some(408), "{}", answer.text());
    drop(s);
    writer.join().unwrap();
}

/// Opens an event stream: its status code, and the connection (to hold it open).
fn open_stream(server: &Running) -> (Option<u16>, TcpStream) {
    let mut s = server.connect(PROMPT);
    write!(
        s,
        "GET /api/events HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n\r\n",
        server.host()
    )
    .unwrap();
    (read_head(&mut s, PROMPT), s)
}

/// The default number of event streams served at once.
const STREAMS: usize = 32;

#[test]
fn event_streams_beyond_the_cap_get_503_and_a_closed_one_frees_its_slot() {
    let server = start();
    let mut open: Vec<TcpStream> = (0..STREAMS)
        .map(|i| {
            let (status, s) = open_stream(&server);
            assert_eq!(status, Some(200), "stream {i}");
            s
        })
        .collect();
    let (status, mut s) = open_stream(&server);
    assert_eq!(status, Some(503), "one stream over the cap");
    let rest = read_answer(&mut s, PROMPT);
    assert!(
        rest.closed && rest.text().contains("event streams"),
        "{}",
        rest.text()
    );

    // A stream whose client left frees its slot promptly.
    drop(open.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (status, s) = open_stream(&server);
        if status == Some(200) {
            open.push(s);
            break;
        }
        assert_eq!(status, Some(503));
        assert!(
            Instant::now() < deadline,
            "the slot of a closed stream was never freed"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_status_is_served_while_streams_and_slow_clients_hold_their_slots() {
    let server = start();
    // 100 event streams: the first ones are served, the others refused at once, none dropped. The
    // refused clients keep their connections open too, as if they had not read the answer.
    let (mut streams, mut refused) = (Vec::new(), Vec::new());
    for _ in 0..100 {
        let (status, s) = open_stream(&server);
        match status {
            Some(200) => streams.push(s),
            Some(503) => refused.push(s),
            other => panic!("an event stream got {other:?}"),
        }
    }
    // 20 clients holding half a request each.
    let slow: Vec<TcpStream> = (0..20)
        .map(|_| {
            let mut s = server.connect(PROMPT);
            write!(s, "GET /api/status HTTP/1.1\r\nHost: ").unwrap();
            s
        })
        .collect();

    // 40 status requests at once: every one answered, all within the deadline.
    let start = Instant::now();
    let deadline = Duration::from_secs(8);
    let addr = server.addr;
    let host = server.host();
    let workers: Vec<_> = (0..40)
        .map(|_| {
            let host = host.clone();
            std::thread::spawn(move || {
                let mut s = TcpStream::connect_timeout(&addr, deadline).ok()?;
                s.set_write_timeout(Some(deadline)).unwrap();
                // A connection closed on the client counts as a request not answered.
                write!(s, "GET /api/status HTTP/1.1\r\nHost: {host}\r\n\r\n").ok()?;
                finish(&s);
                read_answer(&mut s, deadline).status()
            })
        })
        .collect();
    let statuses: Vec<Option<u16>> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    let answered = statuses.iter().filter(|s| **s == Some(200)).count();
    assert_eq!(answered, 40, "{statuses:?}");
    assert!(start.elapsed() < deadline, "took {:?}", start.elapsed());
    assert_eq!(streams.len(), STREAMS);
    assert_eq!(refused.len(), 100 - STREAMS);
    drop((streams, refused, slow));
}
