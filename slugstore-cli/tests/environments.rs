//! Environments and promotion, end to end through the `slug` binary on the example project.

use std::path::Path;

use slugstore_tests::compare::{assert_same_listing, read_tree};
use slugstore_tests::project::{current, stderr, Shop};

fn shop() -> Shop {
    Shop::new(Path::new(env!("CARGO_BIN_EXE_slug")))
}

/// The number of slugs in the store.
fn slug_count(shop: &Shop) -> usize {
    shop.slug_json(&["ls"]).as_array().unwrap().len()
}

/// Asserts the command failed with an error containing `needle`, and returns its stderr.
fn fails_with(out: &std::process::Output, needle: &str) -> String {
    let err = stderr(out);
    assert!(!out.status.success(), "expected a failure, got success");
    assert!(err.contains(needle), "expected `{needle}` in: {err}");
    err
}

#[test]
fn promote_deploys_the_same_slug_bit_exact_and_builds_nothing() {
    let shop = shop();
    shop.edit_app(|s| {
        s.replace(
            "echo \"deploy hook in $PWD\"",
            "echo \"deploy hook: env=$PLATFORM_ENVIRONMENT db=${DB_HOST:-none}\"",
        )
    });
    shop.add_env("staging", &[]);
    shop.add_env("production", &["--runtime-var", "DB_HOST=prod-db"]);
    let staged = shop.slug_json(&["deploy", "src", "--env", "staging"]);
    assert_eq!(staged["env"], "staging");
    assert_eq!(shop.build_runs(), 1);
    let slugs_before = slug_count(&shop);

    let p = shop.slug_json(&["promote", "staging", "--to", "production"]);
    let record = &p["deploy"];
    assert_eq!(record["state"], "success");
    assert_eq!(record["env"], "production");
    assert_eq!(record["promoted_from"], "environment staging");
    assert_eq!(record["slug"], staged["slug"]);
    assert_eq!(p["promotion"]["build_key"], p["promotion"]["expected_key"]);

    // Nothing was built: no hook run, no new slug (not even a source snapshot).
    assert_eq!(shop.build_runs(), 1, "promotion ran the build hook");
    assert_eq!(slug_count(&shop), slugs_before, "promotion stored a slug");
    let build = record["phases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["phase"] == "build")
        .unwrap();
    assert!(
        build["detail"].as_str().unwrap().starts_with("promoted "),
        "{build}"
    );

    // Production runs exactly staging's release, byte for byte.
    let (staging, production) = (shop.target("staging"), shop.target("production"));
    assert_eq!(current(&production), current(&staging));
    let live = |t: &Path| t.join("releases").join(current(t).unwrap());
    assert_same_listing(&read_tree(&live(&staging)), &read_tree(&live(&production)));

    // The deploy hooks saw the destination's runtime variables and name.
    let log = String::from_utf8(shop.slug_ok(&["log", "--env", "production"]).stdout).unwrap();
    assert!(log.contains("promoting slug"), "{log}");
    assert!(
        log.contains("deploy hook: env=production db=prod-db"),
        "{log}"
    );
    let log = String::from_utf8(shop.slug_ok(&["log", "--env", "staging"]).stdout).unwrap();
    assert!(log.contains("deploy hook: env=staging db=none"), "{log}");

    // Each environment's history says what happened there.
    let history = shop.slug_json(&["env", "log", "production"]);
    let kinds: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["promote"]);
    let staging_history = shop.slug_json(&["env", "log", "staging"]);
    assert_eq!(staging_history[0]["kind"], "deploy");
    assert_eq!(staging_history[0]["slug"], staged["slug"]);

    // A rollback on production shows in its history too (after a second promotion to roll back from).
    shop.edit_app(|s| s.replace("echo \"post-deploy hook\"", "echo \"post-deploy hook v2\""));
    shop.slug_ok(&["deploy", "src", "--env", "staging"]);
    shop.slug_ok(&["promote", "staging", "--to", "production"]);
    shop.slug_ok(&["rollback", "--env", "production"]);
    assert_eq!(
        current(&production),
        staged["slug"].as_str().map(String::from)
    );
    let kinds: Vec<String> = shop
        .slug_json(&["env", "log", "production"])
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds, ["promote", "promote", "rollback"]);
}

#[test]
fn promotion_to_an_environment_that_builds_differently_is_refused_unless_forced() {
    let shop = shop();
    shop.add_env("staging", &[]);
    shop.add_env("eu", &["--var", "APP_MODE=developer"]);
    shop.slug_ok(&["deploy", "src", "--env", "staging"]);
    let eu = shop.target("eu");

    let err = fails_with(
        &shop.slug(&["promote", "staging", "--to", "eu"]),
        "would build its source with key",
    );
    assert!(err.contains("--force"), "{err}");
    assert_eq!(current(&eu), None, "a refused promotion changed the target");
    assert!(
        !eu.join("deploys").exists(),
        "a refused promotion left a record"
    );

    let forced = shop.slug_json(&["promote", "staging", "--to", "eu", "--force"]);
    assert_eq!(forced["deploy"]["state"], "success");
    assert_eq!(current(&eu), current(&shop.target("staging")));

    // A deploy to eu builds with its variables, under another key, and that build promotes back to an
    // environment with the same variables only.
    let built = shop.slug_json(&["deploy", "src", "--env", "eu"]);
    assert_eq!(shop.build_runs(), 2, "the eu deploy reused staging's build");
    assert_ne!(built["tree"], forced["deploy"]["tree"]);
    shop.add_env("eu-2", &["--var", "APP_MODE=developer"]);
    shop.slug_ok(&["promote", "eu", "--to", "eu-2"]);
    fails_with(
        &shop.slug(&["promote", "eu", "--to", "staging"]),
        "build key",
    );
}

#[test]
fn bad_names_get_clear_errors_and_change_nothing() {
    let shop = shop();
    shop.add_env("staging", &[]);
    // Unknown environments, wherever one is named.
    for args in [
        &["promote", "staging", "--to", "prod"][..],
        &["deploy", "src", "--env", "prod"],
        &["env", "log", "prod"],
        &["status", "--env", "prod"],
        &["rollback", "--env", "prod"],
    ] {
        fails_with(
            &shop.slug(args),
            "unknown environment `prod` (known: staging)",
        );
    }
    fails_with(
        &shop.slug(&["promote", "staging", "--to", "staging"]),
        "to itself",
    );
    fails_with(
        &shop.slug(&["promote", "staging", "--to", "staging2"]),
        "unknown environment `staging2`",
    );
    shop.add_env("production", &[]);
    fails_with(
        &shop.slug(&["promote", "staging", "--to", "production"]),
        "environment `staging` has no live release",
    );
    fails_with(
        &shop.slug(&["env", "add", "Prod", "--target", "x"]),
        "invalid environment name `Prod`",
    );
    let t = shop.target("staging");
    fails_with(
        &shop.slug(&["env", "add", "other", "--target", t.to_str().unwrap()]),
        "already the target of environment `staging`",
    );
    fails_with(
        &shop.slug(&["env", "add", "x", "--target", "x", "--var", "NOVALUE"]),
        "is not NAME=VALUE",
    );

    // A slug the store no longer has: snapshot, prune it, then name it by its full id.
    let snap = shop.slug_json(&["snapshot", "src"]);
    let id = snap["slug"].as_str().unwrap().to_owned();
    shop.slug_ok(&["prune", "--keep-last", "0"]);
    assert!(shop.slug(&["show", &id]).status.code() != Some(0));
    fails_with(
        &shop.slug(&["promote", &id, "--to", "production"]),
        "is not in the store",
    );
    // A slug not made by a deploy has no build key to check.
    let other = shop.slug_json(&["snapshot", "src", "--ref", "manual"]);
    let err = fails_with(
        &shop.slug(&["promote", "manual", "--to", "production"]),
        "records no build key",
    );
    assert!(
        err.contains(&other["slug"].as_str().unwrap()[..12]),
        "{err}"
    );
    assert_eq!(current(&shop.target("production")), None);
}
