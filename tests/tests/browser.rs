//! The browser harness itself: a page that changes after a delay, seen changing by a real headless
//! Chromium; a screenshot; and failures that say what failed.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use slugstore_tests::browser::Browser;

/// Changes its status text 300 ms after the page has loaded.
const PAGE: &str = r#"<!doctype html>
<html>
<head><meta charset="utf-8"><title>harness check</title></head>
<body>
<h1 id="status">loading</h1>
<script>
  setTimeout(() => { document.getElementById("status").textContent = "ready"; }, 300);
</script>
</body>
</html>
"#;

/// Serves `page` at `/` (and 404 elsewhere) on a loopback port from background threads, one request
/// per connection; returns the page's URL. The server lives as long as the test process.
fn serve(page: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("cannot bind the test page's port");
    let url = format!(
        "http://{}/",
        listener
            .local_addr()
            .expect("no address for the test page's port")
    );
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            // A thread per connection: Chromium may open a connection and send nothing on it.
            std::thread::spawn(move || respond(stream, page));
        }
    });
    url
}

/// Answers the one request on `stream`.
fn respond(mut stream: TcpStream, page: &str) {
    let mut reader = BufReader::new(&stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    // Read up to the blank line that ends the headers; GET requests have no body.
    let mut header = String::new();
    while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
        header.clear();
    }
    let (status, body) = if request_line.starts_with("GET / ") {
        ("200 OK", page)
    } else {
        ("404 Not Found", "not found\n")
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes());
}

#[test]
fn sees_a_page_change_and_takes_a_screenshot() {
    let url = serve(PAGE);
    let started = Instant::now();
    let browser = Browser::start();
    let startup = started.elapsed();

    browser.goto(&url);
    assert_eq!(browser.title(), "harness check");
    // `goto` returns at the load event, well before the 300 ms timer fires.
    let text = "return document.getElementById('status').textContent";
    assert_eq!(browser.execute(text, Value::Null), "loading");
    assert_eq!(
        browser.execute("return arguments[0] + arguments[1]", json!([2, 3])),
        5
    );

    let changed = browser.wait_for(
        "the status text to change to 'ready'",
        Duration::from_secs(10),
        "const t = document.getElementById('status').textContent; return t === 'ready' ? t : null",
    );
    assert_eq!(changed, "ready");

    let png = browser.screenshot_png();
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "the screenshot is not a PNG: {:?}",
        &png[..png.len().min(16)]
    );
    assert!(
        png.len() > 1000,
        "the screenshot has only {} bytes",
        png.len()
    );
    eprintln!(
        "browser started in {startup:?}, test done in {:?}",
        started.elapsed()
    );
}

#[test]
fn failures_say_what_failed() {
    let url = serve(PAGE);
    let browser = Browser::start();
    browser.goto(&url);

    let thrown = panic_message(|| {
        browser.execute("throw new Error('boom')", Value::Null);
    });
    assert!(
        thrown.contains("javascript error") && thrown.contains("boom"),
        "{thrown}"
    );
    // The page's own error needs no browser log to be understood.
    assert!(!thrown.contains("chromedriver's log"), "{thrown}");

    let timed_out = panic_message(|| {
        browser.wait_for("a miracle", Duration::from_millis(300), "return false");
    });
    assert!(
        timed_out.contains("waiting for a miracle") && timed_out.contains("returned false"),
        "{timed_out}"
    );

    // The session survives both.
    assert_eq!(browser.execute("return 1 + 1", Value::Null), 2);
}

/// The message `f` panics with; fails the test if it returns.
fn panic_message(f: impl FnOnce()) -> String {
    let payload = catch_unwind(AssertUnwindSafe(f)).expect_err("expected a panic");
    if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else if let Some(message) = payload.downcast_ref::<&str>() {
        (*message).to_string()
    } else {
        panic!("a panic without a message")
    }
}
