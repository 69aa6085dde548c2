//! The three files together: reading them, and the rules that span files.
//!
//! Each file is parsed on its own first, so a defect in one never hides the defects of another. The
//! cross-file rules (a relationship names a defined service, a route's upstream names the application)
//! then run on whatever parsed, and are skipped when the file they depend on could not be read, so a
//! single broken file does not cascade into a page of consequential errors.

use std::collections::BTreeMap;
use std::path::Path;

use super::app::{self, App};
use super::field::Sink;
use super::magento_env::{self, MagentoEnv, ENV_FILE};
use super::mounts::MountSource;
use super::read::{project_file, too_large, MAX_FILE_BYTES};
use super::routes::{self, Route, RouteAction};
use super::services::{self, Service};
use super::yaml::{self, Node};
use crate::diagnostic::{Diagnostic, KeyPath, Pos};

/// The application file, at the project root.
pub const APP_FILE: &str = ".magento.app.yaml";
/// The services file.
pub const SERVICES_FILE: &str = ".magento/services.yaml";
/// The routes file.
pub const ROUTES_FILE: &str = ".magento/routes.yaml";

/// A validated project configuration: the three files, typed.
#[derive(Debug, Clone)]
pub struct Project {
    /// `.magento.app.yaml`.
    pub app: App,
    /// `.magento/services.yaml`, by service name (empty when the file is absent and nothing needs it).
    pub services: BTreeMap<String, Service>,
    /// `.magento/routes.yaml`, in file order (empty when the file is absent).
    pub routes: Vec<Route>,
    /// `.magento.env.yaml`, the stages' settings (empty when the file is absent).
    pub magento_env: MagentoEnv,
}

/// The text of the three files, `None` for a file that does not exist.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sources<'a> {
    /// `.magento.app.yaml`.
    pub app: Option<&'a str>,
    /// `.magento/services.yaml`.
    pub services: Option<&'a str>,
    /// `.magento/routes.yaml`.
    pub routes: Option<&'a str>,
    /// `.magento.env.yaml`.
    pub magento_env: Option<&'a str>,
}

/// Reads and validates the configuration of the project in `dir`.
///
/// Returns every defect found, sorted by file, line and column; file names in diagnostics are relative
/// to `dir`. Each file is read only if it is a regular file inside `dir`, of at most
/// [`MAX_FILE_BYTES`] (see `read.rs`).
pub fn load_project(dir: &Path) -> Result<Project, Vec<Diagnostic>> {
    load_project_from(|name| project_file(dir, name))
}

/// Reads and validates a configuration whose files come from `fetch` rather than a directory (a
/// stored slug, a git commit): `fetch(name)` returns the file's bytes, `None` when it does not exist,
/// or why it cannot be read (a phrase that follows the file's name in the diagnostic). The bytes are
/// held to the same rules as [`load_project`]'s (size, UTF-8).
pub fn load_project_from(
    mut fetch: impl FnMut(&str) -> Result<Option<Vec<u8>>, String>,
) -> Result<Project, Vec<Diagnostic>> {
    let mut diagnostics = Vec::new();
    let mut read = |name: &str| {
        fetched_text(name, fetch(name)).unwrap_or_else(|d| {
            diagnostics.push(d);
            None
        })
    };
    let (app, services, routes) = (read(APP_FILE), read(SERVICES_FILE), read(ROUTES_FILE));
    let magento_env = read(ENV_FILE);
    if !diagnostics.is_empty() {
        // A file that exists but cannot be read is not "absent": validating without it would report
        // misleading consequences.
        return Err(diagnostics);
    }
    parse_project(Sources {
        app: app.as_deref(),
        services: services.as_deref(),
        routes: routes.as_deref(),
        magento_env: magento_env.as_deref(),
    })
}

/// Validates a configuration given as text (e.g. as stored in a slug), the same way as [`load_project`].
pub fn parse_project(sources: Sources<'_>) -> Result<Project, Vec<Diagnostic>> {
    let mut diagnostics = Vec::new();
    let app = match sources.app {
        Some(text) => parse_file(APP_FILE, text, &mut diagnostics, app::parse),
        None => {
            let message =
                "the file is missing: every project needs one (name, type, hooks, mounts)";
            diagnostics.push(Diagnostic::new(APP_FILE, None, &KeyPath::root(), message));
            None
        }
    };
    let services = sources
        .services
        .map(|text| parse_file(SERVICES_FILE, text, &mut diagnostics, services::parse));
    let routes = sources
        .routes
        .map(|text| parse_file(ROUTES_FILE, text, &mut diagnostics, routes::parse));
    let magento_env = sources
        .magento_env
        .and_then(|text| parse_file(ENV_FILE, text, &mut diagnostics, magento_env::parse))
        .unwrap_or_default();

    if let Some(app) = &app {
        match &services {
            None => missing_services_file(app, &mut diagnostics),
            Some(Some(services)) => check_services_exist(app, services, &mut diagnostics),
            Some(None) => {} // the services file is broken and already reported
        }
        if let Some(Some(routes)) = &routes {
            check_upstreams(app, routes, &mut diagnostics);
        }
    }
    match (app, services, routes) {
        (Some(mut app), services, routes) if diagnostics.is_empty() => {
            // The build stage of .magento.env.yaml decides the static compression.
            if let Some(level) = magento_env.compression_level() {
                app.scd_compression_level = Some(level);
            }
            if let Some(timeout) = magento_env.compression_timeout() {
                app.scd_compression_timeout = Some(timeout);
            }
            Ok(Project {
                app,
                services: services.flatten().unwrap_or_default(),
                routes: routes.flatten().unwrap_or_default(),
                magento_env,
            })
        }
        _ => {
            sort(&mut diagnostics);
            Err(diagnostics)
        }
    }
}

/// Reads configuration file `name` of the project in `root`: `Ok(None)` when it does not exist, a
/// diagnostic naming `shown` when it is refused, is too large or is not UTF-8.
pub(crate) fn read_config(
    root: &Path,
    name: &str,
    shown: &str,
) -> Result<Option<String>, Diagnostic> {
    fetched_text(shown, project_file(root, name))
}

/// What a fetch of configuration file `name` gave, as text or as a diagnostic naming the file.
fn fetched_text(
    name: &str,
    fetched: Result<Option<Vec<u8>>, String>,
) -> Result<Option<String>, Diagnostic> {
    let bytes = fetched.map_err(|why| Diagnostic::new(name, None, &KeyPath::root(), why))?;
    bytes.map(|b| config_text(name, b)).transpose()
}

/// A configuration file's bytes as text: bounded in size, valid UTF-8 (the error names the line).
fn config_text(name: &str, bytes: Vec<u8>) -> Result<String, Diagnostic> {
    if bytes.len() as u64 > MAX_FILE_BYTES {
        let why = too_large(bytes.len() as u64);
        return Err(Diagnostic::new(name, None, &KeyPath::root(), why));
    }
    String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
        let column = valid.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
        let pos = Pos {
            line: u32::try_from(line).unwrap_or(u32::MAX),
            column: u32::try_from(column).unwrap_or(u32::MAX),
        };
        Diagnostic::new(name, Some(pos), &KeyPath::root(), "is not valid UTF-8 text")
    })
}

/// Parses `text` as YAML and reads it with `schema`; `None` when the YAML itself is broken or the
/// schema cannot make sense of the document at all.
pub(crate) fn parse_file<T>(
    name: &str,
    text: &str,
    diagnostics: &mut Vec<Diagnostic>,
    schema: impl FnOnce(&Node, &mut Sink<'_>) -> Option<T>,
) -> Option<T> {
    match yaml::parse(text) {
        Ok(root) => schema(&root, &mut Sink::new(name, diagnostics)),
        Err(e) => {
            diagnostics.push(Diagnostic::new(name, e.pos, &e.path, e.message));
            None
        }
    }
}

/// Without a services file, every relationship and service mount is unsatisfiable: one diagnostic on
/// the missing file says so, rather than one per relationship.
fn missing_services_file(app: &App, diagnostics: &mut Vec<Diagnostic>) {
    let mut needs: Vec<String> = app
        .relationships
        .keys()
        .map(|r| format!("relationship `{r}`"))
        .collect();
    let service_mounts = app
        .mounts
        .iter()
        .filter(|m| m.source == MountSource::Service);
    needs.extend(service_mounts.map(|m| format!("mount `{}`", m.path)));
    if !needs.is_empty() {
        let message = format!(
            "the file is missing ({APP_FILE} needs it for {})",
            needs.join(", ")
        );
        diagnostics.push(Diagnostic::new(
            SERVICES_FILE,
            None,
            &KeyPath::root(),
            message,
        ));
    }
}

/// Every relationship and service mount names a service defined in the services file.
fn check_services_exist(
    app: &App,
    services: &BTreeMap<String, Service>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let defined = if services.is_empty() {
        "it defines none".to_owned()
    } else {
        format!(
            "it defines {}",
            services
                .keys()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let mut sink = Sink::new(APP_FILE, diagnostics);
    for (name, rel) in &app.relationships {
        if !services.contains_key(&rel.service) {
            let path = KeyPath::root().child("relationships").child(name);
            let message = format!(
                "relationship `{name}` names service `{}`, not defined in {SERVICES_FILE} ({defined})",
                rel.service
            );
            sink.error(Some(rel.at), &path, message);
        }
    }
    for mount in &app.mounts {
        let Some(service) = &mount.service else {
            continue;
        };
        let path = KeyPath::root()
            .child("mounts")
            .child(&mount.path)
            .child("service");
        match services.get(service) {
            None => sink.error(
                Some(mount.at),
                &path,
                format!("mount `{}` names service `{service}`, not defined in {SERVICES_FILE} ({defined})", mount.path),
            ),
            Some(s) if mount.source == MountSource::Service && s.kind.kind != "network-storage" => sink.error(
                Some(mount.at),
                &path,
                format!("service `{service}` is `{}`, but a mount needs a `network-storage` service", s.kind),
            ),
            Some(_) => {}
        }
    }
}

/// Every upstream route names the application.
fn check_upstreams(app: &App, routes: &[Route], diagnostics: &mut Vec<Diagnostic>) {
    if app.name.is_empty() {
        return; // the name itself is invalid and already reported
    }
    let mut sink = Sink::new(ROUTES_FILE, diagnostics);
    for route in routes {
        if let RouteAction::Upstream {
            app: upstream,
            protocol,
        } = &route.action
        {
            if *upstream != app.name {
                let path = KeyPath::root().child(&route.url).child("upstream");
                let message = format!(
                    "upstream `{upstream}:{protocol}` names no application (the app is `{}`)",
                    app.name
                );
                sink.error(Some(route.at), &path, message);
            }
        }
    }
}

/// Orders diagnostics by file (application, services, routes), then position.
fn sort(diagnostics: &mut [Diagnostic]) {
    let rank = |file: &str| {
        [APP_FILE, SERVICES_FILE, ROUTES_FILE]
            .iter()
            .position(|f| *f == file)
            .unwrap_or(3)
    };
    diagnostics.sort_by_key(|d| (rank(&d.file), d.pos.is_some(), d.pos));
}
