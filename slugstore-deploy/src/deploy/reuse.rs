//! Build reuse: the key a build is stored under, and looking it up.
//!
//! A build is a function of the source tree and of the configuration that shapes it, so when neither
//! changed the earlier build's slug can be deployed as is (the platform's "Reusing existing build for
//! this tree ID"). The source tree is identified by snapshotting it into the store, without `.git` and
//! the mounts: the slug id is a BLAKE3 hash over every path, mode and content, and thanks to the stat
//! cache an unchanged tree is rescanned without reading a file. That slug is also what the build
//! starts from, so the key names exactly the bytes the build saw. The key then hashes the tree id with
//! [`build_key_material`] (type, build, dependencies, `hooks.build`, variables): editing a deploy hook
//! or a route does not cause a rebuild.
//!
//! A finished build is recorded as the ref `builds/<key>` pointing at its slug: refs are how the store
//! names slugs it must keep, and the snapshot moves the ref in the same index batch that records the
//! slug, so a key never points at a slug that is not complete.

use std::collections::BTreeMap;
use std::path::Path;

use crate::config::{build_key_material, Project};
use crate::error::Result;
use slugstore::id::{ObjectId, SlugId};
use slugstore::progress::ProgressBars;
use slugstore::snapshot::{snapshot, SnapshotOptions};
use slugstore::store::Store;

/// Prefix of the refs recording finished builds.
pub const BUILD_REF_PREFIX: &str = "builds/";

/// Paths of the source never part of a build.
pub const SOURCE_EXCLUDES: &[&str] = &[".git"];

/// Changes whenever the composition of the key changes, so old and new keys never collide.
const KEY_FORMAT: &[u8] = b"slugstore-build-key/1\n";

/// Snapshots the source tree (minus `.git`, the mounts its config declares, and the deploy target when
/// it lies inside the source) and returns its id.
pub fn source_tree(
    store: &Store,
    source: &Path,
    target_root: &Path,
    bars: &dyn ProgressBars,
) -> Result<SlugId> {
    let mut excludes: Vec<String> = SOURCE_EXCLUDES.iter().map(|s| (*s).to_owned()).collect();
    if let Ok(inside) = target_root.strip_prefix(source) {
        excludes.push(inside.to_string_lossy().into_owned());
    }
    let opts = SnapshotOptions {
        excludes: crate::layout::snapshot_excludes(source, &excludes)?,
        message: Some(format!("source tree {}", source.display())),
        ..SnapshotOptions::default()
    };
    Ok(snapshot(store, source, &opts, bars)?.slug)
}

/// What identifies the source a build starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TreeIdentity {
    /// A source directory, by the id of its snapshot.
    Slug(SlugId),
    /// A git commit, by its tree id (hex, as git prints it).
    Git(String),
}

impl TreeIdentity {
    /// The label recorded on a build's slug: `slug:<id>` or `git:<tree>`.
    pub fn label(&self) -> String {
        match self {
            TreeIdentity::Slug(id) => format!("slug:{id}"),
            TreeIdentity::Git(tree) => format!("git:{tree}"),
        }
    }

    /// Reads a [`TreeIdentity::label`] back.
    pub fn from_label(s: &str) -> Option<TreeIdentity> {
        if let Some(hex) = s.strip_prefix("slug:") {
            return hex.parse().ok().map(TreeIdentity::Slug);
        }
        let tree = s.strip_prefix("git:")?;
        let ok = (40..=64).contains(&tree.len()) && tree.bytes().all(|c| c.is_ascii_hexdigit());
        ok.then(|| TreeIdentity::Git(tree.to_owned()))
    }
}

impl std::fmt::Display for TreeIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TreeIdentity::Slug(id) => write!(f, "source tree {}", id.short(12)),
            TreeIdentity::Git(tree) => write!(f, "git tree {tree}"),
        }
    }
}

/// Label of a build's slug holding its build key.
pub const BUILD_KEY_LABEL: &str = "build_key";
/// Label of a build's slug holding its source's [`TreeIdentity::label`].
pub const SOURCE_LABEL: &str = "source_tree";

/// The build key of the source `tree` built with `project`'s configuration and the environment's
/// build-visible `variables` (empty outside an environment; they then leave the key as it always was).
pub fn build_key(
    tree: &TreeIdentity,
    project: &Project,
    variables: &BTreeMap<String, String>,
) -> ObjectId {
    let mut h = blake3::Hasher::new();
    h.update(KEY_FORMAT);
    match tree {
        TreeIdentity::Slug(id) => h.update(id.object().as_bytes()),
        TreeIdentity::Git(tree) => h.update(b"git-tree ").update(tree.as_bytes()),
    };
    h.update(&build_key_material(project));
    if !variables.is_empty() {
        h.update(b"\nenvironment-variables\n");
        h.update(&serde_json::to_vec(variables).expect("strings serialize"));
    }
    h.finalize().into()
}

/// The ref a build of `key` is recorded under.
pub fn build_ref(key: &ObjectId) -> String {
    format!("{BUILD_REF_PREFIX}{}", key.to_hex())
}

/// The slug of an earlier build of `key`, when the store still has it.
pub fn lookup(store: &Store, key: &ObjectId) -> Result<Option<SlugId>> {
    match store.get_ref(&build_ref(key))? {
        Some(id) if store.find_slug(&id)?.is_some() => Ok(Some(id)),
        _ => Ok(None),
    }
}
