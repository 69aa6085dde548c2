//! `slug validate` on the configuration fixtures of the slugstore-deploy crate.

use slugstore_tests::deadline::Deadline;
use std::path::PathBuf;
use std::process::{Command, Output};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../slugstore-deploy/tests/fixtures/config")
        .join(name)
}

fn slug(args: &[&str], dir: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_slug"))
        .args(args)
        .arg(fixture(dir))
        .output_deadline()
}

#[test]
fn a_valid_project_passes() {
    let out = slug(&["validate"], "magento-app");
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("valid: app storefront (php:8.3), 3 services, 4 mounts, 3 routes"),
        "{stdout}"
    );
}

#[test]
fn defects_are_printed_with_file_line_and_column_and_fail_the_command() {
    let out = slug(&["validate"], "invalid/mount-overlap");
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let file = fixture("invalid/mount-overlap").join(".magento.app.yaml");
    let expected = format!(
        "{}:26:3: mounts.\"var/cache\": mounts `var` (line 25) and `var/cache` overlap",
        file.display()
    );
    assert!(stdout.starts_with(&expected), "{stdout}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
}

#[test]
fn json_output_lists_the_diagnostics() {
    let out = slug(&["validate", "--json"], "invalid/route-missing-type");
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["valid"], false);
    let d = &json["diagnostics"][0];
    assert_eq!(
        (d["line"].as_u64(), d["column"].as_u64()),
        (Some(7), Some(1))
    );
    assert!(d["file"]
        .as_str()
        .unwrap()
        .ends_with(".magento/routes.yaml"));
    assert_eq!(d["path"], "\"https://www.{default}/\".type");
}
