//! What a deploy changes in the project's infrastructure, compared with the release it replaces.
//!
//! A new service, a removed one, a database version bump, a mount that appears or moves to other
//! storage: none of these are in the code, and all of them decide whether a deploy is safe to roll
//! back. Phase 1 lists them before anything is built, so the operator sees them first.

use std::collections::BTreeMap;
use std::fmt;

use super::mounts::Mount;
use super::project::Project;
use super::services::ServiceType;

/// The differences in services and mounts between two configurations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopologyChange {
    /// Services only in the new configuration: name and type.
    pub services_added: Vec<(String, ServiceType)>,
    /// Services only in the old configuration: name and type.
    pub services_removed: Vec<(String, ServiceType)>,
    /// Services in both whose type or version changed: name, old type, new type.
    pub services_retyped: Vec<(String, ServiceType, ServiceType)>,
    /// Mount paths only in the new configuration, with their storage (`local:var`).
    pub mounts_added: Vec<(String, String)>,
    /// Mount paths only in the old configuration, with their storage.
    pub mounts_removed: Vec<(String, String)>,
    /// Mount paths in both whose storage changed: path, old storage, new storage.
    pub mounts_moved: Vec<(String, String, String)>,
}

impl TopologyChange {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        *self == TopologyChange::default()
    }
}

/// Compares the services and mounts of the previously deployed configuration `old` with `new`.
pub fn topology_change(old: &Project, new: &Project) -> TopologyChange {
    let mut change = TopologyChange::default();
    for (name, service) in &new.services {
        match old.services.get(name) {
            None => change
                .services_added
                .push((name.clone(), service.kind.clone())),
            Some(before) if before.kind != service.kind => change.services_retyped.push((
                name.clone(),
                before.kind.clone(),
                service.kind.clone(),
            )),
            Some(_) => {}
        }
    }
    for (name, service) in &old.services {
        if !new.services.contains_key(name) {
            change
                .services_removed
                .push((name.clone(), service.kind.clone()));
        }
    }
    let (old_mounts, new_mounts) = (by_path(&old.app.mounts), by_path(&new.app.mounts));
    for (path, storage) in &new_mounts {
        match old_mounts.get(path) {
            None => change.mounts_added.push((path.clone(), storage.clone())),
            Some(before) if before != storage => {
                change
                    .mounts_moved
                    .push((path.clone(), before.clone(), storage.clone()))
            }
            Some(_) => {}
        }
    }
    for (path, storage) in &old_mounts {
        if !new_mounts.contains_key(path) {
            change.mounts_removed.push((path.clone(), storage.clone()));
        }
    }
    change
}

/// Mount path -> storage description.
fn by_path(mounts: &[Mount]) -> BTreeMap<String, String> {
    mounts
        .iter()
        .map(|m| (m.path.clone(), m.to_string()))
        .collect()
}

impl fmt::Display for TopologyChange {
    /// One change per line: `+ service search (opensearch:2)`, `~ service db: mysql:10.6 -> mysql:11.4`,
    /// `- mount var/cache (tmp:cache)`; `no topology change` when there is none.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("no topology change");
        }
        let mut lines = Vec::new();
        lines.extend(
            self.services_added
                .iter()
                .map(|(n, t)| format!("+ service {n} ({t})")),
        );
        lines.extend(
            self.services_removed
                .iter()
                .map(|(n, t)| format!("- service {n} ({t})")),
        );
        lines.extend(
            self.services_retyped
                .iter()
                .map(|(n, a, b)| format!("~ service {n}: {a} -> {b}")),
        );
        lines.extend(
            self.mounts_added
                .iter()
                .map(|(p, s)| format!("+ mount {p} ({s})")),
        );
        lines.extend(
            self.mounts_removed
                .iter()
                .map(|(p, s)| format!("- mount {p} ({s})")),
        );
        lines.extend(
            self.mounts_moved
                .iter()
                .map(|(p, a, b)| format!("~ mount {p}: {a} -> {b}")),
        );
        f.write_str(&lines.join("\n"))
    }
}
