//! A real browser for tests: Debian's headless Chromium, driven through chromedriver.
//!
//! The tests of `slug serve`'s status page check what an operator sees, and the page is built by
//! JavaScript from the server's event stream, so they run it in a real browser rather than parsing
//! HTML. chromedriver speaks the W3C WebDriver protocol, which is plain HTTP and JSON: start a
//! session, navigate, run a script, take a screenshot. That is a handful of requests, so this module
//! makes them itself with a small blocking HTTP client instead of pulling in an async WebDriver
//! crate and a runtime.
//!
//! [`Browser::start`] spawns chromedriver on a free loopback port with a fresh profile directory and
//! opens a session; dropping the [`Browser`] closes the session and kills chromedriver together with
//! every Chromium process it started (they share its process group), so a failing test leaks no
//! processes. Failures panic with what was being done and WebDriver's error and message; when
//! chromedriver or the browser does not start or stops answering, with the end of chromedriver's
//! log too, which includes the browser's own log.
//!
//! Chromium needs these flags on a build machine (a container, often as root, with no display, no
//! GPU and no Internet access):
//!
//! - `--headless=new`: there is no display; the "new" headless mode is the real browser, with the
//!   same rendering as a windowed one.
//! - `--no-sandbox`: Chromium refuses to run as root with its sandbox, and containers usually lack
//!   the user namespaces the sandbox needs.
//! - `--disable-gpu`: there is no GPU; render in software instead of probing for one.
//! - `--disable-dev-shm-usage`: `/dev/shm` is 64 MiB in a default Docker container, too small for
//!   the renderer's shared memory, which then crashes tabs; this puts it in `/tmp`. (Debian's
//!   `/usr/bin/chromium` wrapper means to add it when `/dev/shm` is small, but its check fails with
//!   a shell error on some machines, so it is passed explicitly.)
//! - `--disable-background-networking`, `--disable-component-update`, `--disable-sync`,
//!   `--disable-quic`, `--no-first-run`: Chromium otherwise contacts Google's services from its
//!   first seconds (component and variation updates, sync, first-run pages), and a build machine's
//!   closed network refuses or drops those connections; the tests only ever talk to servers on
//!   127.0.0.1. chromedriver passes some of these itself; they are listed here so the browser's
//!   behaviour does not depend on chromedriver's defaults.
//! - `--window-size=1280,1000`: a fixed viewport, so layouts and screenshots do not depend on a
//!   default.
//! - `--user-data-dir=<temporary directory>`: a profile of its own per browser, deleted afterwards,
//!   so tests running in parallel share no state and no profile lock.
//!
//! Both programs come from Debian (packages `chromium` and `chromium-driver`); the environment
//! variables `SLUG_TEST_CHROMIUM` and `SLUG_TEST_CHROMEDRIVER` point the tests at other builds. When
//! either is missing the tests fail, naming it: they do not pass without testing anything.

use std::fs::File;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};
use ureq::http::Response;
use ureq::Body;

/// Where Debian's `chromium` package installs the browser.
const DEFAULT_CHROMIUM: &str = "/usr/bin/chromium";
/// Where Debian's `chromium-driver` package installs chromedriver.
const DEFAULT_CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How to get both, for failure messages.
const INSTALL_HINT: &str = "run scripts/install-deps.sh (packages chromium, chromium-driver)";

/// How long chromedriver may take to answer `/status` with `ready`.
const DRIVER_START_TIMEOUT: Duration = Duration::from_secs(20);
/// An upper bound on any one WebDriver request. WebDriver's own timeouts (page load and script,
/// set at session start) are shorter, so this only ends requests to a chromedriver that hangs.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(90);
/// Page-load and script timeouts of the session: a test fails after this instead of waiting for
/// WebDriver's default of five minutes per page.
const SESSION_TIMEOUT_MS: u64 = 30_000;
/// Largest response read from chromedriver (a screenshot is a base64 string in a JSON body).
const MAX_RESPONSE_BYTES: u64 = 256 << 20;
/// How often [`Browser::wait_for`] re-runs its script.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// A headless Chromium session, driven through a chromedriver process this value owns.
///
/// Dropping it ends the session and kills chromedriver and the browser.
///
/// ```no_run
/// use std::time::Duration;
/// use slugstore_tests::browser::Browser;
///
/// let browser = Browser::start();
/// browser.goto("http://127.0.0.1:8080/");
/// let phase = browser.wait_for(
///     "the deploy to finish",
///     Duration::from_secs(10),
///     "return document.querySelector('.phase.done')?.textContent ?? null",
/// );
/// assert_eq!(phase, "done");
/// ```
pub struct Browser {
    http: ureq::Agent,
    /// The session's URL prefix, `http://127.0.0.1:PORT/session/ID`.
    session_url: String,
    /// Declared last so that it is dropped (killed) after the session is deleted.
    driver: Driver,
}

impl Browser {
    /// Starts chromedriver and opens a session in a new headless Chromium.
    ///
    /// Panics if Chromium or chromedriver is not installed, if chromedriver does not become ready
    /// within 20 seconds, or if the session cannot be created.
    pub fn start() -> Browser {
        let chromium = program("SLUG_TEST_CHROMIUM", DEFAULT_CHROMIUM, "Chromium");
        let chromedriver = program(
            "SLUG_TEST_CHROMEDRIVER",
            DEFAULT_CHROMEDRIVER,
            "chromedriver",
        );
        let http: ureq::Agent = ureq::Agent::config_builder()
            // WebDriver reports errors as 4xx/5xx responses with a JSON body worth reading.
            .http_status_as_error(false)
            // chromedriver is on loopback: never go through a proxy from the environment.
            .proxy(None)
            .timeout_global(Some(REQUEST_TIMEOUT))
            .build()
            .into();
        let mut driver = Driver::spawn(&chromedriver);
        driver.wait_ready(&http);

        let profile = driver.dir.path().join("profile");
        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "timeouts": {
                        "pageLoad": SESSION_TIMEOUT_MS,
                        "script": SESSION_TIMEOUT_MS,
                        "implicit": 0,
                    },
                    "goog:chromeOptions": {
                        "binary": chromium,
                        "args": [
                            "--headless=new",
                            "--no-sandbox",
                            "--disable-gpu",
                            "--disable-dev-shm-usage",
                            "--disable-quic",
                            "--no-first-run",
                            "--disable-background-networking",
                            "--disable-component-update",
                            "--disable-sync",
                            "--window-size=1280,1000",
                            format!("--user-data-dir={}", profile.display()),
                        ],
                    },
                },
            },
        });
        let url = format!("{}/session", driver.url);
        let response = http.post(&url).send_json(&capabilities);
        let session = match read_value(response) {
            Ok(value) => value,
            Err(e) => panic!(
                "cannot start Chromium ({}) through chromedriver: {e}\n{}",
                chromium.display(),
                driver.log_tail()
            ),
        };
        let id = session["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("chromedriver's new session has no sessionId: {session}"));
        Browser {
            session_url: format!("{url}/{id}"),
            http,
            driver,
        }
    }

    /// Navigates to `url` and waits for the page to load (its `load` event).
    pub fn goto(&self, url: &str) {
        self.post("/url", json!({ "url": url }));
    }

    /// Runs `script` as the body of a JavaScript function in the page and returns what it returns
    /// (so it needs a `return`), as JSON; DOM elements come back as WebDriver element references.
    ///
    /// `args` is a JSON array, seen by the script as `arguments[0]`, `arguments[1]`, …; `null`
    /// passes none. A script that throws fails the test with the JavaScript error.
    pub fn execute(&self, script: &str, args: Value) -> Value {
        let args = match args {
            Value::Null => json!([]),
            Value::Array(_) => args,
            other => panic!("Browser::execute: args must be a JSON array or null, not {other}"),
        };
        self.post("/execute/sync", json!({ "script": script, "args": args }))
    }

    /// Re-runs `script` (as [`Browser::execute`] does, without arguments) every 100 ms until it
    /// returns something other than `null` or `false`, and returns that.
    ///
    /// Panics after `timeout` naming `what` was awaited and the script's last result.
    pub fn wait_for(&self, what: &str, timeout: Duration, script: &str) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let value = self.execute(script, Value::Null);
            if !matches!(value, Value::Null | Value::Bool(false)) {
                return value;
            }
            if Instant::now() >= deadline {
                panic!("timed out after {timeout:?} waiting for {what}; the script last returned {value}");
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// The page's title.
    pub fn title(&self) -> String {
        match self.get("/title") {
            Value::String(title) => title,
            other => panic!("WebDriver title is not a string: {other}"),
        }
    }

    /// A PNG screenshot of the viewport.
    pub fn screenshot_png(&self) -> Vec<u8> {
        let Value::String(encoded) = self.get("/screenshot") else {
            panic!("WebDriver screenshot is not a base64 string");
        };
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .expect("WebDriver screenshot is not valid base64")
    }

    /// GET `{session}{path}`, returning the response's `value`.
    fn get(&self, path: &str) -> Value {
        let response = self.http.get(format!("{}{path}", self.session_url)).call();
        self.value("GET", path, response)
    }

    /// POST `body` to `{session}{path}`, returning the response's `value`.
    fn post(&self, path: &str, body: Value) -> Value {
        let response = self
            .http
            .post(format!("{}{path}", self.session_url))
            .send_json(&body);
        self.value("POST", path, response)
    }

    /// The `value` of a command's response, or a panic naming the command and what went wrong
    /// (with the end of chromedriver's log unless the page's JavaScript threw).
    fn value(
        &self,
        method: &str,
        path: &str,
        response: Result<Response<Body>, ureq::Error>,
    ) -> Value {
        match read_value(response) {
            Ok(value) => value,
            Err(e) if e.show_log => panic!(
                "WebDriver {method} {path} failed: {e}\n{}",
                self.driver.log_tail()
            ),
            Err(e) => panic!("WebDriver {method} {path} failed: {e}"),
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Best effort, and quick: quitting the browser this way lets it shut down cleanly; whatever
        // is left is killed with chromedriver's process group when `driver` is dropped.
        let _ = self
            .http
            .delete(&self.session_url)
            .config()
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .call();
    }
}

/// A chromedriver process on a loopback port, in a process group of its own.
struct Driver {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    url: String,
    /// chromedriver's log and the browser's profile; removed after both have exited.
    dir: tempfile::TempDir,
}

impl Driver {
    fn spawn(chromedriver: &Path) -> Driver {
        let dir = tempfile::Builder::new()
            .prefix("slug-browser-")
            .tempdir()
            .expect("cannot create a temporary directory for the browser");
        let port = free_port();
        let log = File::create(dir.path().join("chromedriver.log"))
            .expect("cannot create chromedriver.log in the browser's temporary directory");
        let log_err = log
            .try_clone()
            .expect("cannot duplicate chromedriver.log's file descriptor");
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            // Chromium's own log (why it did not start, or crashed) goes to chromedriver's.
            .arg("--enable-chrome-logs")
            .stdin(Stdio::null())
            // Kept in the temporary directory, shown when chromedriver or the browser fails.
            .stdout(log)
            .stderr(log_err)
            // Chromium runs in chromedriver's process group, so Drop can kill them all at once.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", chromedriver.display()));
        Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            dir,
        }
    }

    /// Waits until chromedriver's `/status` says it is ready for a new session.
    fn wait_ready(&mut self, http: &ureq::Agent) {
        let deadline = Instant::now() + DRIVER_START_TIMEOUT;
        let status = format!("{}/status", self.url);
        loop {
            let last = match read_value(http.get(&status).call()) {
                Ok(value) if value["ready"] == true => return,
                Ok(value) => format!("not ready: {value}"),
                Err(e) => e.to_string(),
            };
            if let Ok(Some(exit)) = self.child.try_wait() {
                panic!(
                    "chromedriver exited ({exit}) before it was ready ({last})\n{}",
                    self.log_tail()
                );
            }
            if Instant::now() >= deadline {
                panic!(
                    "chromedriver at {} did not become ready within {DRIVER_START_TIMEOUT:?} ({last})\n{}",
                    self.url,
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The end of chromedriver's log, for failure messages.
    fn log_tail(&self) -> String {
        let path = self.dir.path().join("chromedriver.log");
        let log = std::fs::read(&path).unwrap_or_default();
        let log = String::from_utf8_lossy(&log[log.len().saturating_sub(6000)..]);
        format!("chromedriver's log (end):\n{log}")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // SAFETY: kill(2) has no memory-safety preconditions. The group is chromedriver's own
        // (`process_group(0)`), and chromedriver is not reaped yet, so its id cannot have been
        // reused.
        unsafe { libc::kill(-(self.child.id() as libc::pid_t), libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

/// The path of a program from the environment variable `var` or its default, which must exist.
fn program(var: &str, default: &str, name: &str) -> PathBuf {
    let (path, from) = match std::env::var_os(var) {
        Some(path) => (PathBuf::from(path), format!(" (from {var})")),
        None => (PathBuf::from(default), String::new()),
    };
    if !path.exists() {
        panic!(
            "the browser tests need {name}, and {}{from} does not exist: {INSTALL_HINT}, or set {var}",
            path.display()
        );
    }
    path
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("cannot bind a TCP port on 127.0.0.1 for chromedriver")
        .port()
}

/// Why a WebDriver command failed.
struct Failure {
    message: String,
    /// Whether chromedriver's log may help: it failed to answer, or the browser failed (crashed,
    /// did not start), rather than the page's JavaScript.
    show_log: bool,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// The `value` member of a WebDriver response.
fn read_value(response: Result<Response<Body>, ureq::Error>) -> Result<Value, Failure> {
    let mut response = response.map_err(|e| Failure {
        message: format!("no response from chromedriver: {e}"),
        show_log: true,
    })?;
    let status = response.status();
    let mut body: Value = response
        .body_mut()
        .with_config()
        .limit(MAX_RESPONSE_BYTES)
        .read_json()
        .map_err(|e| Failure {
            message: format!("chromedriver's response ({status}) is not JSON: {e}"),
            show_log: true,
        })?;
    let value = body["value"].take();
    if status.is_success() {
        return Ok(value);
    }
    // `{"value": {"error": "javascript error", "message": "…", "stacktrace": "…"}}`
    let error = value["error"].as_str().unwrap_or("(no error code)");
    let message = value["message"]
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned);
    Err(Failure {
        message: format!("{status}: {error}: {message}"),
        show_log: error != "javascript error",
    })
}
