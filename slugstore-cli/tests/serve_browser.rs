//! `slug serve`'s page in a real browser (headless Chromium): a deploy started from the command line
//! while the page is open shows its phases changing without a reload, and the page's buttons roll
//! back only with the right token.
//!
//! `SLUG_SCREENSHOT=PATH` keeps the screenshot taken mid-deploy (docs/img/serve.png is one).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use slugstore_tests::browser::Browser;
use slugstore_tests::project::{current, Shop};
use slugstore_tests::serve::{Served, TOKEN};

const WAIT: Duration = Duration::from_secs(30);

fn shop() -> Shop {
    Shop::new(Path::new(env!("CARGO_BIN_EXE_slug")))
}

/// staging and production, staging deployed and promoted to production.
fn promoted() -> Shop {
    let shop = shop();
    shop.add_env("staging", &[]);
    shop.add_env("production", &[]);
    shop.slug_ok(&["deploy", "src", "--env", "staging"]);
    shop.slug_ok(&["promote", "staging", "--to", "production"]);
    shop
}

/// The newest deploy of `env` as the page shows it: id, state and `phase:state` of each phase.
fn newest_deploy(b: &Browser, env: &str) -> Value {
    b.execute(
        r#"const li = document.querySelector(`section.env[data-env="${arguments[0]}"] .deploy`);
           if (!li) return null;
           return { id: li.dataset.deploy, state: li.dataset.state,
                    phases: [...li.querySelectorAll('.phase')].map(p => p.dataset.phase + ':' + p.dataset.state) };"#,
        json!([env]),
    )
}

#[test]
fn a_deploy_started_while_the_page_is_open_shows_its_phases_live() {
    let shop = promoted();
    let staging = shop.target("staging");
    let before = current(&staging).unwrap();
    // The deploy hook waits for a gate file, so the page can be looked at mid-deploy.
    let gate = shop.gate_deploy_hook();
    let served = Served::start(&shop, &[]);
    let b = Browser::start();
    b.goto(&served.url);
    b.wait_for(
        "the page to list staging's first deploy",
        WAIT,
        r#"return document.querySelector('section.env[data-env="staging"] .deploy[data-state="success"]') !== null
                  && document.querySelector('#conn').dataset.state === 'live' || null;"#,
    );
    let first = newest_deploy(&b, "staging")["id"].clone();
    // Marks this document: a reload would lose the mark.
    b.execute("window.__sameDocument = 'yes'; return null;", json!([]));

    let mut deploy = shop.spawn_slug(&["deploy", "src", "--env", "staging"]);

    // Every distinct picture of the new deploy the page shows, until its deploy hook runs.
    let mut seen: Vec<Value> = Vec::new();
    let deadline = Instant::now() + WAIT;
    loop {
        let d = newest_deploy(&b, "staging");
        if !d.is_null() && d["id"] != first && seen.last() != Some(&d) {
            seen.push(d.clone());
        }
        let phases = &d["phases"];
        if phases[4] == "deploy:in_progress" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the page never showed the deploy hook running: {seen:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let mid = seen.last().unwrap().clone();
    assert_eq!(mid["state"], "in_progress");
    assert_eq!(
        mid["phases"],
        json!([
            "validate:success",
            "build:success",
            "slug:success",
            "release:success",
            "deploy:in_progress",
            "post_deploy:pending"
        ])
    );
    // The log panel follows the new deploy and shows the hook's output as it is written.
    b.wait_for(
        "the log to show the deploy hook's output",
        WAIT,
        &format!(
            r#"const pre = document.querySelector('#log');
               return pre.dataset.deploy === {} && pre.textContent.includes('waiting for the gate') || null;"#,
            mid["id"]
        ),
    );
    // The live release has not changed yet.
    assert_eq!(
        b.execute(
            r#"return document.querySelector('section.env[data-env="staging"]').dataset.live;"#,
            json!([])
        ),
        before.as_str()
    );
    let png = b.screenshot_png();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000);
    if let Some(path) = std::env::var_os("SLUG_SCREENSHOT") {
        std::fs::write(&path, &png).unwrap();
    }

    std::fs::write(&gate, "").unwrap();
    assert!(deploy.wait().unwrap().success(), "the deploy failed");
    let live = current(&staging).unwrap();
    assert_ne!(live, before);
    let done = b.wait_for(
        "the page to show the deploy's success and the new live release",
        WAIT,
        &format!(
            r#"const s = document.querySelector('section.env[data-env="staging"]');
               const li = s.querySelector('.deploy');
               return li.dataset.state === 'success' && s.dataset.live === {}
                      ? [...li.querySelectorAll('.phase')].map(p => p.dataset.state) : null;"#,
            json!(live)
        ),
    );
    assert_eq!(done, json!(vec!["success"; 6]));
    assert_eq!(
        b.execute("return window.__sameDocument || null;", json!([])),
        "yes",
        "the page was reloaded"
    );
    assert!(seen.len() >= 2, "the page showed only {seen:?}");
}

#[test]
fn the_page_rolls_back_with_the_right_token_only() {
    let shop = promoted();
    let staging = shop.target("staging");
    let first = current(&staging).unwrap();
    shop.edit_app(|s| s.replace("echo \"post-deploy hook\"", "echo \"post-deploy hook v2\""));
    shop.slug_ok(&["deploy", "src", "--env", "staging"]);
    let second = current(&staging).unwrap();
    let served = Served::start(&shop, &[]);
    let b = Browser::start();
    b.goto(&served.url);
    let live_is = |slug: &str| {
        format!(
            r#"return document.querySelector('section.env[data-env="staging"]')?.dataset.live === {} || null;"#,
            json!(slug)
        )
    };
    b.wait_for(
        "the page to show staging's live release",
        WAIT,
        &live_is(&second),
    );
    b.execute("window.__sameDocument = 'yes'; return null;", json!([]));
    let click_rollback = r#"document.querySelector('section.env[data-env="staging"] .live button[data-action="rollback"]').click(); return null;"#;
    let toast = |needle: &str| {
        format!(
            r#"const t = document.querySelector('#toast');
               return !t.hidden && t.textContent.includes({}) ? t.textContent : null;"#,
            json!(needle)
        )
    };

    // No token: the page asks for one and sends nothing.
    b.execute(click_rollback, json!([]));
    b.wait_for(
        "the page to ask for the token",
        WAIT,
        &toast("Enter the token first"),
    );
    // A wrong token: refused by the server (401), the page says so, nothing changes.
    let unlock = r#"document.querySelector('#token').value = arguments[0];
                    document.querySelector('#token-save').click(); return null;"#;
    b.execute(unlock, json!(["wrong-token-0123456789"]));
    b.execute(click_rollback, json!([]));
    b.wait_for(
        "the page to report the wrong token",
        WAIT,
        &toast("Wrong token (HTTP 401)"),
    );
    assert_eq!(current(&staging).unwrap(), second);
    assert_eq!(
        b.execute(
            "return document.querySelector('#auth-state').dataset.state;",
            json!([])
        ),
        "locked",
        "a refused token stays stored"
    );
    // The right token: staging goes back to the first release, and the page shows it unreloaded.
    b.execute(unlock, json!([TOKEN]));
    b.execute(click_rollback, json!([]));
    b.wait_for("the page to show the rollback", WAIT, &live_is(&first));
    assert_eq!(current(&staging).unwrap(), first);
    b.wait_for(
        "the page to confirm the rollback",
        WAIT,
        &toast("Rollback of staging: done"),
    );
    // The switch shows first in the environment's history of `current` (the history may arrive in a
    // later update of the page than the live release).
    let switch = b.wait_for(
        "the rollback at the top of the history",
        WAIT,
        r#"const li = document.querySelector('section.env[data-env="staging"] .switches li');
           return li && li.dataset.kind === 'rollback'
               ? [li.dataset.kind, li.querySelector('code').textContent] : null;"#,
    );
    assert_eq!(switch, json!(["rollback", &first[..12]]));
    assert_eq!(
        b.execute("return window.__sameDocument || null;", json!([])),
        "yes",
        "the page was reloaded"
    );
}

#[test]
fn a_page_refused_a_stream_goes_live_when_a_slot_frees() {
    let shop = shop();
    let served = Served::start(&shop, &["--max-streams", "1"]);
    // Another client holds the only stream slot.
    let addr = served
        .url
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let mut holder = TcpStream::connect(addr).unwrap();
    holder.set_read_timeout(Some(WAIT)).unwrap();
    write!(holder, "GET /api/events HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut head = [0u8; 15];
    holder.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 200 OK");

    let b = Browser::start();
    b.goto(&served.url);
    // Refused (503): the page says it is reconnecting, and keeps trying.
    b.wait_for(
        "the page to wait for a stream",
        WAIT,
        "return document.querySelector('#conn').dataset.state === 'connecting' || null;",
    );
    drop(holder);
    b.wait_for(
        "the page to go live once the slot is free",
        WAIT,
        "return document.querySelector('#conn').dataset.state === 'live' || null;",
    );
}
