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

use std::path::Path;

use crate::config::{build_key_material, Project};
use crate::error::Result;
use crate::id::{ObjectId, SlugId};
use crate::progress::ProgressBars;
use crate::snapshot::{snapshot, SnapshotOptions};
use crate::store::Store;

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
        excludes,
        message: Some(format!("source tree {}", source.display())),
        ..SnapshotOptions::default()
    };
    Ok(snapshot(store, source, &opts, bars)?.slug)
}

/// The build key of source tree `tree` built with `project`'s configuration.
pub fn build_key(tree: &SlugId, project: &Project) -> ObjectId {
    let mut h = blake3::Hasher::new();
    h.update(KEY_FORMAT);
    h.update(tree.object().as_bytes());
    h.update(&build_key_material(project));
    h.finalize().into()
}

/// The ref a build of `key` is recorded under.
pub fn build_ref(key: &ObjectId) -> String {
    format!("{BUILD_REF_PREFIX}{}", key.to_hex())
}

/// The slug of an earlier build of `key`, when the store still has it.
pub fn lookup(store: &Store, key: &ObjectId) -> Result<Option<SlugId>> {
    match store.index().get_ref(&build_ref(key))? {
        Some(id) if store.index().slug(&id)?.is_some() => Ok(Some(id)),
        _ => Ok(None),
    }
}
