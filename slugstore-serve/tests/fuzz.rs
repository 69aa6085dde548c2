//! Random HTTP requests against the server: whatever the request line, headers, sizes and bytes, and
//! wherever the request is cut, the server answers a well-formed response or closes the connection,
//! promptly, never panics, and keeps serving.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use proptest::prelude::*;

/// How long one exchange may take (the request is complete or cut short when sent).
const DEADLINE: Duration = Duration::from_secs(5);

/// Panics on the server's threads (any thread but the test's own, whose failed checks are
/// proptest's to report and shrink) since the hook was installed.
static PANICS: AtomicUsize = AtomicUsize::new(0);
/// Answers seen with a success status and with a client error: the requests must reach both.
static SERVED: AtomicUsize = AtomicUsize::new(0);
static REFUSED: AtomicUsize = AtomicUsize::new(0);

fn method() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => Just(b"GET".to_vec()),
        1 => Just(b"POST".to_vec()),
        1 => Just(b"HEAD".to_vec()),
        1 => Just(b"get".to_vec()),
        1 => proptest::collection::vec(any::<u8>(), 0..12),
    ]
}

fn target() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"/".to_vec()),
        Just(b"/api/status".to_vec()),
        Just(b"/api/envs/staging/rollback".to_vec()),
        Just(b"/api/envs/x/deploys/y/log?offset=1".to_vec()),
        Just(b"http://127.0.0.1/api/status".to_vec()),
        Just(b"*".to_vec()),
        "/[ -~]{0,40}".prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 0..64),
        (1usize..40_000).prop_map(|n| format!("/{}", "a".repeat(n)).into_bytes()),
    ]
}

fn version() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => Just(b"HTTP/1.1".to_vec()),
        1 => Just(b"HTTP/1.0".to_vec()),
        1 => Just(b"HTTP/2.0".to_vec()),
        1 => Just(b"HTTP/1.1 extra".to_vec()),
        1 => Just(Vec::new()),
        1 => proptest::collection::vec(any::<u8>(), 0..10),
    ]
}

fn header(host: String) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(format!("Host: {host}").into_bytes()),
        Just(b"Host: evil.example".to_vec()),
        (0u64..200_000, any::<bool>()).prop_map(|(n, huge)| {
            let n = if huge { u64::MAX - n } else { n };
            format!("Content-Length: {n}").into_bytes()
        }),
        Just(b"Content-Length: -1".to_vec()),
        Just(b"Content-Length: 1, 2".to_vec()),
        Just(b"Transfer-Encoding: chunked".to_vec()),
        Just(b"Expect: 100-continue".to_vec()),
        Just(b"Authorization: Bearer wrong-token-0123456789".to_vec()),
        Just(b" folded continuation".to_vec()),
        Just(b"No-Colon".to_vec()),
        Just(b": no name".to_vec()),
        "[!-9;-~]{1,20}: [ -~]{0,60}".prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 0..80),
        (1usize..30_000).prop_map(|n| format!("X-Big: {}", "b".repeat(n)).into_bytes()),
    ]
}

/// One request: its bytes, and how many of them are sent. A quarter are well-formed requests of the
/// API's own shape, so that the routes are reached too, not only the reader's refusals.
fn request(host: String) -> impl Strategy<Value = (Vec<u8>, usize)> {
    prop_oneof![1 => clean(host.clone()), 3 => messy(host)]
}

/// A well-formed request with a proper `Host` and a few harmless headers, sent whole.
fn clean(host: String) -> impl Strategy<Value = (Vec<u8>, usize)> {
    (
        prop::sample::select(vec!["GET", "GET", "HEAD", "POST"]),
        prop::sample::select(vec![
            "/",
            "/api/status",
            "/app.js",
            "/api/envs/x/deploys/y",
            "/nope",
        ]),
        proptest::collection::vec("X-[A-Za-z]{1,10}: [ -~]{0,40}", 0..4),
    )
        .prop_map(move |(method, target, headers)| {
            let headers: String = headers.iter().map(|h| format!("{h}\r\n")).collect();
            let bytes =
                format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\n{headers}\r\n").into_bytes();
            let sent = bytes.len();
            (bytes, sent)
        })
}

/// Anything, in the rough shape of a request, cut anywhere.
fn messy(host: String) -> impl Strategy<Value = (Vec<u8>, usize)> {
    let line_end = prop_oneof![
        4 => Just(b"\r\n".to_vec()),
        1 => Just(b"\n".to_vec()),
        1 => Just(b"\r".to_vec())
    ];
    let good_host = format!("Host: {host}\r\n").into_bytes();
    (
        method(),
        target(),
        version(),
        prop::bool::weighted(0.7).prop_map(move |h| if h { good_host.clone() } else { Vec::new() }),
        proptest::collection::vec((header(host), line_end.clone()), 0..6),
        prop_oneof![4 => Just(1usize), 1 => 1usize..300],
        line_end,
        proptest::collection::vec(any::<u8>(), 0..300),
        any::<prop::sample::Index>(),
        prop::bool::weighted(0.8),
    )
        .prop_map(
            |(method, target, version, host, headers, repeat, end, body, cut, whole)| {
                let mut bytes = [method, b" ".to_vec(), target, b" ".to_vec(), version].concat();
                bytes.extend_from_slice(b"\r\n");
                bytes.extend_from_slice(&host);
                for (i, (h, e)) in headers.iter().enumerate() {
                    // Sometimes the last header many times over: counts beyond the limit.
                    let times = if i + 1 == headers.len() { repeat } else { 1 };
                    for _ in 0..times {
                        bytes.extend_from_slice(h);
                        bytes.extend_from_slice(e);
                    }
                }
                bytes.extend_from_slice(&end);
                bytes.extend_from_slice(&body);
                let sent = if whole {
                    bytes.len()
                } else {
                    cut.index(bytes.len() + 1)
                };
                (bytes, sent)
            },
        )
}

#[test]
fn any_request_gets_a_well_formed_answer_or_a_closed_connection_promptly() {
    let previous = std::panic::take_hook();
    let test_thread = std::thread::current().id();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().id() != test_thread {
            PANICS.fetch_add(1, Ordering::SeqCst);
        }
        previous(info);
    }));
    let server = common::start();
    let host = server.host();
    let config = ProptestConfig {
        cases: 300,
        failure_persistence: None,
        // Each step of shrinking is an exchange that may take the whole deadline.
        max_shrink_iters: 64,
        ..ProptestConfig::default()
    };
    proptest!(config, |((bytes, sent) in request(host))| {
        let mut s = server.connect(DEADLINE);
        let mut w = s.try_clone().unwrap();
        let to_send = bytes[..sent].to_vec();
        let writer = std::thread::spawn(move || {
            use std::io::Write;
            let _ = w.write_all(&to_send);
            // The end of what this client sends: the server sees the request end here.
            common::finish(&w);
        });
        let start = Instant::now();
        let answer = common::read_answer(&mut s, DEADLINE);
        drop(s);
        writer.join().unwrap();
        prop_assert!(
            answer.closed,
            "no end after {:?} for {:?}: {:?}",
            start.elapsed(),
            String::from_utf8_lossy(&bytes[..sent.min(300)]),
            answer.text()
        );
        if !answer.bytes.is_empty() {
            let (head, body) = answer.well_formed(bytes.starts_with(b"HEAD "));
            let counter = if head.starts_with("HTTP/1.1 2") { &SERVED } else { &REFUSED };
            counter.fetch_add(1, Ordering::SeqCst);
            prop_assert!(body.len() < 1024 * 1024);
        }
        prop_assert_eq!(PANICS.load(Ordering::SeqCst), 0);
    });
    assert!(SERVED.load(Ordering::SeqCst) > 0, "no request was served");
    assert!(REFUSED.load(Ordering::SeqCst) > 0, "no request was refused");
    // Still serving.
    assert_eq!(server.get("/api/status", DEADLINE).status(), Some(200));
}
