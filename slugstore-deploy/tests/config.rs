//! Phase 1 (configuration validation) against the fixtures in `tests/fixtures/config` and variations
//! of them written to temporary directories.

use std::fs;
use std::path::{Path, PathBuf};

use slugstore_deploy::config::{
    build_key_material, load_project, mount_paths, topology_change, BuildFlavor, Diagnostic,
    MountSource, Project, RouteAction, APP_FILE, DEFAULT_MOUNTS, ROUTES_FILE, SERVICES_FILE,
};
use tempfile::TempDir;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/config")
        .join(name)
}

/// The text of one file of the valid fixture.
fn valid(file: &str) -> String {
    fs::read_to_string(fixture("magento-app").join(file)).unwrap()
}

/// A project directory holding the given files (`None`: the file is absent).
fn project(app: &str, services: Option<&str>, routes: Option<&str>) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join(".magento")).unwrap();
    fs::write(dir.path().join(APP_FILE), app).unwrap();
    if let Some(services) = services {
        fs::write(dir.path().join(SERVICES_FILE), services).unwrap();
    }
    if let Some(routes) = routes {
        fs::write(dir.path().join(ROUTES_FILE), routes).unwrap();
    }
    dir
}

/// The valid fixture with `.magento.app.yaml` edited by `edit`.
fn with_app(edit: impl FnOnce(String) -> String) -> TempDir {
    project(
        &edit(valid(APP_FILE)),
        Some(&valid(SERVICES_FILE)),
        Some(&valid(ROUTES_FILE)),
    )
}

fn load_ok(dir: &Path) -> Project {
    load_project(dir).unwrap_or_else(|d| {
        panic!(
            "expected a valid project, got:\n{}",
            Diagnostic::render_all(&d)
        )
    })
}

fn load_err(dir: &Path) -> Vec<Diagnostic> {
    match load_project(dir) {
        Ok(_) => panic!("expected diagnostics for {}", dir.display()),
        Err(d) => d,
    }
}

#[test]
fn the_valid_fixture_loads_into_typed_values() {
    let p = load_ok(&fixture("magento-app"));
    let app = &p.app;
    assert_eq!(app.name, "storefront");
    assert_eq!(app.runtime.to_string(), "php:8.3");
    assert_eq!(app.build_flavor, Some(BuildFlavor::None));
    assert_eq!(app.dependencies["php"]["composer/composer"], "2.7.2");
    assert_eq!(app.disk, Some(5120));
    let rels: Vec<(&str, &str, Option<&str>)> = app
        .relationships
        .iter()
        .map(|(k, r)| (k.as_str(), r.service.as_str(), r.endpoint.as_deref()))
        .collect();
    assert_eq!(
        rels,
        [
            ("database", "db", Some("mysql")),
            ("opensearch", "search", Some("opensearch")),
            ("redis", "cache", Some("redis"))
        ]
    );
    let mounts: Vec<(&str, MountSource, &str)> = app
        .mounts
        .iter()
        .map(|m| (m.path.as_str(), m.source, m.source_path.as_str()))
        .collect();
    assert_eq!(
        mounts,
        [
            ("var", MountSource::Local, "var"),
            ("app/etc", MountSource::Local, "etc"),
            ("pub/media", MountSource::Local, "media"),
            ("pub/static", MountSource::Local, "static"),
        ]
    );
    assert!(app
        .hooks
        .build
        .as_deref()
        .unwrap()
        .starts_with("set -e\ncomposer install"));
    assert_eq!(
        app.hooks.deploy.as_deref(),
        Some("php ./vendor/bin/ece-tools run scenario/deploy.xml\n")
    );
    assert_eq!(
        app.hooks.post_deploy.as_deref(),
        Some("php ./vendor/bin/ece-tools run scenario/post-deploy.xml\n")
    );
    assert_eq!(
        app.env.get("APP_MODE").map(String::as_str),
        Some("production")
    );
    assert_eq!(app.scd_compression_level, Some(6));
    let services: Vec<String> = p
        .services
        .iter()
        .map(|(n, s)| format!("{n}={}", s.kind))
        .collect();
    assert_eq!(
        services,
        ["cache=redis:7.2", "db=mysql:10.6", "search=opensearch:2"]
    );
    assert_eq!(p.services["db"].disk, Some(2048));
    assert_eq!(p.routes.len(), 3);
    assert_eq!(p.routes[0].url, "https://{default}/");
    assert_eq!(
        p.routes[0].action,
        RouteAction::Upstream {
            app: "storefront".into(),
            protocol: "http".into()
        }
    );
    assert_eq!(
        p.routes[1].action,
        RouteAction::Redirect {
            to: "https://{default}/".into()
        }
    );
}

/// One row of `tests/fixtures/config/EXPECTED.md`.
struct Case {
    dir: &'static str,
    file: &'static str,
    line: Option<u32>,
    path: &'static str,
    says: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        dir: "yaml-syntax",
        file: APP_FILE,
        line: Some(3),
        path: "type",
        says: &[
            "YAML syntax error",
            "unterminated quoted scalar",
            "line 5, column 1",
        ],
    },
    Case {
        dir: "name-uppercase",
        file: APP_FILE,
        line: Some(2),
        path: "name",
        says: &[
            "must be lowercase letters, digits, `-` or `_`",
            "`StoreFront`",
        ],
    },
    Case {
        dir: "disk-too-small",
        file: APP_FILE,
        line: Some(22),
        path: "disk",
        says: &["must be at least 128 (MB), found 64"],
    },
    Case {
        dir: "mount-unknown-source",
        file: APP_FILE,
        line: Some(27),
        path: r#"mounts."pub/media".source"#,
        says: &["`shared` is not one of local, service, tmp"],
    },
    Case {
        dir: "mount-overlap",
        file: APP_FILE,
        line: Some(26),
        path: r#"mounts."var/cache""#,
        says: &["mounts `var` (line 25) and `var/cache` overlap"],
    },
    Case {
        dir: "relationship-unknown-service",
        file: APP_FILE,
        line: Some(18),
        path: "relationships.database",
        says: &[
            "relationship `database` names service `nosuch`, not defined in .magento/services.yaml",
        ],
    },
    Case {
        dir: "route-unknown-upstream",
        file: ROUTES_FILE,
        line: Some(3),
        path: r#""https://{default}/".upstream"#,
        says: &["upstream `backend:http` names no application (the app is `storefront`)"],
    },
    Case {
        dir: "service-type-no-version",
        file: SERVICES_FILE,
        line: Some(6),
        path: "cache.type",
        says: &["must be `kind:version`", "found `redis`"],
    },
    Case {
        dir: "service-duplicate-key",
        file: SERVICES_FILE,
        line: Some(12),
        path: "db",
        says: &["duplicate key `db`", "first defined at line 1"],
    },
    Case {
        dir: "hook-not-a-script",
        file: APP_FILE,
        line: Some(54),
        path: "hooks.deploy",
        says: &["must be a string (a shell script), found a sequence"],
    },
    Case {
        dir: "cron-spec-range",
        file: APP_FILE,
        line: Some(61),
        path: "crons.magento.spec",
        says: &["invalid cron spec: hour: 24 is out of range 0-23"],
    },
    Case {
        dir: "compression-level-range",
        file: APP_FILE,
        line: Some(68),
        path: "variables.env.SCD_COMPRESSION_LEVEL",
        says: &["must be 0-9, found 12"],
    },
    Case {
        dir: "local-mount-without-disk",
        file: APP_FILE,
        line: Some(26),
        path: r#"mounts."pub/media""#,
        says: &[
            "a mount with `source: local` needs `disk`",
            "`var`, `app/etc`, `pub/static` also use local storage",
        ],
    },
    Case {
        dir: "route-missing-type",
        file: ROUTES_FILE,
        line: Some(7),
        path: r#""https://www.{default}/".type"#,
        says: &["route `https://www.{default}/` has no `type` (upstream or redirect)"],
    },
    Case {
        dir: "missing-services-file",
        file: SERVICES_FILE,
        line: None,
        path: "",
        says: &[
            "the file is missing",
            "relationship `database`",
            "relationship `redis`",
        ],
    },
];

#[test]
fn every_invalid_fixture_gets_exactly_its_error() {
    let dirs = fs::read_dir(fixture("invalid")).unwrap().count();
    assert_eq!(dirs, CASES.len(), "every fixture under invalid/ has a case");
    for case in CASES {
        let diagnostics = load_err(&fixture("invalid").join(case.dir));
        let rendered = Diagnostic::render_all(&diagnostics);
        assert_eq!(
            diagnostics.len(),
            1,
            "{}: one defect, one diagnostic:\n{rendered}",
            case.dir
        );
        let d = &diagnostics[0];
        assert_eq!(d.file, case.file, "{}: {rendered}", case.dir);
        assert_eq!(d.pos.map(|p| p.line), case.line, "{}: {rendered}", case.dir);
        assert_eq!(d.path, case.path, "{}: {rendered}", case.dir);
        for fragment in case.says {
            assert!(
                d.message.contains(fragment),
                "{}: `{fragment}` not in: {rendered}",
                case.dir
            );
        }
        let location = match d.pos {
            Some(p) => format!("{}:{}:{}: ", case.file, p.line, p.column),
            None => format!("{}: ", case.file),
        };
        assert!(rendered.starts_with(&location), "{}: {rendered}", case.dir);
    }
}

#[test]
fn columns_point_at_the_offending_value() {
    let disk = &load_err(&fixture("invalid/disk-too-small"))[0];
    assert_eq!(
        disk.to_string(),
        ".magento.app.yaml:22:7: disk: must be at least 128 (MB), found 64"
    );
    let source = &load_err(&fixture("invalid/mount-unknown-source"))[0];
    assert_eq!(source.pos.map(|p| p.column), Some(26));
    let syntax = &load_err(&fixture("invalid/yaml-syntax"))[0];
    assert_eq!(
        syntax.pos.map(|p| p.column),
        Some(7),
        "the opening quote of `\"php:8.3`"
    );
}

#[test]
fn every_defect_of_every_file_is_reported_in_one_run() {
    let app = valid(APP_FILE)
        .replace("name: storefront", "name: Store Front")
        .replace("disk: 5120", "disk: 100")
        .replace("  deploy: |\n    php", "  deploy:\n    - php")
        .replace(
            "SCD_COMPRESSION_LEVEL: \"6\"",
            "SCD_COMPRESSION_LEVEL: high",
        )
        .replace("flavor: none", "flavor: npm");
    let services = valid(SERVICES_FILE).replace("type: redis:7.2", "type: redis");
    let routes = valid(ROUTES_FILE).replace(
        "  type: redirect\n  to: \"https://{default}/\"",
        "  to: \"https://{default}/\"",
    );
    let dir = project(&app, Some(&services), Some(&routes));
    let found: Vec<(String, u32, String)> = load_err(dir.path())
        .into_iter()
        .map(|d| (d.file, d.pos.unwrap().line, d.path))
        .collect();
    let expected = [
        (APP_FILE, 2, "name"),
        (APP_FILE, 6, "build.flavor"),
        (APP_FILE, 22, "disk"),
        (APP_FILE, 54, "hooks.deploy"),
        (APP_FILE, 68, "variables.env.SCD_COMPRESSION_LEVEL"),
        (SERVICES_FILE, 6, "cache.type"),
        (ROUTES_FILE, 7, r#""https://www.{default}/".type"#),
    ];
    let expected: Vec<(String, u32, String)> = expected
        .iter()
        .map(|(f, l, p)| (f.to_string(), *l, p.to_string()))
        .collect();
    assert_eq!(found, expected);
}

#[test]
fn a_broken_file_does_not_cascade_into_other_files() {
    // The services file does not parse: relationships are not also reported as naming unknown services.
    let services = valid(SERVICES_FILE) + "bad: [unclosed\n";
    let dir = project(&valid(APP_FILE), Some(&services), Some(&valid(ROUTES_FILE)));
    let diagnostics = load_err(dir.path());
    assert_eq!(
        diagnostics.len(),
        1,
        "{}",
        Diagnostic::render_all(&diagnostics)
    );
    assert_eq!(diagnostics[0].file, SERVICES_FILE);
    assert!(diagnostics[0].message.starts_with("YAML syntax error"));
}

#[test]
fn unknown_keys_are_accepted() {
    let dir = with_app(|app| {
        app.replace(
            "disk: 5120",
            "disk: 5120\nfirewall: {outbound: [{domains: [example.com]}]}\nsize: L",
        )
        .replace(
            "source_path: media }",
            "source_path: media, future_option: 3 }",
        )
    });
    let p = load_ok(dir.path());
    assert_eq!(p.app.disk, Some(5120));
}

#[test]
fn both_mount_syntaxes_are_read_and_normalized() {
    // A mount path's leading `/` is optional; a source_path is a path inside the storage (a trailing `/`
    // is normalized away, a leading one is refused as absolute: see mount_source_paths_*).
    let mounts = "mounts:\n  \"/var/\": \"shared:files/var\"\n  \"pub/media\": { source: local, source_path: media/ }\n  \
                  tmp: { source: tmp }\n  \".ssh\": \"shared:files/ssh\"\n  files: { source: service, service: nfs, source_path: f }\n";
    let app = valid(APP_FILE).replace(
        &valid(APP_FILE)
            [valid(APP_FILE).find("mounts:").unwrap()..valid(APP_FILE).find("web:").unwrap()],
        mounts,
    );
    let services = valid(SERVICES_FILE) + "\nnfs:\n  type: network-storage:2.0\n  disk: 512\n";
    let dir = project(&app, Some(&services), None);
    let p = load_ok(dir.path());
    let found: Vec<String> = p
        .app
        .mounts
        .iter()
        .map(|m| format!("{} {m}", m.path))
        .collect();
    assert_eq!(
        found,
        [
            "var local:var",
            "pub/media local:media",
            "tmp tmp:tmp",
            "files service:f@nfs"
        ]
    );
    assert_eq!(
        mount_paths(dir.path()).unwrap(),
        ["var", "pub/media", "tmp", "files"]
    );
}

#[test]
fn mount_rules() {
    let cases: &[(&str, &str, u32, &str)] = &[
        (
            "  \"/var\": \"shared:files/other\"\n",
            "mount `var` is already defined at line 25",
            29,
            r#"mounts."/var""#,
        ),
        (
            "  \"pub\": { source: tmp }\n",
            "mounts `pub/media` (line 27) and `pub` overlap",
            29,
            "mounts.pub",
        ),
        (
            "  \"x\": \"shared:tmp/x\"\n",
            "must be `shared:files/<path>`",
            29,
            "mounts.x",
        ),
        (
            "  \"y\": { source: service }\n",
            "is required with `source: service`",
            29,
            "mounts.y.service",
        ),
        (
            "  \"z\": { source: service, service: db }\n",
            "service `db` is `mysql:10.6`, but a mount needs a `network-storage` service",
            29,
            "mounts.z.service",
        ),
        (
            "  \"a/../b\": \"shared:files/b\"\n",
            "no empty, `.` or `..` components",
            29,
            r#"mounts."a/../b""#,
        ),
    ];
    for (extra, says, line, path) in cases {
        let dir = with_app(|app| app.replace("\nweb:", &format!("{extra}\nweb:")));
        let diagnostics = load_err(dir.path());
        let rendered = Diagnostic::render_all(&diagnostics);
        assert_eq!(diagnostics.len(), 1, "{rendered}");
        assert!(diagnostics[0].message.contains(says), "{rendered}");
        assert_eq!(diagnostics[0].pos.unwrap().line, *line, "{rendered}");
        assert_eq!(diagnostics[0].path, *path, "{rendered}");
    }
}

#[test]
fn mount_paths_defaults_and_errors() {
    let empty = tempfile::tempdir().unwrap();
    assert_eq!(mount_paths(empty.path()).unwrap(), DEFAULT_MOUNTS);
    assert_eq!(
        mount_paths(&fixture("magento-app")).unwrap(),
        ["var", "app/etc", "pub/media", "pub/static"]
    );
    // The services file is not read: a project without one still has mounts.
    assert_eq!(
        mount_paths(&fixture("invalid/missing-services-file"))
            .unwrap()
            .len(),
        4
    );
    let err = mount_paths(&fixture("invalid/mount-overlap")).unwrap_err();
    let text = err.to_string();
    let file = fixture("invalid/mount-overlap").join(APP_FILE);
    assert!(
        text.starts_with(&format!("{}:26:3: ", file.display())),
        "{text}"
    );
    assert!(matches!(err, slugstore_deploy::Error::Config(ref d) if d.len() == 1));
}

#[test]
fn relationships_in_all_three_forms() {
    let dir = with_app(|app| {
        app.replace(
            "  redis: \"cache:redis\"",
            "  cache:\n  db2: { service: db }",
        )
    });
    let p = load_ok(dir.path());
    assert_eq!(p.app.relationships["cache"].service, "cache");
    assert_eq!(p.app.relationships["cache"].endpoint, None);
    assert_eq!(p.app.relationships["db2"].service, "db");

    let dir = with_app(|app| app.replace("\"db:mysql\"", "\"db\""));
    let d = load_err(dir.path());
    assert_eq!(
        d[0].to_string(),
        ".magento.app.yaml:18:13: relationships.database: must be `service:endpoint`, found `db`"
    );
}

#[test]
fn sections_of_the_wrong_shape_are_reported() {
    let dir = with_app(|app| app.replace("build:\n  flavor: none", "build: composer"));
    let d = load_err(dir.path());
    assert_eq!(d.len(), 1, "{}", Diagnostic::render_all(&d));
    assert_eq!(
        d[0].to_string(),
        ".magento.app.yaml:5:8: build: must be a mapping, found `composer`"
    );
}

#[test]
fn a_missing_services_file_is_fine_when_nothing_needs_it() {
    let app = valid(APP_FILE);
    let start = app.find("relationships:").unwrap();
    let end = app.find("disk:").unwrap();
    let dir = project(&format!("{}{}", &app[..start], &app[end..]), None, None);
    let p = load_ok(dir.path());
    assert!(p.services.is_empty() && p.routes.is_empty());
}

#[test]
fn a_missing_application_file_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let d = load_err(dir.path());
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].file, APP_FILE);
    assert!(d[0].message.starts_with("the file is missing"));
}

#[test]
fn non_utf8_text_is_located() {
    let mut bytes = valid(APP_FILE).into_bytes();
    let at = bytes
        .windows(16)
        .position(|w| w == b"name: storefront")
        .unwrap();
    bytes[at + 11] = 0xff;
    let dir = with_app(|a| a);
    fs::write(dir.path().join(APP_FILE), bytes).unwrap();
    let d = load_err(dir.path());
    assert_eq!(
        d[0].to_string(),
        ".magento.app.yaml:2:12: is not valid UTF-8 text"
    );
}

/// A billion-laughs document small enough to write by hand must be refused, not expanded.
#[test]
fn an_alias_bomb_is_refused() {
    let mut app = String::from(
        "name: app\ntype: php:8.3\nx0: &x0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n",
    );
    for level in 1..12 {
        let refs = vec![format!("*x{}", level - 1); 10].join(",");
        app.push_str(&format!("x{level}: &x{level} [{refs}]\n"));
    }
    assert!(app.len() < 2048);
    let dir = project(&app, None, None);
    let d = load_err(dir.path());
    assert_eq!(d.len(), 1);
    assert!(d[0].message.contains("refusing to expand"), "{}", d[0]);
    assert!(d[0].pos.is_some());
}

#[test]
fn diagnostics_serialize_to_json_with_their_location() {
    let d = &load_err(&fixture("invalid/disk-too-small"))[0];
    let json = serde_json::to_value(d).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "file": ".magento.app.yaml", "line": 22, "column": 7, "path": "disk",
            "message": "must be at least 128 (MB), found 64"
        })
    );
}

#[test]
fn topology_changes_are_listed() {
    let old = load_ok(&fixture("magento-app"));
    let services = valid(SERVICES_FILE)
        .replace("type: mysql:10.6", "type: mysql:11.4")
        .replace("cache:\n  type: redis:7.2\n", "")
        .replace("\nsearch:", "\nqueue:\n  type: rabbitmq:3.13\n\nsearch:");
    let app = valid(APP_FILE)
        .replace("  redis: \"cache:redis\"\n", "")
        .replace(
            "  \"var\": \"shared:files/var\"\n",
            "  \"var\": \"shared:files/var\"\n  \"tmp\": { source: tmp }\n",
        )
        .replace("  \"app/etc\": \"shared:files/etc\"\n", "")
        .replace("source_path: media", "source_path: media2");
    let dir = project(&app, Some(&services), Some(&valid(ROUTES_FILE)));
    let new = load_ok(dir.path());
    let change = topology_change(&old, &new);
    assert_eq!(
        change.to_string(),
        "+ service queue (rabbitmq:3.13)\n\
         - service cache (redis:7.2)\n\
         ~ service db: mysql:10.6 -> mysql:11.4\n\
         + mount tmp (tmp:tmp)\n\
         - mount app/etc (local:etc)\n\
         ~ mount pub/media: local:media -> local:media2"
    );
    let same = topology_change(&old, &old);
    assert!(same.is_empty());
    assert_eq!(same.to_string(), "no topology change");
}

#[test]
fn the_build_key_follows_meaning_not_formatting() {
    let base = build_key_material(&load_ok(&fixture("magento-app")));
    let key = |edit: fn(String) -> String| build_key_material(&load_ok(with_app(edit).path()));

    // Reordered sections, comments and deploy-time settings do not change the build.
    let reordered = key(|app| {
        let vars = app.find("variables:").unwrap();
        format!("{}\n# moved\n{}", &app[vars..], &app[..vars])
            .replace("APP_MODE: production\n", "APP_MODE: production # prod\n")
    });
    assert_eq!(reordered, base);
    assert_eq!(
        key(|app| app.replace("scenario/deploy.xml", "scenario/other.xml")),
        base
    );
    assert_eq!(key(|app| app.replace("disk: 5120", "disk: 6000")), base);

    // What shapes the build does.
    for edit in [
        (|app: String| app.replace("composer install", "composer install -o"))
            as fn(String) -> String,
        |app| app.replace("APP_MODE: production", "APP_MODE: developer"),
        |app| app.replace("type: php:8.3", "type: php:8.4"),
        |app| app.replace("flavor: none", "flavor: composer"),
        |app| app.replace("\"2.7.2\"", "\"2.7.3\""),
    ] {
        assert_ne!(key(edit), base);
    }
    let text = String::from_utf8(base).unwrap();
    assert!(
        text.contains(
            r#""variables":{"env":{"APP_MODE":"production","SCD_COMPRESSION_LEVEL":"6"}}"#
        ),
        "{text}"
    );
}

#[test]
fn a_slugs_configuration_over_the_size_limit_is_refused_naming_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let store = slugstore::Store::init(
        &dir.path().join("store"),
        &slugstore::store::OpenOptions::default(),
    )
    .unwrap();
    // A tree whose application file is 1 MiB + 1 byte cannot be snapshotted (the scan refuses it),
    // but an archive can carry one into a slug.
    let mut app = valid(APP_FILE).into_bytes();
    app.resize((1 << 20) + 1, b'\n');
    let mut tar = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_ustar();
    header.set_size(app.len() as u64);
    header.set_mode(0o644);
    tar.append_data(&mut header, APP_FILE, &app[..]).unwrap();
    let archive = tar.into_inner().unwrap();
    let opts = slugstore::archive::ImportOptions::default();
    let imported = slugstore::archive::import(
        &store,
        &mut &archive[..],
        "big.tar",
        None,
        &opts,
        &slugstore::NoProgress,
    )
    .unwrap();
    let err = slugstore_deploy::deploy::source::slug_project(&store, &imported.slug)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(".magento.app.yaml: is 1048577 bytes, over the limit of 1 MiB"),
        "{err}"
    );
}
