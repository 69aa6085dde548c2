//! A Magento-Cloud-shaped project: the three YAML files and `.magento.env.yaml`, the usual mounts
//! written in each syntax the platform accepts, and hooks that check, from inside the release, what
//! ece-tools' deploy reads (`app/etc/env.php`, `app/etc/config.php`, `pub/static/deployed_version.txt`,
//! `PLATFORM_RELATIONSHIPS`). Driven through the real `slug` binary like [`crate::project::Shop`].

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::project::{run_slug, succeeded};

/// `.magento.app.yaml`: the mounts in all three spellings (legacy `shared:files/X`, a mapping with
/// `source_path`, a mapping without it, a leading `/`), two relationships, and hooks that fail unless
/// the application's view of the release is right.
pub const APP_YAML: &str = r#"name: mymagento
type: php:8.3

build:
  flavor: none

relationships:
  database: "mysql:mysql"
  redis: "redis:redis"

disk: 5120

mounts:
  "var": "shared:files/var"
  "app/etc": "shared:files/etc"
  "pub/media": { source: local, source_path: media }
  "/pub/static": "shared:files/static"
  "generated": { source: local }

hooks:
  build: |
    set -e
    mkdir -p app/etc pub/static/frontend/Magento/luma/en_US pub/media/catalog
    printf '<?php return ["db" => "from-build"];\n' > app/etc/env.php
    printf '<?php return ["modules" => []];\n' > app/etc/config.php
    echo 1733480000 > pub/static/deployed_version.txt
    awk 'BEGIN { for (i = 0; i < 200; i++) print "require([\"jquery\"], function ($) { return " i "; });" }' \
      > pub/static/frontend/Magento/luma/en_US/requirejs-config.js
    echo placeholder > pub/media/catalog/placeholder.jpg
    env | grep -E '^(PLATFORM_|STAGE_|GLOBAL_|APP_)' | sort > build-env.txt
  deploy: |
    set -e
    test -f app/etc/env.php
    test -f app/etc/config.php
    test -f pub/static/deployed_version.txt
    test -f pub/static/frontend/Magento/luma/en_US/requirejs-config.js
    test -f pub/media/catalog/placeholder.jpg
    test -f var/.maintenance.flag
    echo "$PLATFORM_RELATIONSHIPS" | base64 -d > var/relationships.json
    echo "$PLATFORM_ROUTES" | base64 -d > var/routes.json
    echo "$PLATFORM_VARIABLES" | base64 -d > var/variables.json
    grep -q '"host":"db.internal"' var/relationships.json
    env | grep -E '^(PLATFORM_|STAGE_|GLOBAL_|APP_)' | grep -v -E '^PLATFORM_(RELATIONSHIPS|ROUTES|VARIABLES)=' | sort > var/deploy-env.txt
    echo written-by-deploy > app/etc/deploy-hook.txt
  post_deploy: |
    env | grep -E '^(PLATFORM_|STAGE_|GLOBAL_)' | grep -v -E '^PLATFORM_(RELATIONSHIPS|ROUTES|VARIABLES)=' | sort > var/post-deploy-env.txt

variables:
  env:
    APP_MODE: production
  php:
    memory_limit: 2G
"#;

/// `.magento/services.yaml`.
pub const SERVICES_YAML: &str =
    "mysql:\n  type: mysql:10.6\n  disk: 2048\n\nredis:\n  type: redis:7.2\n";

/// `.magento/routes.yaml`.
pub const ROUTES_YAML: &str = r#""https://{default}/":
  type: upstream
  upstream: "mymagento:http"

"https://www.{default}/":
  type: redirect
  to: "https://{default}/"
"#;

/// `.magento.env.yaml`: a variable of every stage, and the build stage's compression level.
pub const ENV_YAML: &str = r#"stage:
  global:
    GLOBAL_FLAG: true
  build:
    SCD_COMPRESSION_LEVEL: 4
    STAGE_NAME: build
  deploy:
    STAGE_NAME: deploy
    STAGE_CONSUMERS:
      cron_run: false
      consumers: [exportProcessor]
  post-deploy:
    STAGE_NAME: post-deploy
"#;

/// The endpoints the tests give the production environment.
pub const SERVICES: &[&str] = &[
    "database=mysql://magento:db%40secret@db.internal:3306/main",
    "redis=redis://cache.internal:6379",
];

/// The project's files in a temporary directory, with a store and room for targets.
pub struct Magento {
    _dir: tempfile::TempDir,
    /// The temporary directory (canonical): `src/` is the project, `store/` the store.
    pub root: PathBuf,
    bin: PathBuf,
}

impl Magento {
    /// Writes the project to `src/` and creates the store; `bin` is the `slug` binary under test.
    pub fn new(bin: &Path) -> Magento {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let m = Magento {
            _dir: dir,
            root,
            bin: bin.to_path_buf(),
        };
        for (path, text) in [
            (".magento.app.yaml", APP_YAML),
            (".magento/services.yaml", SERVICES_YAML),
            (".magento/routes.yaml", ROUTES_YAML),
            (".magento.env.yaml", ENV_YAML),
            (
                "composer.json",
                "{\"name\": \"magento/project-community-edition\"}\n",
            ),
            (
                "app/code/Vendor/Module/registration.php",
                "<?php // module\n",
            ),
            ("bin/magento", "#!/bin/sh\necho magento \"$@\"\n"),
        ] {
            m.write(path, text);
        }
        m.slug_ok(&["init"]);
        m
    }

    /// The project's source tree.
    pub fn src(&self) -> PathBuf {
        self.root.join("src")
    }

    /// The deploy target of environment `env`.
    pub fn target(&self, env: &str) -> PathBuf {
        self.root.join("targets").join(env)
    }

    /// Writes `text` to `rel` in the project, creating its directories.
    pub fn write(&self, rel: &str, text: &str) {
        let path = self.src().join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    /// `rel` as the live application sees it: through `current`.
    pub fn live(&self, env: &str, rel: &str) -> PathBuf {
        self.target(env).join("current").join(rel)
    }

    /// Runs `slug --store STORE ARGS` in the temporary directory.
    pub fn slug(&self, args: &[&str]) -> Output {
        run_slug(&self.bin, &self.root.join("store"), &self.root, args)
    }

    /// As [`Magento::slug`], failing the test when the command fails.
    pub fn slug_ok(&self, args: &[&str]) -> Output {
        succeeded(self.slug(args), args)
    }

    /// `slug env add NAME --target targets/NAME EXTRA...`.
    pub fn add_env(&self, name: &str, extra: &[&str]) {
        let t = self.target(name);
        let mut args = vec!["env", "add", name, "--target", t.to_str().unwrap()];
        args.extend_from_slice(extra);
        self.slug_ok(&args);
    }

    /// Adds environment `name` with the endpoints of [`SERVICES`] and `domain`.
    pub fn add_env_with_services(&self, name: &str, domain: &str) {
        let mut args = vec!["--domain", domain];
        for s in SERVICES {
            args.extend(["--service", s]);
        }
        self.add_env(name, &args);
    }

    /// `slug deploy src --env NAME`.
    pub fn deploy(&self, env: &str) -> Output {
        self.slug(&["deploy", "src", "--env", env])
    }
}
