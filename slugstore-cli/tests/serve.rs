//! `slug serve` without a browser: the status API, the event stream, the token and the errors, against
//! the example project deployed to real environments.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use slugstore_tests::project::{current, stderr, Shop};
use slugstore_tests::serve::{Served, TOKEN};

fn shop() -> Shop {
    Shop::new(Path::new(env!("CARGO_BIN_EXE_slug")))
}

/// A shop with environments staging and production, staging deployed once.
fn staged() -> Shop {
    let shop = shop();
    shop.add_env("staging", &[]);
    shop.add_env("production", &[]);
    shop.slug_ok(&["deploy", "src", "--env", "staging"]);
    shop
}

fn env<'a>(status: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    status["environments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("no environment {name} in {status}"))
}

/// The bytes of every file that says what a target runs (the `current` link and `state.json`).
fn target_state(t: &Path) -> (Option<String>, Option<Vec<u8>>) {
    (current(t), std::fs::read(t.join("state.json")).ok())
}

#[test]
fn the_api_shows_environments_and_deploys_and_serves_the_page() {
    let shop = staged();
    let served = Served::start(&shop, &[]);

    let page = served.get("");
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("<script src=\"/app.js\""),
        "{}",
        page.body
    );
    let csp = page.header("Content-Security-Policy").unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    for asset in ["app.js", "style.css"] {
        let r = served.get(asset);
        assert_eq!(r.status, 200, "{asset}");
        assert!(r.body.len() > 500, "{asset} is nearly empty");
    }

    let status = served.get("api/status").json();
    let names: Vec<&str> = status["environments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["production", "staging"]);
    let staging = env(&status, "staging");
    let live = current(&shop.target("staging")).unwrap();
    assert_eq!(staging["live"], live.as_str());
    assert_eq!(staging["deploy_count"], 1);
    let deploy = &staging["deploys"][0];
    assert_eq!(deploy["state"], "success");
    assert_eq!(deploy["slug"], live.as_str());
    let phases: Vec<(&str, &str)> = deploy["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["phase"].as_str().unwrap(), p["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        phases,
        [
            ("validate", "success"),
            ("build", "success"),
            ("slug", "success"),
            ("release", "success"),
            ("deploy", "success"),
            ("post_deploy", "success")
        ]
    );
    let production = env(&status, "production");
    assert!(production["live"].is_null());
    assert_eq!(production["deploy_count"], 0);

    // One deploy's record and its log, whole and from an offset.
    let id = deploy["id"].as_str().unwrap();
    let record = served.get(&format!("api/envs/staging/deploys/{id}")).json();
    assert_eq!(record["id"], id);
    let log = served.get(&format!("api/envs/staging/deploys/{id}/log"));
    assert_eq!(log.status, 200);
    assert!(log.body.contains("deploy hook in"), "{}", log.body);
    let size: usize = log.header("X-Log-Size").unwrap().parse().unwrap();
    assert_eq!(size, log.body.len());
    assert_eq!(log.header("X-Log-Offset").unwrap(), size.to_string());
    let tail = served.get(&format!("api/envs/staging/deploys/{id}/log?offset=10"));
    assert_eq!(tail.body, log.body[10..]);

    // What does not exist is a 404 naming it.
    let r = served.get("api/envs/prod/deploys/x");
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json()["error"],
        "unknown environment `prod` (known: production, staging)"
    );
    let r = served.get("api/envs/staging/deploys/20991231T000000Z-000/log");
    assert_eq!(r.status, 404);
    assert!(r.json()["error"]
        .as_str()
        .unwrap()
        .contains("has no deploy `20991231T000000Z-000`"));
    assert_eq!(served.get("nothing-here").status, 404);
    let r = served.get(&format!("api/envs/staging/deploys/{id}/log?offset=x"));
    assert_eq!(r.status, 400);
    assert_eq!(served.get("api/envs/staging/rollback").status, 405);
}

#[test]
fn a_wrong_token_changes_nothing_and_the_right_one_promotes_and_rolls_back() {
    let shop = staged();
    let (staging, production) = (shop.target("staging"), shop.target("production"));
    let first = current(&staging).unwrap();
    let served = Served::start(&shop, &[]);

    let staging_before = target_state(&staging);
    for token in [None, Some("wrong-token-0123456789"), Some("")] {
        let r = served.post(
            "api/envs/production/promote",
            token,
            r#"{"from":"staging"}"#,
        );
        assert_eq!(r.status, 401, "{token:?}: {}", r.body);
        assert_eq!(
            r.header("WWW-Authenticate").unwrap(),
            "Bearer realm=\"slug serve\""
        );
        assert!(r.json()["error"].as_str().unwrap().contains("valid token"));
        let r = served.post("api/envs/staging/rollback", token, "{}");
        assert_eq!(r.status, 401, "{token:?}: {}", r.body);
    }
    assert!(
        !production.exists(),
        "a refused promotion touched the target"
    );
    assert_eq!(target_state(&staging), staging_before);

    // The right token: production runs staging's slug, and nothing was built for it.
    let r = served.post(
        "api/envs/production/promote",
        Some(TOKEN),
        r#"{"from":"staging"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let doc = r.json();
    assert_eq!(doc["deploy"]["state"], "success");
    assert_eq!(doc["promotion"]["from"], "environment staging");
    assert_eq!(current(&production).unwrap(), first);
    assert_eq!(shop.build_runs(), 1);

    // A second release on staging, then a rollback from the page's API.
    shop.edit_app(|s| s.replace("echo \"post-deploy hook\"", "echo \"post-deploy hook v2\""));
    shop.slug_ok(&["deploy", "src", "--env", "staging"]);
    let second = current(&staging).unwrap();
    assert_ne!(second, first);
    let r = served.post("api/envs/staging/rollback", Some(TOKEN), "");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["rollback"]["slug"], first.as_str());
    assert_eq!(current(&staging).unwrap(), first);
    // And forward again to a named slug.
    let r = served.post(
        "api/envs/staging/rollback",
        Some(TOKEN),
        &format!(r#"{{"to":"{}"}}"#, &second[..12]),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(current(&staging).unwrap(), second);

    // Bad requests are refused by name, and change nothing.
    let before = target_state(&staging);
    for (path, body, status, needle) in [
        (
            "api/envs/staging/rollback",
            r#"{"steps":9}"#,
            400,
            "cannot go back 9",
        ),
        (
            "api/envs/staging/rollback",
            r#"{"command":"rm"}"#,
            400,
            "unknown field `command`",
        ),
        ("api/envs/staging/rollback", "not json", 400, "request body"),
        (
            "api/envs/prod/rollback",
            "{}",
            404,
            "unknown environment `prod`",
        ),
        (
            "api/envs/production/promote",
            "{}",
            400,
            "missing field `from`",
        ),
        (
            "api/envs/production/promote",
            r#"{"from":"nope"}"#,
            400,
            "no slug or ref named `nope`",
        ),
        (
            "api/envs/staging/promote",
            r#"{"from":"staging"}"#,
            400,
            "to itself",
        ),
    ] {
        let r = served.post(path, Some(TOKEN), body);
        assert_eq!(r.status, status, "{path} {body}: {}", r.body);
        let err = r.json()["error"].as_str().unwrap().to_owned();
        assert!(err.contains(needle), "{path} {body}: {err}");
    }
    assert_eq!(target_state(&staging), before);
}

#[test]
fn a_read_only_server_refuses_actions_even_with_the_token() {
    let shop = staged();
    let staging = shop.target("staging");
    let served = Served::start(&shop, &["--read-only"]);
    assert_eq!(served.get("api/status").json()["read_only"], true);
    let before = target_state(&staging);
    let r = served.post("api/envs/staging/rollback", Some(TOKEN), "{}");
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.json()["error"].as_str().unwrap().contains("read-only"));
    let r = served.post(
        "api/envs/production/promote",
        Some(TOKEN),
        r#"{"from":"staging"}"#,
    );
    assert_eq!(r.status, 403);
    assert_eq!(target_state(&staging), before);
    assert!(!shop.target("production").exists());
}

#[test]
fn the_event_stream_pushes_each_change_of_a_deploy() {
    let shop = staged();
    let served = Served::start(&shop, &[]);
    let mut events = served.events();
    let first = events.next_status();
    assert_eq!(env(&first, "staging")["deploy_count"], 1);

    // A deploy from the command line, while the stream is open: the stream sees it start and end.
    shop.edit_app(|s| s.replace("echo \"post-deploy hook\"", "echo \"post-deploy hook v2\""));
    let out = shop.slug_json(&["deploy", "src", "--env", "staging"]);
    let mut seen = Vec::new();
    loop {
        let doc = events.next_status();
        let staging = env(&doc, "staging");
        let newest = &staging["deploys"][0];
        if staging["deploy_count"] == 2 {
            assert_eq!(newest["id"], out["id"]);
            seen.push(newest["state"].as_str().unwrap().to_owned());
            if newest["state"] == "success" && staging["live"] == out["slug"] {
                break;
            }
        }
    }
    assert_eq!(seen.last().unwrap(), "success");
}

/// How long a raw exchange with the server may take.
const RAW_DEADLINE: Duration = Duration::from_secs(10);

/// A connection to 127.0.0.1:`port` on which every read and write gives up after [`RAW_DEADLINE`].
fn connect(port: &str) -> TcpStream {
    let s = TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
    s.set_read_timeout(Some(RAW_DEADLINE)).unwrap();
    s.set_write_timeout(Some(RAW_DEADLINE)).unwrap();
    s
}

/// `GET path` on 127.0.0.1:`port` with `Host: host`: the whole answer, head included.
fn get_raw(port: &str, path: &str, host: &str) -> String {
    let mut s = connect(port);
    write!(s, "GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer)
        .unwrap_or_else(|e| panic!("GET {path}: {e} after `{answer}`"));
    answer
}

/// `GET /api/status` on 127.0.0.1:`port` with `Host: host`: the whole answer, head included.
fn get_with_host(port: &str, host: &str) -> String {
    get_raw(port, "/api/status", host)
}

/// True when the server has answered (or closed) connection `s`, without waiting for it.
fn answered(s: &TcpStream) -> bool {
    s.set_nonblocking(true).unwrap();
    let peeked = s.peek(&mut [0u8; 1]);
    s.set_nonblocking(false).unwrap();
    match peeked {
        Ok(_) => true,
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => false,
        Err(_) => true,
    }
}

/// The port of a served URL.
fn port_of(served: &Served) -> &str {
    served.url.trim_end_matches('/').rsplit(':').next().unwrap()
}

#[test]
fn requests_for_another_host_and_bad_starts_are_refused() {
    let shop = staged();
    let served = Served::start(&shop, &[]);
    let port = port_of(&served);
    // DNS rebinding: a page at evil.example whose name resolves to 127.0.0.1.
    let answer = get_with_host(port, &format!("evil.example:{port}"));
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(answer.contains("answers only to 127.0.0.1:"), "{answer}");
    assert!(!answer.contains("staging"), "{answer}");
    // A name allowed by --allow-host is served.
    let tunnel = Served::start(&shop, &["--allow-host", "localhost:8080"]);
    let tport = port_of(&tunnel);
    let answer = get_with_host(tport, "localhost:8080");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"staging\""), "{answer}");

    // The address in use, a short token, a missing store: clear errors, no server.
    let out = shop.slug(&["serve", "--listen", &format!("127.0.0.1:{port}")]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{}",
        stderr(&out)
    );
    let out = std::process::Command::new(shop.bin())
        .args(["--store", shop.store().to_str().unwrap(), "serve"])
        .env("SLUG_SERVE_TOKEN", "short")
        .output()
        .unwrap();
    assert!(
        stderr(&out).contains("SLUG_SERVE_TOKEN: the token is too short"),
        "{}",
        stderr(&out)
    );
    let missing = shop.root.join("no-store");
    let out = std::process::Command::new(shop.bin())
        .args(["--store", missing.to_str().unwrap(), "serve"])
        .output()
        .unwrap();
    assert!(stderr(&out).contains("no slugstore at"), "{}", stderr(&out));
}

#[test]
fn the_page_reads_during_a_deploy_and_an_action_needing_the_store_gets_409() {
    let shop = staged();
    let gate = shop.gate_deploy_hook();
    let served = Served::start(&shop, &["--lock-timeout", "0.2"]);
    let mut deploy = shop.spawn_slug(&["deploy", "src", "--env", "staging"]);
    // The deploy holds the store while its hook waits; the status is read all the same.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let status = served.get("api/status").json();
        let newest = &env(&status, "staging")["deploys"][0];
        if newest["phases"][4]["state"] == "in_progress" {
            assert_eq!(newest["state"], "in_progress");
            assert_eq!(newest["phases"][5]["state"], "pending");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{status}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let r = served.post(
        "api/envs/production/promote",
        Some(TOKEN),
        r#"{"from":"staging"}"#,
    );
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("locked by another slug process"),
        "{}",
        r.body
    );
    assert!(!shop.target("production").exists());
    std::fs::write(&gate, "").unwrap();
    assert!(deploy.wait().unwrap().success());
}

#[test]
fn over_its_limits_the_server_answers_503_and_serves_again_when_clients_leave() {
    let shop = staged();
    let served = Served::start(&shop, &["--max-streams", "2", "--max-connections", "3"]);
    let port = port_of(&served);
    let host = format!("127.0.0.1:{port}");

    // Two pages watching; a third is told to come back.
    let streams = [served.events(), served.events()];
    let third = get_raw(port, "/api/events", &host);
    assert!(third.starts_with("HTTP/1.1 503"), "{third}");
    assert!(third.contains("Retry-After: 1"), "{third}");
    assert!(third.contains("limit of 2 event streams"), "{third}");
    // The streams hold no request slot: the status is served beside them.
    assert!(get_with_host(port, &host).starts_with("HTTP/1.1 200"));

    // Three clients holding half a request each take every request slot: the next request is
    // answered 503 at once, not dropped and not left waiting.
    let half_a_request = || {
        let mut s = connect(port);
        write!(s, "GET /api/status HTTP/1.1\r\nHost: ").unwrap();
        s
    };
    let mut slow: Vec<TcpStream> = (0..3).map(|_| half_a_request()).collect();
    // The server takes the slow connections in its own time: ask until it is full. A request's slot
    // is given back just after its answer is closed, so on a busy machine a slow client can arrive
    // while the slot of a request before it is still held, and be refused (its 503 waits for it to
    // read); such a client is replaced, so that three hold slots in the end.
    let deadline = Instant::now() + RAW_DEADLINE;
    let full = loop {
        let answer = get_with_host(port, &host);
        if answer.starts_with("HTTP/1.1 503") {
            break answer;
        }
        assert!(Instant::now() < deadline, "never full: {answer}");
        for s in &mut slow {
            if answered(s) {
                *s = half_a_request();
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(full.contains("limit of 3 connections"), "{full}");
    drop(slow);
    let deadline = Instant::now() + RAW_DEADLINE;
    while !get_with_host(port, &host).starts_with("HTTP/1.1 200") {
        assert!(
            Instant::now() < deadline,
            "the slots of closed clients were never freed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(streams);
}
