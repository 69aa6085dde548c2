//! `mounts`: the writable paths of a release, and where their data lives.
//!
//! Both syntaxes the platform accepts are read into one [`Mount`]: the legacy `"var": "shared:files/var"`
//! (local storage, sub-path after `shared:files/`) and `{source, source_path, service}`. Paths are
//! normalized (`/var` and `var` are the same mount) because the deploy step compares them with paths in
//! the build tree; two mounts where one contains the other are refused, since the inner one would hide
//! or be hidden by the outer one's storage depending on mount order.

use std::fmt;

use super::field::{describe, required, Field, Sink};
use crate::diagnostic::Pos;

/// The legacy prefix of a local-storage mount: `shared:files/<source_path>`.
const LEGACY_PREFIX: &str = "shared:files/";

/// One writable path of the application.
#[derive(Debug, Clone)]
pub struct Mount {
    /// The path inside the application, normalized: relative, no leading or trailing `/`.
    pub path: String,
    /// Where the data is kept.
    pub source: MountSource,
    /// The sub-path within that storage (defaults to the mount path).
    pub source_path: String,
    /// The network-storage service, for `source: service`.
    pub service: Option<String>,
    /// Whether it was written in the legacy `shared:files/...` form.
    pub(crate) legacy: bool,
    /// Where the mount's key is.
    pub(crate) at: Pos,
}

/// Where a mount keeps its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum MountSource {
    /// The application's own disk (`disk`), shared by its releases.
    Local,
    /// A network-storage service from `.magento/services.yaml`.
    Service,
    /// Temporary storage, not kept across deploys.
    Tmp,
}

impl Mount {
    /// A local mount stored under its own path, as the defaults are.
    pub(crate) fn local(path: &str) -> Mount {
        Mount {
            path: path.to_owned(),
            source: MountSource::Local,
            source_path: path.to_owned(),
            service: None,
            legacy: false,
            at: Pos { line: 0, column: 0 },
        }
    }
}

impl MountSource {
    /// The spelling used in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            MountSource::Local => "local",
            MountSource::Service => "service",
            MountSource::Tmp => "tmp",
        }
    }
}

impl fmt::Display for Mount {
    /// `local:files/var`, `service:files@media`, `tmp:cache`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.source.as_str(), self.source_path)?;
        if let Some(service) = &self.service {
            write!(f, "@{service}")?;
        }
        Ok(())
    }
}

/// Normalizes a mount path: strips leading and trailing `/`, refuses empty, `.` and `..` components.
pub(crate) fn normalize(raw: &str) -> Result<String, String> {
    let trimmed = raw.trim_matches('/');
    let components: Vec<&str> = trimmed.split('/').collect();
    if trimmed.is_empty() {
        return Err(
            "a mount path must name a directory inside the application, found `/`".to_owned(),
        );
    }
    if components
        .iter()
        .any(|c| c.is_empty() || *c == "." || *c == "..")
    {
        return Err(format!(
            "a mount path must be a plain relative path (no empty, `.` or `..` components), found `{raw}`"
        ));
    }
    Ok(components.join("/"))
}

/// Checks a mount's storage sub-path: relative (the storage is the target's, not a place on the host),
/// without `..` (it must stay inside that storage) and not empty. Returns it without trailing `/` and
/// `.` components: the checkout names the storage directory from exactly this.
fn check_source_path(raw: &str) -> Result<String, String> {
    if raw.starts_with('/') {
        return Err(format!(
            "source_path `{raw}` is absolute: it must be a path inside the mount storage, e.g. `{}`",
            raw.trim_matches('/')
        ));
    }
    let parts: Vec<&str> = raw
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    if parts.contains(&"..") {
        return Err(format!(
            "source_path `{raw}` holds `..`: it would resolve outside the mount storage"
        ));
    }
    if parts.is_empty() {
        return Err(format!("source_path `{raw}` names no directory"));
    }
    Ok(parts.join("/"))
}

/// Reads the `mounts` section: every entry, then the overlap rule across entries.
pub(crate) fn parse(field: &Field<'_>, sink: &mut Sink<'_>) -> Vec<Mount> {
    let mut mounts: Vec<Mount> = Vec::new();
    for f in field.entries(sink).unwrap_or_default() {
        let path = match normalize(f.key) {
            Ok(path) if path.starts_with('.') => continue,
            Ok(path) => path,
            Err(message) => {
                sink.error(Some(f.key_pos()), f.path(), message);
                continue;
            }
        };
        let mount = if f.node.value.is_collection() {
            from_map(&f, path, f.key_pos(), sink)
        } else {
            from_legacy(&f, path, f.key_pos(), sink)
        };
        if let Some(mount) = mount {
            if let Some(clash) = mounts.iter().find(|m| overlap(m, &mount).is_some()) {
                let message = match overlap(clash, &mount) {
                    Some(true) => format!("mount `{}` is already defined at line {}", clash.path, clash.at.line),
                    _ => format!(
                        "mounts `{}` (line {}) and `{}` overlap: one would hide the other's storage",
                        clash.path, clash.at.line, mount.path
                    ),
                };
                sink.error(Some(f.key_pos()), f.path(), message);
                continue;
            }
            mounts.push(mount);
        }
    }
    mounts
}

/// `Some(true)` when two mounts have the same path, `Some(false)` when one contains the other.
fn overlap(a: &Mount, b: &Mount) -> Option<bool> {
    let inside = |outer: &str, inner: &str| {
        inner
            .strip_prefix(outer)
            .is_some_and(|rest| rest.starts_with('/'))
    };
    if a.path == b.path {
        Some(true)
    } else if inside(&a.path, &b.path) || inside(&b.path, &a.path) {
        Some(false)
    } else {
        None
    }
}

/// `"var": "shared:files/var"`.
fn from_legacy(field: &Field<'_>, path: String, at: Pos, sink: &mut Sink<'_>) -> Option<Mount> {
    let text = field.string(
        sink,
        "`shared:files/<path>` or a mapping {source, source_path}",
    )?;
    let Some(source_path) = text
        .strip_prefix(LEGACY_PREFIX)
        .filter(|p| !p.trim_matches('/').is_empty())
    else {
        field.error(sink, format!("must be `shared:files/<path>` or a mapping {{source, source_path}}, found `{text}`"));
        return None;
    };
    let source_path = match check_source_path(source_path) {
        Ok(p) => p,
        Err(message) => {
            field.error(sink, message);
            return None;
        }
    };
    Some(Mount {
        path,
        source: MountSource::Local,
        source_path,
        service: None,
        legacy: true,
        at,
    })
}

/// `"var": {source: local, source_path: var, service: name}`.
fn from_map(field: &Field<'_>, path: String, at: Pos, sink: &mut Sink<'_>) -> Option<Mount> {
    field.entries(sink)?;
    let source_field = required(
        field,
        "source",
        sink,
        "is required: one of local, service, tmp",
    );
    let source = source_field.and_then(|s| {
        let f = s;
        match f.string(sink, "one of local, service, tmp")? {
            "local" => Some(MountSource::Local),
            "service" => Some(MountSource::Service),
            "tmp" => Some(MountSource::Tmp),
            _ => {
                f.error(
                    sink,
                    format!(
                        "{} is not one of local, service, tmp",
                        describe(&f.node.value)
                    ),
                );
                None
            }
        }
    });
    let source_path = match field.get("source_path") {
        Some(sp) => sp
            .string(sink, "a string (a path in the storage)")
            .and_then(|p| match check_source_path(p) {
                Ok(p) => Some(p),
                Err(message) => {
                    sp.error(sink, message);
                    None
                }
            }),
        None => Some(path.clone()),
    };
    let service = field
        .get("service")
        .and_then(|s| s.string(sink, "a service name").map(str::to_owned));
    if source == Some(MountSource::Service) && service.is_none() && field.get("service").is_none() {
        required(
            field,
            "service",
            sink,
            "is required with `source: service`: the network-storage service",
        );
    }
    Some(Mount {
        path,
        source: source?,
        source_path: source_path?,
        service,
        legacy: false,
        at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_normalized() {
        assert_eq!(normalize("/pub/static/").unwrap(), "pub/static");
        assert_eq!(normalize("var").unwrap(), "var");
        assert!(normalize("/").is_err());
        assert!(normalize("var/../etc")
            .unwrap_err()
            .contains("`var/../etc`"));
        assert!(normalize("var//cache").is_err());
    }

    #[test]
    fn source_paths_stay_inside_the_storage() {
        assert_eq!(check_source_path("etc").unwrap(), "etc");
        assert_eq!(check_source_path("files/./etc/").unwrap(), "files/etc");
        assert!(check_source_path("/etc").unwrap_err().contains("absolute"));
        assert!(check_source_path("../etc").unwrap_err().contains("`..`"));
        assert!(check_source_path("a/../../b").unwrap_err().contains("`..`"));
        assert!(check_source_path("./")
            .unwrap_err()
            .contains("names no directory"));
    }
}
