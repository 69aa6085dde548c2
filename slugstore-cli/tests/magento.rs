//! A Magento-Cloud-shaped project deployed end to end and checked as the application sees it: through
//! `current/` and from inside its hooks, never by reading slugstore's own directories.

use slugstore_tests::deadline::Deadline;
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use slugstore_tests::magento::{Magento, SERVICES};
use slugstore_tests::project::stderr;

fn magento() -> Magento {
    Magento::new(Path::new(env!("CARGO_BIN_EXE_slug")))
}

/// `NAME=VALUE` lines of a file a hook wrote.
fn env_file(path: &Path) -> BTreeMap<String, String> {
    fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
}

fn production(m: &Magento) {
    m.add_env_with_services("production", "shop.example.com");
}

#[test]
fn a_magento_project_deploys_as_the_platform_would() {
    let m = magento();
    production(&m);
    let out = m.deploy("production");
    assert!(out.status.success(), "deploy failed: {}", stderr(&out));

    // The files ece-tools' deploy reads are where the application looks, through every mount syntax.
    let env_php = m.live("production", "app/etc/env.php");
    assert_eq!(
        fs::read_to_string(&env_php).unwrap(),
        "<?php return [\"db\" => \"from-build\"];\n"
    );
    assert!(m.live("production", "app/etc/config.php").is_file());
    assert!(m.live("production", "app/etc/env.php.bak").is_file());
    assert!(m
        .live("production", "pub/static/deployed_version.txt")
        .is_file());
    assert!(m
        .live("production", "pub/media/catalog/placeholder.jpg")
        .is_file());
    assert_eq!(
        fs::read_to_string(m.live("production", "app/etc/deploy-hook.txt")).unwrap(),
        "written-by-deploy\n",
        "the deploy hook's write through app/etc is visible to the live application"
    );
    // generated/ (a mapping without source_path) is a writable mount too.
    fs::write(m.live("production", "generated/code.php"), "x").unwrap();
    // SCD_COMPRESSION_LEVEL 4 from the build stage of .magento.env.yaml: the assets are gzipped.
    let js = "pub/static/frontend/Magento/luma/en_US/requirejs-config.js";
    let gz = m.live("production", &format!("{js}.gz"));
    assert!(gz.is_file(), "no {}", gz.display());
    assert!(std::process::Command::new("gzip")
        .arg("-t")
        .arg(&gz)
        .status_deadline()
        .success());

    // PLATFORM_RELATIONSHIPS, decoded by the deploy hook, holds the endpoints given.
    let rel = json(&m.live("production", "var/relationships.json"));
    let db = &rel["database"][0];
    assert_eq!(db["host"], "db.internal");
    assert_eq!(db["port"], 3306);
    assert_eq!(db["scheme"], "mysql");
    assert_eq!(db["username"], "magento");
    assert_eq!(db["password"], "db@secret");
    assert_eq!(db["path"], "main");
    assert_eq!(db["service"], "mysql");
    assert_eq!(db["rel"], "mysql");
    assert_eq!(db["type"], "mysql:10.6");
    assert_eq!(rel["redis"][0]["host"], "cache.internal");
    assert_eq!(rel["redis"][0]["port"], 6379);
    // PLATFORM_ROUTES: routes.yaml with {default} expanded to the environment's domain.
    let routes = json(&m.live("production", "var/routes.json"));
    assert_eq!(routes["https://shop.example.com/"]["type"], "upstream");
    assert_eq!(routes["https://shop.example.com/"]["upstream"], "mymagento");
    assert_eq!(
        routes["https://shop.example.com/"]["original_url"],
        "https://{default}/"
    );
    assert_eq!(
        routes["https://www.shop.example.com/"]["to"],
        "https://shop.example.com/"
    );
    // PLATFORM_VARIABLES: every `variables` entry as prefix:name.
    let vars = json(&m.live("production", "var/variables.json"));
    assert_eq!(vars["php:memory_limit"], "2G");
    assert_eq!(vars["env:APP_MODE"], "production");

    // Each hook saw the platform's variables and its own stage of .magento.env.yaml.
    let release = m.live("production", "");
    let deploy = env_file(&m.live("production", "var/deploy-env.txt"));
    assert_eq!(deploy["PLATFORM_APPLICATION_NAME"], "mymagento");
    assert_eq!(deploy["PLATFORM_PROJECT"], "mymagento");
    assert_eq!(deploy["PLATFORM_ENVIRONMENT"], "production");
    assert_eq!(deploy["PLATFORM_BRANCH"], "production");
    assert_eq!(deploy["PLATFORM_MODE"], "deploy");
    assert_eq!(deploy["PLATFORM_TREE_ID"].len(), 64);
    assert_eq!(
        Path::new(&deploy["PLATFORM_APP_DIR"])
            .canonicalize()
            .unwrap(),
        release.canonicalize().unwrap()
    );
    assert_eq!(deploy["STAGE_NAME"], "deploy");
    assert_eq!(deploy["GLOBAL_FLAG"], "true");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&deploy["STAGE_CONSUMERS"]).unwrap(),
        serde_json::json!({"cron_run": false, "consumers": ["exportProcessor"]})
    );
    let post = env_file(&m.live("production", "var/post-deploy-env.txt"));
    assert_eq!(post["STAGE_NAME"], "post-deploy");
    assert_eq!(post["PLATFORM_MODE"], "post_deploy");
    // The build ran without the environment, as on the platform (one build, many environments).
    let build = env_file(&m.live("production", "build-env.txt"));
    assert_eq!(build["STAGE_NAME"], "build");
    assert_eq!(build["PLATFORM_APPLICATION_NAME"], "mymagento");
    assert_eq!(build["PLATFORM_TREE_ID"], deploy["PLATFORM_TREE_ID"]);
    assert!(build.contains_key("PLATFORM_VARIABLES"));
    // A directory kept between builds of the target, for composer's download cache and the like.
    assert!(Path::new(&build["PLATFORM_CACHE_DIR"]).is_dir());
    for absent in [
        "PLATFORM_ENVIRONMENT",
        "PLATFORM_RELATIONSHIPS",
        "PLATFORM_ROUTES",
    ] {
        assert!(!build.contains_key(absent), "{absent} at build");
    }
    assert!(!m.live("production", "var/.maintenance.flag").exists());

    // The password never appears in what slugstore shows or logs.
    for args in [
        &["--json", "env", "show", "production"][..],
        &["env", "show", "production"],
        &["--json", "env", "ls"],
        &["--json", "status", "--env", "production"],
        &["log", "--env", "production"],
    ] {
        let out = m.slug_ok(args);
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
        assert!(
            !text.contains("db@secret") && !text.contains("db%40secret"),
            "{args:?}: {text}"
        );
    }
    let shown = m.slug_ok(&["--json", "env", "show", "production"]);
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(
        shown["environment"]["services"]["database"],
        "mysql://magento:***@db.internal:3306/main"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(m.root.join("store/environments.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o077,
        0,
        "the registry holding passwords is readable by others"
    );
}

#[test]
fn a_relationship_without_an_endpoint_fails_phase_one_by_name() {
    let m = magento();
    m.add_env("production", &["--service", SERVICES[0]]);
    let out = m.deploy("production");
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("failed in phase validate"), "{err}");
    assert!(
        err.contains(
            "relationship `redis` (service `redis`) has no endpoint in environment `production`"
        ),
        "{err}"
    );
    assert!(!m.target("production").join("current").exists());
    assert!(
        !m.target("production").join("build").exists(),
        "something was built"
    );

    // Named by service instead of relationship, it is found; then the deploy succeeds.
    m.slug_ok(&[
        "env",
        "set",
        "production",
        "--service",
        "redis=redis://cache.internal:6379",
    ]);
    let out = m.deploy("production");
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn compression_level_zero_in_magento_env_yaml_disables_compression() {
    let m = magento();
    production(&m);
    m.write(
        ".magento.env.yaml",
        "stage:\n  build:\n    SCD_COMPRESSION_LEVEL: 0\n",
    );
    let out = m.deploy("production");
    assert!(out.status.success(), "{}", stderr(&out));
    let dir = m.live("production", "pub/static/frontend/Magento/luma/en_US");
    let names: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["requirejs-config.js".to_owned()]);
}

#[test]
fn a_bad_magento_env_yaml_is_refused_with_its_line() {
    let m = magento();
    for (text, expected) in [
        (
            "stage:\n  build:\n    SCD_COMPRESSION_LEVEL: 12\n",
            ".magento.env.yaml:3:28: stage.build.SCD_COMPRESSION_LEVEL: must be 0-9, found 12",
        ),
        (
            "stage:\n  deploy:\n    X: 1\n  predeploy:\n    Y: 2\n",
            ".magento.env.yaml:4:3: stage.predeploy: unknown stage `predeploy`",
        ),
        (
            "stage:\n  build: [SCD_COMPRESSION_LEVEL]\n",
            ".magento.env.yaml:2:3: stage.build: must be a mapping, found a sequence",
        ),
        (
            "stage:\n  global:\n    SCD_COMPRESSION_TIMEOUT: soon\n",
            "stage.global.SCD_COMPRESSION_TIMEOUT: must be a whole number of seconds, found `soon`",
        ),
    ] {
        m.write(".magento.env.yaml", text);
        let out = m.slug(&["validate", "src"]);
        assert!(!out.status.success(), "accepted:\n{text}");
        let printed = String::from_utf8_lossy(&out.stdout);
        assert!(printed.contains(expected), "{text}\n---\n{printed}");
    }
}

#[test]
fn mount_source_paths_outside_the_storage_are_refused_by_validate() {
    let m = magento();
    let app = slugstore_tests::magento::APP_YAML;
    for (from, to, expected) in [
        (
            "\"generated\": { source: local }",
            "\"generated\": { source: local, source_path: /srv/generated }",
            "mounts.generated.source_path: source_path `/srv/generated` is absolute",
        ),
        (
            "\"app/etc\": \"shared:files/etc\"",
            "\"app/etc\": \"shared:files/../etc\"",
            "source_path `../etc` holds `..`",
        ),
        (
            "\"generated\": { source: local }",
            "\"generated\": { source: local, source_path: a/../../b }",
            "source_path `a/../../b` holds `..`",
        ),
    ] {
        m.write(".magento.app.yaml", &app.replace(from, to));
        let out = m.slug(&["validate", "src"]);
        assert!(!out.status.success(), "accepted {to}");
        let printed = String::from_utf8_lossy(&out.stdout);
        assert!(
            printed.contains(".magento.app.yaml:") && printed.contains(expected),
            "{to}\n---\n{printed}"
        );
    }
}

#[test]
fn without_mounts_the_release_is_read_only_and_validate_says_what_cannot_work() {
    let m = magento();
    let app = slugstore_tests::magento::APP_YAML;
    let start = app.find("mounts:").unwrap();
    let end = app.find("hooks:").unwrap();
    let mut no_mounts = format!("{}{}", &app[..start], &app[end..]);
    // Nothing is writable: the deploy hook can only read.
    let deploy_start = no_mounts.find("  deploy: |").unwrap();
    let post_start = no_mounts.find("  post_deploy: |").unwrap();
    no_mounts.replace_range(
        deploy_start..post_start,
        "  deploy: |\n    set -e\n    test -f app/etc/env.php\n    test -f pub/static/deployed_version.txt\n    ! touch var/x 2>/dev/null\n",
    );
    no_mounts = no_mounts.replace(
        "  post_deploy: |\n    env | grep -E '^(PLATFORM_|STAGE_|GLOBAL_)' | grep -v -E '^PLATFORM_(RELATIONSHIPS|ROUTES|VARIABLES)=' | sort > var/post-deploy-env.txt\n",
        "",
    );
    m.write(".magento.app.yaml", &no_mounts);
    let out = m.slug_ok(&["validate", "src"]);
    let err = stderr(&out);
    for what in [
        "warning: src/.magento.app.yaml: mounts: no mount covers `var`: the maintenance flag",
        "no mount covers `app/etc`",
        "no mount covers `pub/media`",
    ] {
        assert!(err.contains(what), "{err}");
    }
    let out = m.slug_ok(&["--json", "validate", "src"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["warnings"].as_array().unwrap().len(), 3, "{v}");

    production(&m);
    let out = m.deploy("production");
    assert!(out.status.success(), "{}", stderr(&out));
    // The build output stays in the release (nothing moved to init/ for a mount that is not there).
    let static_file = m.live("production", "pub/static/deployed_version.txt");
    assert!(static_file.is_file());
    assert!(!m.live("production", "pub/static").is_symlink());
    assert!(!m.live("production", "init/pub/static").exists());
    // Nothing of the target's storage is used.
    let shared: Vec<_> = fs::read_dir(m.target("production").join("shared"))
        .unwrap()
        .collect();
    assert!(shared.is_empty(), "{shared:?}");
    let log =
        String::from_utf8_lossy(&m.slug_ok(&["log", "--env", "production"]).stdout).into_owned();
    assert!(
        log.contains(
            "no mount covers var/.maintenance.flag: the deploy hook runs without maintenance mode"
        ),
        "{log}"
    );
}

#[test]
fn a_target_deployed_with_the_old_mount_layout_is_repaired_without_losing_data() {
    let m = magento();
    production(&m);
    let out = m.deploy("production");
    assert!(out.status.success(), "{}", stderr(&out));
    let shared = m.target("production").join("shared");
    // The layout earlier versions left: init content, backups and static links under the mount
    // paths, while the application wrote through its links into the storage.
    fs::create_dir_all(shared.join("app/etc")).unwrap();
    fs::write(shared.join("app/etc/env.php"), "stale build copy").unwrap();
    fs::write(shared.join("app/etc/env.php.bak"), "old backup").unwrap();
    fs::write(shared.join("app/etc/only-in-old-layout.php"), "keep me").unwrap();
    fs::create_dir_all(shared.join("pub/static")).unwrap();
    std::os::unix::fs::symlink(
        "../../../current/init/pub/static/frontend",
        shared.join("pub/static/frontend"),
    )
    .unwrap();
    fs::create_dir_all(shared.join("pub/media/catalog")).unwrap();
    fs::write(shared.join("pub/media/catalog/old-upload.jpg"), "upload").unwrap();
    fs::write(
        m.live("production", "app/etc/env.php"),
        "written by the application",
    )
    .unwrap();
    fs::write(m.live("production", "pub/media/new-upload.jpg"), "new").unwrap();

    m.write("app/code/Vendor/Module/etc.php", "<?php // v2\n");
    let out = m.deploy("production");
    assert!(out.status.success(), "{}", stderr(&out));

    assert_eq!(
        fs::read_to_string(m.live("production", "app/etc/env.php")).unwrap(),
        "written by the application"
    );
    assert_eq!(
        fs::read_to_string(m.live("production", "app/etc/only-in-old-layout.php")).unwrap(),
        "keep me"
    );
    assert_eq!(
        fs::read_to_string(m.live("production", "pub/media/catalog/old-upload.jpg")).unwrap(),
        "upload"
    );
    assert_eq!(
        fs::read_to_string(m.live("production", "pub/media/new-upload.jpg")).unwrap(),
        "new"
    );
    assert!(m
        .live("production", "pub/static/deployed_version.txt")
        .is_file());
    // The stale build copy that clashed is kept aside, not dropped.
    assert_eq!(
        fs::read_to_string(shared.join(".old-layout/app/etc/env.php")).unwrap(),
        "stale build copy"
    );
    assert!(!shared.join("pub").exists() && !shared.join("app").exists());
    let log =
        String::from_utf8_lossy(&m.slug_ok(&["log", "--env", "production"]).stdout).into_owned();
    assert!(log.contains("repaired the mount layout"), "{log}");
}

#[test]
fn diff_takes_environment_names() {
    let m = magento();
    production(&m);
    m.add_env_with_services("staging", "staging.example.com");
    assert!(m.deploy("production").status.success());
    m.write("app/code/Vendor/Module/Model.php", "<?php // new\n");
    assert!(m.deploy("staging").status.success());
    let out = m.slug_ok(&["diff", "production", "staging", "--name-only"]);
    let text = String::from_utf8_lossy(&out.stdout);
    // The new source file, and the build's record of its environment (its tree id changed).
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        ["app/code/Vendor/Module/Model.php", "build-env.txt"],
        "{text}"
    );
    let out = m.slug(&["diff", "production", "nowhere"]);
    assert!(!out.status.success());
}
