//! A running `slug serve` on a free loopback port, and an HTTP client for it: the fixture of the status
//! page's tests (API, event stream, browser).

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use crate::project::Shop;

/// The token the fixture's servers are started with.
pub const TOKEN: &str = "test-token-0123456789abcdef";

/// A `slug serve` process; killed when dropped.
pub struct Served {
    child: Child,
    /// The page's URL (`http://127.0.0.1:PORT/`).
    pub url: String,
    agent: ureq::Agent,
    // Held open: the server must never find its stdout closed.
    _stdout: BufReader<ChildStdout>,
}

/// An HTTP response, read whole.
#[derive(Debug)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The body as text.
    pub body: String,
    headers: Vec<(String, String)>,
}

impl Reply {
    /// The value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

impl Served {
    /// Starts `slug --store STORE serve --listen 127.0.0.1:0 ARGS` with [`TOKEN`] and a fast poll, and
    /// waits for it to print its URL.
    pub fn start(shop: &Shop, args: &[&str]) -> Served {
        let mut child = Command::new(shop.bin())
            .arg("--store")
            .arg(shop.store())
            .args(["serve", "--listen", "127.0.0.1:0", "--poll-ms", "50"])
            .args(args)
            .env("SLUG_SERVE_TOKEN", TOKEN)
            .current_dir(&shop.root)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting slug serve");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        stdout
            .read_line(&mut line)
            .expect("reading slug serve's output");
        let line = line.trim_end();
        let url = line
            .strip_prefix("serving ")
            .unwrap_or_else(|| panic!("slug serve printed `{line}`, not `serving URL`"))
            .to_owned();
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        Served {
            child,
            url,
            agent,
            _stdout: stdout,
        }
    }

    /// `GET path` (relative to the page's URL, without the leading `/`).
    pub fn get(&self, path: &str) -> Reply {
        let r = self
            .agent
            .get(format!("{}{path}", self.url))
            .call()
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        read(r)
    }

    /// `POST path` with a JSON `body` and, when given, `Authorization: Bearer TOKEN`.
    pub fn post(&self, path: &str, token: Option<&str>, body: &str) -> Reply {
        let mut req = self
            .agent
            .post(format!("{}{path}", self.url))
            .header("Content-Type", "application/json");
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        read(
            req.send(body)
                .unwrap_or_else(|e| panic!("POST {path}: {e}")),
        )
    }

    /// Opens the event stream (`/api/events`); each call of [`Events::next_status`] gives the next
    /// status document pushed.
    pub fn events(&self) -> Events {
        let r = self
            .agent
            .get(format!("{}api/events", self.url))
            .call()
            .expect("GET api/events");
        assert_eq!(r.status().as_u16(), 200);
        Events {
            lines: BufReader::new(Box::new(r.into_body().into_reader())),
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An open event stream.
pub struct Events {
    lines: BufReader<Box<dyn std::io::Read + Send + Sync + 'static>>,
}

impl Events {
    /// The data of the next `status` event, parsed (keep-alive comments are skipped).
    pub fn next_status(&mut self) -> serde_json::Value {
        let mut event = String::new();
        loop {
            let mut line = String::new();
            let n = self.lines.read_line(&mut line).expect("reading the stream");
            assert!(n > 0, "the event stream ended");
            let line = line.trim_end_matches('\n');
            if let Some(name) = line.strip_prefix("event: ") {
                event = name.to_owned();
            } else if let Some(data) = line.strip_prefix("data: ") {
                if event == "status" {
                    return serde_json::from_str(data).expect("status events carry JSON");
                }
            }
        }
    }
}

fn read(r: ureq::http::Response<ureq::Body>) -> Reply {
    let status = r.status().as_u16();
    let headers = r
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let body = r
        .into_body()
        .read_to_string()
        .expect("reading the response body");
    Reply {
        status,
        body,
        headers,
    }
}
