//! `slug cache explain NAME`: why the last run of a step missed.
//!
//! The last miss of each step is kept with its key's parts ([`super::record::LastMiss`]); the
//! explanation compares them with the newest record of the same step made before that miss. Every
//! difference is named: a file by path (also a file inside a `--tree`, when both trees' manifests
//! are still in the store), a variable by name only (its value may be a secret), a tool, the
//! command, the working directory.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use super::key::{Input, KeyParts};
use super::record;
use crate::error::{Error, Result};
use crate::id::{ObjectId, SlugId};
use crate::slug::EntryKind;
use crate::store::Store;

/// One difference between two keys of a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    /// A file appeared (a `--file`, a glob match, or a file of a tree).
    FileAdded {
        /// Its path, relative to the working directory.
        path: String,
    },
    /// A file went away.
    FileRemoved {
        /// Its path.
        path: String,
    },
    /// A file's content (or, inside a tree, its kind or executable bit) changed.
    FileChanged {
        /// Its path.
        path: String,
    },
    /// A tree changed (which files, when its earlier manifest is gone, cannot be told).
    TreeChanged {
        /// The directory.
        path: String,
    },
    /// A variable changed, was set or was unset.
    VariableChanged {
        /// Its name (never its value).
        name: String,
    },
    /// A tool printed something else (or exited otherwise).
    ToolChanged {
        /// The tool's command.
        command: String,
    },
    /// The command or its arguments changed.
    CommandChanged,
    /// The working directory's place in the build root changed.
    DirectoryChanged,
    /// The machine's architecture or OS changed.
    ArchChanged,
    /// An input was declared that was not before.
    InputAdded {
        /// The input, e.g. `file composer.json`.
        input: String,
    },
    /// An input declared before is not any more.
    InputRemoved {
        /// The input.
        input: String,
    },
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::FileAdded { path } => write!(f, "file added: {path}"),
            Change::FileRemoved { path } => write!(f, "file removed: {path}"),
            Change::FileChanged { path } => write!(f, "file changed: {path}"),
            Change::TreeChanged { path } => write!(f, "tree changed: {path}"),
            Change::VariableChanged { name } => write!(f, "variable changed: {name}"),
            Change::ToolChanged { command } => write!(f, "tool output changed: `{command}`"),
            Change::CommandChanged => write!(f, "command changed"),
            Change::DirectoryChanged => write!(f, "working directory changed"),
            Change::ArchChanged => write!(f, "architecture changed"),
            Change::InputAdded { input } => write!(f, "input added: {input}"),
            Change::InputRemoved { input } => write!(f, "input removed: {input}"),
        }
    }
}

/// Why the last run of a step missed.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    /// The step.
    pub name: String,
    /// The key that missed.
    pub key: ObjectId,
    /// The record compared with: the newest of the step before the miss (`None`: there was none,
    /// the step had never been recorded).
    pub base: Option<ObjectId>,
    /// What differs.
    pub changes: Vec<Change>,
}

/// Explains the last miss of step `name`.
pub fn explain(store: &Store, name: &str) -> Result<Explanation> {
    let miss = record::get_miss(store, name)?
        .ok_or_else(|| Error::UnknownCacheEntry(format!("`{name}`: it never missed")))?;
    let base = record::all(store)?
        .into_iter()
        .filter(|r| r.parts.name == name && r.created_ns < miss.at_ns)
        .max_by_key(|r| r.created_ns);
    let changes = match &base {
        Some(b) => compare_in(Some(store), &b.parts, &miss.parts),
        None => Vec::new(),
    };
    Ok(Explanation {
        name: name.to_owned(),
        key: miss.key,
        base: base.map(|b| b.key),
        changes,
    })
}

/// What differs from `before` to `after`, without looking into trees.
pub fn compare(before: &KeyParts, after: &KeyParts) -> Vec<Change> {
    compare_in(None, before, after)
}

fn compare_in(store: Option<&Store>, before: &KeyParts, after: &KeyParts) -> Vec<Change> {
    let mut out = Vec::new();
    if before.argv != after.argv {
        out.push(Change::CommandChanged);
    }
    if before.cwd != after.cwd {
        out.push(Change::DirectoryChanged);
    }
    if before.arch != after.arch {
        out.push(Change::ArchChanged);
    }
    let by_label = |p: &KeyParts| -> BTreeMap<String, Input> {
        p.inputs.iter().map(|i| (i.label(), i.clone())).collect()
    };
    let (old, new) = (by_label(before), by_label(after));
    for (label, a) in &old {
        match new.get(label) {
            Some(b) if a == b => {}
            Some(b) => out.extend(input_changes(store, a, b)),
            None => out.push(match a {
                Input::Env { name, .. } => Change::VariableChanged { name: name.clone() },
                _ => Change::InputRemoved {
                    input: label.clone(),
                },
            }),
        }
    }
    for (label, b) in new.iter().filter(|(l, _)| !old.contains_key(*l)) {
        out.push(match b {
            Input::Env { name, .. } => Change::VariableChanged { name: name.clone() },
            _ => Change::InputAdded {
                input: label.clone(),
            },
        });
    }
    out
}

/// The changes between two states of one input.
fn input_changes(store: Option<&Store>, a: &Input, b: &Input) -> Vec<Change> {
    match (a, b) {
        (Input::File { path, hash: x }, Input::File { hash: y, .. }) => {
            file_change(path, x.as_ref(), y.as_ref())
                .into_iter()
                .collect()
        }
        (Input::Glob { files: x, .. }, Input::Glob { files: y, .. }) => {
            let x: BTreeMap<&String, &ObjectId> = x.iter().map(|(p, h)| (p, h)).collect();
            let y: BTreeMap<&String, &ObjectId> = y.iter().map(|(p, h)| (p, h)).collect();
            let mut paths: Vec<&&String> = x.keys().chain(y.keys()).collect();
            paths.sort();
            paths.dedup();
            paths
                .into_iter()
                .filter_map(|p| file_change(p, x.get(p).copied(), y.get(p).copied()))
                .collect()
        }
        (Input::Tree { path, tree: x }, Input::Tree { tree: y, .. }) => {
            let inside = match (store, x, y) {
                (Some(s), Some(x), Some(y)) => tree_changes(s, path, x, y),
                _ => None,
            };
            inside.unwrap_or_else(|| vec![Change::TreeChanged { path: path.clone() }])
        }
        (Input::Env { name, .. }, _) => vec![Change::VariableChanged { name: name.clone() }],
        (Input::Tool { command, .. }, _) => vec![Change::ToolChanged {
            command: command.clone(),
        }],
        _ => Vec::new(),
    }
}

fn file_change(path: &str, a: Option<&ObjectId>, b: Option<&ObjectId>) -> Option<Change> {
    let path = path.to_owned();
    match (a, b) {
        (None, Some(_)) => Some(Change::FileAdded { path }),
        (Some(_), None) => Some(Change::FileRemoved { path }),
        (Some(x), Some(y)) if x != y => Some(Change::FileChanged { path }),
        _ => None,
    }
}

/// The files that differ between two manifests of the tree at `path`, when both are in the store.
fn tree_changes(store: &Store, path: &str, a: &ObjectId, b: &ObjectId) -> Option<Vec<Change>> {
    let load = |id: &ObjectId| store.manifest(&SlugId(*id)).ok();
    let (a, b) = (load(a)?, load(b)?);
    let files = |m: &crate::slug::Manifest| -> BTreeMap<Vec<u8>, EntryKind> {
        m.entries()
            .iter()
            .filter(|e| e.kind != EntryKind::Dir)
            .map(|e| (e.path.clone(), e.kind.clone()))
            .collect()
    };
    let (x, y) = (files(&a), files(&b));
    let name = |p: &[u8]| format!("{path}/{}", String::from_utf8_lossy(p));
    let mut out = Vec::new();
    for (p, k) in &x {
        match y.get(p) {
            None => out.push(Change::FileRemoved { path: name(p) }),
            Some(l) if l != k => out.push(Change::FileChanged { path: name(p) }),
            _ => {}
        }
    }
    for p in y.keys().filter(|p| !x.contains_key(*p)) {
        out.push(Change::FileAdded { path: name(p) });
    }
    out.sort_by_key(|c| c.to_string());
    Some(out)
}
