//! `.magento.app.yaml`: the application's name, runtime, build, storage and hooks.
//!
//! Only the fields the pipeline acts on are typed; everything else (`web`, `runtime`, keys a
//! newer platform adds) is accepted and left alone, so a valid platform config is never refused for
//! carrying more than slugstore reads. Each rule records its own diagnostic and parsing carries on, so a
//! file with three defects yields three diagnostics.

use std::collections::BTreeMap;
use std::fmt;

use super::crons::{self, Cron};
use super::field::{required, Field, Sink};
use super::mounts::{self, Mount, MountSource};
use super::relationships::relationships;
pub use super::relationships::Relationship;
use super::yaml::Node;
use crate::diagnostic::KeyPath;

/// The smallest `disk` the platform accepts, in MB.
pub const MIN_DISK_MB: u64 = 128;
/// The environment variable that sets the gzip level of static content compression.
pub const SCD_COMPRESSION_LEVEL: &str = "SCD_COMPRESSION_LEVEL";
/// The environment variable that bounds static content compression, in seconds.
pub const SCD_COMPRESSION_TIMEOUT: &str = "SCD_COMPRESSION_TIMEOUT";

/// The typed content of `.magento.app.yaml`.
#[derive(Debug, Clone)]
pub struct App {
    /// `name`: lowercase letters, digits, `-` and `_`; routes refer to it as `name:http`.
    pub name: String,
    /// `type`: the runtime, e.g. `php:8.3`.
    pub runtime: Runtime,
    /// `build.flavor`, when set (the platform uses `composer` for PHP when it is not).
    pub build_flavor: Option<BuildFlavor>,
    /// `dependencies`: language -> package -> version.
    pub dependencies: BTreeMap<String, BTreeMap<String, String>>,
    /// `relationships`: name -> the service (and endpoint) it connects to.
    pub relationships: BTreeMap<String, Relationship>,
    /// `disk`, in MB.
    pub disk: Option<u64>,
    /// `mounts`, in file order, paths normalized (no leading `/`); keys starting with `.` are skipped.
    pub mounts: Vec<Mount>,
    /// `hooks`: the shell scripts of each phase.
    pub hooks: Hooks,
    /// `variables.env`: environment variables of the hooks, values as written (`6` and `"6"` alike).
    pub env: BTreeMap<String, String>,
    /// `variables.env.SCD_COMPRESSION_LEVEL`, checked to be 0-9.
    pub scd_compression_level: Option<u32>,
    /// `variables.env.SCD_COMPRESSION_TIMEOUT`, in seconds.
    pub scd_compression_timeout: Option<u64>,
    /// `crons`, in file order.
    pub crons: Vec<Cron>,
    /// The whole `variables` section as written, for the build key.
    pub(crate) variables: Option<Node>,
}

/// The `type` of an application: a language and its version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Runtime {
    /// The language, `php`.
    pub language: String,
    /// Its version, e.g. `8.3`.
    pub version: String,
}

impl fmt::Display for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.language, self.version)
    }
}

/// `build.flavor`: what the platform runs before the build hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildFlavor {
    /// Nothing: the build hook does all the work.
    None,
    /// `composer install` before the build hook.
    Composer,
}

impl BuildFlavor {
    /// The spelling used in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            BuildFlavor::None => "none",
            BuildFlavor::Composer => "composer",
        }
    }
}

/// `hooks`: the shell scripts run in each phase.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hooks {
    /// `hooks.build`: runs in the build tree, without services or mounts.
    pub build: Option<String>,
    /// `hooks.deploy`: runs with services and mounts, while the site is in maintenance.
    pub deploy: Option<String>,
    /// `hooks.post_deploy`: runs after traffic has moved to the new release.
    pub post_deploy: Option<String>,
}

impl App {
    /// Whether any mount keeps its data on the application's own disk.
    pub fn uses_local_storage(&self) -> bool {
        self.mounts.iter().any(|m| m.source == MountSource::Local)
    }
}

/// Reads an [`App`] from the root of `.magento.app.yaml`. Invalid required fields are left empty;
/// every defect is in `sink`.
pub(crate) fn parse(root: &Node, sink: &mut Sink<'_>) -> Option<App> {
    let root = Field::root(root);
    root.entries(sink)?;
    let name = required(&root, "name", sink, "is required: the application's name")
        .and_then(|c| app_name(&c, sink))
        .unwrap_or_default();
    let runtime = required(&root, "type", sink, "is required, e.g. `php:8.3`")
        .and_then(|c| runtime(&c, sink))
        .unwrap_or_default();
    let disk = root.get("disk").and_then(|c| disk(&c, sink));
    let mounts = root
        .get("mounts")
        .map(|c| mounts::parse(&c, sink))
        .unwrap_or_default();
    if root.get("disk").is_none() {
        local_mounts_need_disk(&mounts, sink);
    }
    let variables = root.get("variables");
    if let Some(v) = &variables {
        v.entries(sink);
    }
    let env = variables.as_ref().and_then(|v| v.get("env"));
    let env = env.map(|e| environment(&e, sink)).unwrap_or_default();
    Some(App {
        name,
        runtime,
        build_flavor: root
            .get("build")
            .and_then(|b| b.entries(sink).and(b.get("flavor")))
            .and_then(|f| build_flavor(&f, sink)),
        dependencies: root
            .get("dependencies")
            .map(|d| dependencies(&d, sink))
            .unwrap_or_default(),
        relationships: root
            .get("relationships")
            .map(|r| relationships(&r, sink))
            .unwrap_or_default(),
        disk,
        mounts,
        hooks: root
            .get("hooks")
            .map(|h| hooks(&h, sink))
            .unwrap_or_default(),
        scd_compression_level: env.compression_level,
        scd_compression_timeout: env.compression_timeout,
        env: env.values,
        crons: root
            .get("crons")
            .map(|c| crons::parse(&c, sink))
            .unwrap_or_default(),
        variables: variables.map(|v| v.node.clone()),
    })
}

/// Local storage lives on the application's disk, so mounts on it need `disk`. One diagnostic, at the
/// first mount that says `source: local` in so many words (else the first legacy `shared:files/` one),
/// naming the other local mounts: the fix is one line, not one per mount.
fn local_mounts_need_disk(mounts: &[Mount], sink: &mut Sink<'_>) {
    let local: Vec<&Mount> = mounts
        .iter()
        .filter(|m| m.source == MountSource::Local)
        .collect();
    let Some(first) = local.iter().find(|m| !m.legacy).or(local.first()) else {
        return;
    };
    let how = if first.legacy {
        "on local storage (`shared:files/...`)"
    } else {
        "with `source: local`"
    };
    let mut message = format!(
        "a mount {how} needs `disk` (the application's disk size in MB, at least {MIN_DISK_MB})"
    );
    let others: Vec<String> = local
        .iter()
        .filter(|m| m.path != first.path)
        .map(|m| format!("`{}`", m.path))
        .collect();
    if !others.is_empty() {
        message.push_str(&format!("; {} also use local storage", others.join(", ")));
    }
    sink.error(
        Some(first.at),
        &KeyPath::root().child("mounts").child(&first.path),
        message,
    );
}

fn app_name(field: &Field<'_>, sink: &mut Sink<'_>) -> Option<String> {
    let name = field.string(sink, "a string")?;
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !valid {
        field.error(
            sink,
            format!("must be lowercase letters, digits, `-` or `_`, found `{name}`"),
        );
        return None;
    }
    Some(name.to_owned())
}

fn runtime(field: &Field<'_>, sink: &mut Sink<'_>) -> Option<Runtime> {
    let text = field.string(sink, "a string `php:<version>`")?;
    match text.split_once(':') {
        Some(("php", version))
            if !version.is_empty() && version.chars().all(|c| c.is_ascii_digit() || c == '.') =>
        {
            Some(Runtime {
                language: "php".to_owned(),
                version: version.to_owned(),
            })
        }
        _ => {
            field.error(
                sink,
                format!("must be `php:<version>` (e.g. `php:8.3`), found `{text}`"),
            );
            None
        }
    }
}

fn build_flavor(field: &Field<'_>, sink: &mut Sink<'_>) -> Option<BuildFlavor> {
    match field.string(sink, "a string (none or composer)")? {
        "none" => Some(BuildFlavor::None),
        "composer" => Some(BuildFlavor::Composer),
        other => {
            field.error(sink, format!("`{other}` is not one of none, composer"));
            None
        }
    }
}

fn disk(field: &Field<'_>, sink: &mut Sink<'_>) -> Option<u64> {
    let mb = field.unsigned(sink, "a whole number of MB")?;
    if mb < MIN_DISK_MB {
        field.error(
            sink,
            format!("must be at least {MIN_DISK_MB} (MB), found {mb}"),
        );
        return None;
    }
    Some(mb)
}

fn dependencies(
    field: &Field<'_>,
    sink: &mut Sink<'_>,
) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for language in field.entries(sink).unwrap_or_default() {
        let packages = language.entries(sink).unwrap_or_default();
        let versions = packages
            .iter()
            .filter_map(|p| Some((p.key.to_owned(), p.scalar(sink, "a version string")?)))
            .collect();
        out.insert(language.key.to_owned(), versions);
    }
    out
}

fn hooks(field: &Field<'_>, sink: &mut Sink<'_>) -> Hooks {
    field.entries(sink);
    let script = |key: &str, sink: &mut Sink<'_>| {
        let hook = field.get(key)?;
        let f = hook;
        if f.is_null() {
            return None;
        }
        f.string(sink, "a string (a shell script)")
            .map(str::to_owned)
    };
    Hooks {
        build: script("build", sink),
        deploy: script("deploy", sink),
        post_deploy: script("post_deploy", sink),
    }
}

/// `variables.env` (or one stage of `.magento.env.yaml`), checked.
#[derive(Debug, Clone, Default)]
pub(super) struct Env {
    pub values: BTreeMap<String, String>,
    pub compression_level: Option<u32>,
    pub compression_timeout: Option<u64>,
}

/// Reads `variables.env`: every value must be a scalar, and the compression settings in range.
fn environment(field: &Field<'_>, sink: &mut Sink<'_>) -> Env {
    let mut env = Env::default();
    for f in field.entries(sink).unwrap_or_default() {
        let Some(text) = f.scalar(sink, "a scalar (environment variables are strings)") else {
            continue;
        };
        env.set(&f, text, sink);
    }
    env
}

impl Env {
    /// Records variable `f` with value `text`, checking the compression settings slugstore honours.
    pub(super) fn set(&mut self, f: &Field<'_>, text: String, sink: &mut Sink<'_>) {
        if f.key == SCD_COMPRESSION_LEVEL {
            match text.trim().parse::<u32>() {
                Ok(level) if level <= 9 => self.compression_level = Some(level),
                Ok(_) => f.error(sink, format!("must be 0-9, found {text}")),
                Err(_) => f.error(sink, format!("must be an integer 0-9, found `{text}`")),
            }
        } else if f.key == SCD_COMPRESSION_TIMEOUT {
            match text.trim().parse::<u64>() {
                Ok(seconds) => self.compression_timeout = Some(seconds),
                Err(_) => f.error(
                    sink,
                    format!("must be a whole number of seconds, found `{text}`"),
                ),
            }
        }
        self.values.insert(f.key.to_owned(), text);
    }
}
