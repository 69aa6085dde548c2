//! Configuration files that are not what they claim: `slug validate` and `slug snapshot` (whose scan
//! reads `.magento.app.yaml` for the mounts) must refuse each promptly, naming the file, without
//! reading a device or a FIFO, following a link out of the project, or replaying the file to the
//! terminal.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long one command may run before it is killed and the test fails: the refusals take
/// milliseconds, and the old behaviour (reading `/dev/zero` into memory, waiting on a FIFO) never
/// ended. Generous, so a loaded machine does not fail the test.
const DEADLINE: Duration = Duration::from_secs(20);

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../slugstore-deploy/tests/fixtures/config/magento-app")
}

/// A copy of the valid fixture project in `dir/project`, with `.magento.app.yaml` removed for the
/// case to put its own there.
fn project(dir: &Path) -> PathBuf {
    let p = dir.join("project");
    fs::create_dir_all(p.join(".magento")).unwrap();
    for name in [".magento/services.yaml", ".magento/routes.yaml"] {
        fs::copy(fixture().join(name), p.join(name)).unwrap();
    }
    fs::create_dir_all(p.join("pub")).unwrap();
    fs::write(p.join("pub/index.php"), "<?php\n").unwrap();
    p
}

/// Runs `slug ARGS` with its address space capped (so reading a device into memory fails fast
/// instead of filling the machine) and killed after [`DEADLINE`]; panics if it had to be killed.
fn slug_within(args: &[&str]) -> Output {
    let script = r#"ulimit -v 4000000; exec "$0" "$@""#;
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_slug"))
        .args(args)
        .env_remove("SLUGSTORE_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > DEADLINE {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!(
                "slug {args:?} still ran after {DEADLINE:?}; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

/// Both commands on `project` fail with status 1 (within [`DEADLINE`]) and print `expect` on a line
/// naming the application file; no control character reaches the output, and `secret` never does.
fn refused_by_both(dir: &Path, project: &Path, expect: &str, secret: &str) {
    let store = dir.join("store");
    let init = slug_within(&["--store", store.to_str().unwrap(), "init"]);
    assert!(init.status.success());
    let p = project.to_str().unwrap();
    for args in [
        vec!["validate", p],
        vec!["--store", store.to_str().unwrap(), "snapshot", p],
    ] {
        let out = slug_within(&args);
        let all = [&out.stdout[..], &out.stderr[..]].concat();
        let text = String::from_utf8_lossy(&all);
        assert_eq!(out.status.code(), Some(1), "slug {args:?}: {text}");
        let line = text
            .lines()
            .find(|l| l.contains(".magento.app.yaml") && l.contains(expect));
        assert!(
            line.is_some(),
            "slug {args:?}: no line naming the file says {expect:?}: {text}"
        );
        assert!(
            !all.iter().any(|&b| b < 0x20 && b != b'\n'),
            "slug {args:?} printed a control character: {text:?}"
        );
        assert!(
            !text.contains(secret),
            "slug {args:?} printed the secret: {text}"
        );
    }
    let ls = slug_within(&["--store", store.to_str().unwrap(), "--json", "ls"]);
    assert!(
        !String::from_utf8_lossy(&ls.stdout).contains("\"slug\""),
        "a slug was committed"
    );
}

#[test]
fn a_symlink_to_dev_zero_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = project(dir.path());
    std::os::unix::fs::symlink("/dev/zero", p.join(".magento.app.yaml")).unwrap();
    refused_by_both(dir.path(), &p, "outside the project (to /dev/zero)", "\0");
}

#[test]
fn a_symlink_to_dev_urandom_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = project(dir.path());
    std::os::unix::fs::symlink("/dev/urandom", p.join(".magento.app.yaml")).unwrap();
    refused_by_both(
        dir.path(),
        &p,
        "outside the project (to /dev/urandom)",
        "\0",
    );
}

#[test]
fn a_fifo_is_refused_without_waiting_for_a_writer() {
    let dir = tempfile::tempdir().unwrap();
    let p = project(dir.path());
    let made = Command::new("mkfifo")
        .arg(p.join(".magento.app.yaml"))
        .status()
        .unwrap();
    assert!(made.success());
    refused_by_both(dir.path(), &p, "is a FIFO, not a regular file", "\0");
}

#[test]
fn a_symlink_to_a_file_outside_the_project_is_refused_and_not_quoted() {
    let dir = tempfile::tempdir().unwrap();
    let p = project(dir.path());
    let secret = dir.path().join("secret.yaml");
    fs::write(
        &secret,
        "root:x:0:0:TOPSECRET:/root:/bin/bash\nsecond line\n",
    )
    .unwrap();
    std::os::unix::fs::symlink("../secret.yaml", p.join(".magento.app.yaml")).unwrap();
    refused_by_both(
        dir.path(),
        &p,
        "is a symlink leading outside the project",
        "TOPSECRET",
    );
}

#[test]
fn a_symlink_inside_the_project_is_followed() {
    let dir = tempfile::tempdir().unwrap();
    let p = project(dir.path());
    fs::create_dir_all(p.join("config")).unwrap();
    fs::copy(
        fixture().join(".magento.app.yaml"),
        p.join("config/app.yaml"),
    )
    .unwrap();
    std::os::unix::fs::symlink("config/app.yaml", p.join(".magento.app.yaml")).unwrap();
    let out = slug_within(&["validate", p.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn an_oversize_file_is_refused_naming_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let p = project(dir.path());
    let mut text = fs::read(fixture().join(".magento.app.yaml")).unwrap();
    text.resize((1 << 20) + 1, b'\n');
    fs::write(p.join(".magento.app.yaml"), text).unwrap();
    refused_by_both(
        dir.path(),
        &p,
        "is 1048577 bytes, over the limit of 1 MiB",
        "\0",
    );
}

#[test]
fn terminal_escapes_on_the_bad_line_are_escaped_and_nothing_beyond_it_is_printed() {
    let dir = tempfile::tempdir().unwrap();
    let p = project(dir.path());
    let valid = fs::read_to_string(fixture().join(".magento.app.yaml")).unwrap();
    // `name` must be a lowercase word and `disk` a number: the errors quote the values. One carries
    // escape sequences (written as YAML escapes: raw control characters are a syntax error, whose
    // message shows them escaped); the other continues over the following lines (a plain scalar), the
    // last of them holding the secret.
    let mut bad = String::from(r#"name: "\e]0;pwned\a\e[2J""#);
    bad.push('\n');
    let kept = valid
        .lines()
        .filter(|l| !l.starts_with("name:") && !l.starts_with("disk:") && !l.starts_with("type:"));
    bad.extend(kept.map(|l| format!("{l}\n")));
    bad.push_str("disk: 2048 and then more words\n  that go on for a while, well past any\n");
    bad.push_str("  sensible length for a quote, over\n  many lines until\n  TOPSECRET\n");
    // A block scalar keeps its line breaks: only its first line is quoted.
    bad.push_str("type: |\n  php:8.3\n  TOPSECRET\n");
    fs::write(p.join(".magento.app.yaml"), bad).unwrap();
    refused_by_both(dir.path(), &p, "\\x1b]0;pwned\\x07\\x1b[2J", "TOPSECRET");
}
