//! `slug compress-static` as a user runs it: real files, the built binary, JSON reports, exit codes.

use slugstore_tests::deadline::Deadline;
use std::fs;
use std::path::Path;
use std::process::{Command, Output};

fn slug(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_slug"))
        .args(args)
        .current_dir(cwd)
        .output_deadline()
}

fn report(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "slug failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn compresses_once_then_finds_everything_up_to_date() {
    let dir = tempfile::tempdir().unwrap();
    let st = dir.path().join("pub/static/frontend");
    fs::create_dir_all(&st).unwrap();
    fs::write(
        st.join("app.js"),
        "define(['jquery'], function ($) { return $; });\n".repeat(40),
    )
    .unwrap();
    fs::write(st.join("styles.css"), ".a { color: red }\n".repeat(40)).unwrap();
    fs::write(st.join("tiny.js"), "x".repeat(300)).unwrap();

    let first = report(&slug(
        &["compress-static", "pub/static", "--json"],
        dir.path(),
    ));
    assert_eq!(
        (first["selected"].as_u64(), first["compressed"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(first["level"], 6);
    assert!(st.join("app.js.gz").is_file() && st.join("styles.css.gz").is_file());
    assert!(!st.join("tiny.js.gz").exists());
    let t = Command::new("gzip")
        .arg("-t")
        .arg(st.join("app.js.gz"))
        .status_deadline();
    assert!(t.success());
    assert!(
        dir.path().join(".slugstore/gz").is_dir(),
        "the default cache lives in the store directory"
    );

    let second = report(&slug(
        &["compress-static", "pub/static", "--json"],
        dir.path(),
    ));
    assert_eq!(
        (second["compressed"].as_u64(), second["up_to_date"].as_u64()),
        (Some(0), Some(2))
    );
}

#[test]
fn a_level_out_of_range_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = slug(&["compress-static", ".", "--level", "10"], dir.path());
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("10") && err.contains("0-9"), "{err}");
    assert!(
        !dir.path().join(".slugstore").exists(),
        "nothing may be created on a usage error"
    );
}

#[test]
fn a_zero_timeout_reports_the_skipped_assets() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("a.svg"), "<svg></svg>\n".repeat(50)).unwrap();
    let cache = dir.path().join("cache");
    let out = slug(
        &[
            "compress-static",
            ".",
            "--timeout",
            "0",
            "--json",
            "--gz-cache",
            cache.to_str().unwrap(),
        ],
        dir.path(),
    );
    let r = report(&out);
    assert_eq!(
        (r["timed_out"].as_bool(), r["skipped"].as_u64()),
        (Some(true), Some(1))
    );
    assert!(!dir.path().join("a.svg.gz").exists());
}
