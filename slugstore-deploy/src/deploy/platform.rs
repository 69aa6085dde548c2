//! The platform's variables: what ece-tools and Magento read from the environment of a hook.
//!
//! | variable | build | deploy, post_deploy |
//! |---|---|---|
//! | `PLATFORM_APPLICATION_NAME`, `PLATFORM_PROJECT` | the app's `name` | same |
//! | `PLATFORM_TREE_ID` | the build key | same |
//! | `PLATFORM_APP_DIR` | the build directory | the release |
//! | `PLATFORM_CACHE_DIR` | `TARGET/cache`, kept between builds (added by [`super::build`]) | not set |
//! | `PLATFORM_VARIABLES` | base64 JSON of every `variables` entry as `prefix:name` | same |
//! | `PLATFORM_ENVIRONMENT`, `PLATFORM_BRANCH` | not set | the environment's name and branch |
//! | `PLATFORM_ROUTES` | not set | base64 JSON of routes.yaml, `{default}` expanded |
//! | `PLATFORM_RELATIONSHIPS` | not set | base64 JSON: relationship -> \[endpoint\] |
//!
//! Below them, each hook gets the app's `variables.env`, the settings of its stage in
//! `.magento.env.yaml` (`global`, then `build` / `deploy` / `post-deploy`), the environment's
//! variables and, after the build, its runtime variables, each overriding the one before.
//!
//! As on the platform, a build sees nothing of the environment it will run in: one build is promoted
//! from environment to environment, so it must not depend on which one deployed it first (only the
//! environment's `--var` variables reach it, and they are part of the build key).
//!
//! slugstore provisions no services: each environment says where they are ([`Environment::services`],
//! by relationship or service name), and a relationship without an endpoint fails phase 1 by name. A
//! deploy outside any environment has no endpoints: its relationships are left out (logged).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use base64::Engine;
use serde_json::{json, Value};

use crate::config::{Project, RouteAction, Stage};
use crate::deploy::DEFAULT_HOOK_TIMEOUT_SECS;
use crate::environment::{Endpoint, Environment};
use crate::error::{Error, Result};

/// Which hook an environment is for: `PLATFORM_MODE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mode {
    /// `hooks.build`.
    Build,
    /// `hooks.deploy`.
    Deploy,
    /// `hooks.post_deploy` (and crons, which run against the live release).
    PostDeploy,
}

impl Mode {
    /// `PLATFORM_MODE`'s value.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Build => "build",
            Mode::Deploy => "deploy",
            Mode::PostDeploy => "post_deploy",
        }
    }
}

/// The platform's variables of one deploy, computed once in phase 1.
#[derive(Clone)]
pub struct Platform {
    app: String,
    environment: Option<(String, String)>,
    variables: String,
    routes: String,
    relationships: String,
    /// The variables of each mode's hooks, before the `PLATFORM_*` ones.
    hook_vars: BTreeMap<Mode, BTreeMap<String, String>>,
    /// How long a hook may run.
    hook_timeout: Duration,
}

impl std::fmt::Debug for Platform {
    /// Never the relationships: they hold passwords.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Platform")
            .field("app", &self.app)
            .field("environment", &self.environment)
            .finish_non_exhaustive()
    }
}

/// What phase 1 found about the relationships: the ones left without an endpoint outside an
/// environment (a deploy inside one fails instead).
#[derive(Debug, Clone, Default)]
pub struct Unresolved(pub Vec<String>);

impl Platform {
    /// The variables of a deploy of `project` to `env` (or to a bare target). Fails when a
    /// relationship has no endpoint in `env`, naming it.
    pub fn new(project: &Project, env: Option<&Environment>) -> Result<(Platform, Unresolved)> {
        let (relationships, unresolved) = relationships(project, env)?;
        let domain = env.map_or_else(|| "localhost".to_owned(), Environment::domain);
        let mut variables = project.app.platform_variables();
        if let Some(e) = env {
            for (k, v) in e.variables.iter().chain(&e.runtime_variables) {
                variables.insert(format!("env:{k}"), Value::String(v.clone()));
            }
        }
        let hook_vars = [Mode::Build, Mode::Deploy, Mode::PostDeploy]
            .into_iter()
            .map(|mode| (mode, mode_variables(project, env, mode)))
            .collect();
        let platform = Platform {
            app: project.app.name.clone(),
            environment: env.map(|e| (e.name.clone(), e.branch().to_owned())),
            variables: encode(&json!(variables)),
            routes: encode(&routes(project, &domain)),
            relationships: encode(&relationships),
            hook_vars,
            hook_timeout: Duration::from_secs(DEFAULT_HOOK_TIMEOUT_SECS),
        };
        Ok((platform, unresolved))
    }

    /// The same, with hooks limited to `timeout`.
    pub fn with_hook_timeout(self, timeout: Duration) -> Platform {
        Platform {
            hook_timeout: timeout,
            ..self
        }
    }

    /// How long a hook may run.
    pub fn hook_timeout(&self) -> Duration {
        self.hook_timeout
    }

    /// The variables a hook of `mode` gets on top of the inherited environment: the app's (and the
    /// environment's) variables, then the `PLATFORM_*` ones, which win. `tree_id` is the build key,
    /// `app_dir` where the hook runs.
    pub fn hook_env(&self, tree_id: &str, app_dir: &Path, mode: Mode) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = self.hook_vars[&mode]
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut set = |k: &str, v: &str| env.push((k.to_owned(), v.to_owned()));
        set("PLATFORM_APPLICATION_NAME", &self.app);
        set("PLATFORM_PROJECT", &self.app);
        set("PLATFORM_TREE_ID", tree_id);
        set("PLATFORM_APP_DIR", &app_dir.display().to_string());
        set("PLATFORM_MODE", mode.as_str());
        set("PLATFORM_VARIABLES", &self.variables);
        if mode != Mode::Build {
            if let Some((name, branch)) = &self.environment {
                set("PLATFORM_ENVIRONMENT", name);
                set("PLATFORM_BRANCH", branch);
            }
            set("PLATFORM_ROUTES", &self.routes);
            set("PLATFORM_RELATIONSHIPS", &self.relationships);
        }
        env
    }
}

/// A hook's own variables, later ones winning: the app's `variables.env`, the stage's settings from
/// `.magento.env.yaml` (`global`, then the stage), the environment's variables, and at deploy its
/// runtime variables.
fn mode_variables(
    project: &Project,
    env: Option<&Environment>,
    mode: Mode,
) -> BTreeMap<String, String> {
    let stage = match mode {
        Mode::Build => Stage::Build,
        Mode::Deploy => Stage::Deploy,
        Mode::PostDeploy => Stage::PostDeploy,
    };
    let mut vars = project.app.env.clone();
    vars.extend(project.magento_env.variables(stage));
    if let Some(e) = env {
        vars.extend(e.variables.clone());
        if mode != Mode::Build {
            vars.extend(e.runtime_variables.clone());
        }
    }
    vars
}

fn encode(v: &Value) -> String {
    base64::engine::general_purpose::STANDARD.encode(v.to_string())
}

/// `PLATFORM_RELATIONSHIPS`: each relationship -> a one-element list in the platform's shape.
fn relationships(project: &Project, env: Option<&Environment>) -> Result<(Value, Unresolved)> {
    let mut out = serde_json::Map::new();
    let mut unresolved = Unresolved::default();
    for (name, rel) in &project.app.relationships {
        let found = env.and_then(|e| {
            e.services
                .get(name)
                .or_else(|| e.services.get(&rel.service))
        });
        let endpoint = match (found, env) {
            (Some(endpoint), _) => endpoint,
            (None, Some(e)) => {
                return Err(Error::NoEndpoint {
                    relationship: name.to_string(),
                    service: rel.service.to_string(),
                    environment: e.name.to_string(),
                })
            }
            (None, None) => {
                unresolved.0.push(name.clone());
                continue;
            }
        };
        let kind = project
            .services
            .get(&rel.service)
            .map(|s| s.kind.to_string());
        out.insert(
            name.clone(),
            json!([relationship(
                name,
                &rel.service,
                rel.endpoint.as_deref(),
                kind,
                endpoint
            )]),
        );
    }
    Ok((Value::Object(out), unresolved))
}

/// One endpoint as the platform describes it.
fn relationship(
    name: &str,
    service: &str,
    rel: Option<&str>,
    kind: Option<String>,
    e: &Endpoint,
) -> Value {
    let query: serde_json::Map<String, Value> = e
        .query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let v = match v {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => Value::String(v.to_owned()),
            };
            (k.to_owned(), v)
        })
        .collect();
    json!({
        "service": service,
        "rel": rel.unwrap_or(name),
        "type": kind,
        "scheme": e.scheme,
        "host": e.host,
        "hostname": e.host,
        "ip": e.host,
        "port": e.port,
        "username": e.username,
        "password": e.password(),
        "path": e.path,
        "query": query,
        "fragment": null,
        "public": false,
        "host_mapped": false,
    })
}

/// `PLATFORM_ROUTES`: every route of routes.yaml with `{default}` and `{all}` expanded to `domain`.
fn routes(project: &Project, domain: &str) -> Value {
    let expand = |t: &str| t.replace("{default}", domain).replace("{all}", domain);
    let mut out = serde_json::Map::new();
    let mut primary_given = false;
    for r in &project.routes {
        let url = expand(&r.url);
        let mut v = match &r.action {
            RouteAction::Upstream { app, .. } => {
                let primary = !primary_given;
                primary_given = true;
                json!({ "type": "upstream", "upstream": app, "primary": primary })
            }
            RouteAction::Redirect { to } => {
                json!({ "type": "redirect", "to": expand(to), "primary": false })
            }
        };
        let o = v.as_object_mut().expect("an object");
        o.insert("original_url".into(), Value::String(r.url.clone()));
        o.insert("production_url".into(), Value::String(url.clone()));
        o.insert("id".into(), Value::Null);
        o.insert("attributes".into(), json!({}));
        out.insert(url, v);
    }
    Value::Object(out)
}
