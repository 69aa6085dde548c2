//! Where a deploy's code comes from: a directory, a git commit, or a slug built earlier.
//!
//! The phases are the same for the three; what differs is where the configuration is read from and
//! what the build starts from. A directory is snapshotted (its id names the build), a commit is named by
//! its git tree id and exported only when it must be built, and a slug is deployed as it is: promoting
//! a build to another environment never builds again.

use std::path::{Path, PathBuf};

use crate::config::{
    load_project, load_project_from, too_large, Diagnostic, Project, MAX_FILE_BYTES,
};
use crate::deploy::git::GitSource;
use crate::error::{Error, Result};
use crate::status::GitCommit;
use slugstore::id::SlugId;
use slugstore::slug::{Entry, EntryKind, Manifest};
use slugstore::store::SlugMeta;
use slugstore::store::Store;

/// What to deploy.
#[derive(Debug, Clone)]
pub enum Source {
    /// A project directory (with `.magento.app.yaml` and `.magento/`).
    Dir(PathBuf),
    /// A revision of a git repository.
    Git(GitSource),
    /// A slug already built, deployed without a build (a promotion); `from` says where it came from
    /// (an environment or the name the user gave).
    Slug {
        /// The slug.
        slug: SlugId,
        /// Where it came from, for the record.
        from: String,
    },
}

/// A [`Source`] made concrete at the start of a deploy: the directory canonicalized, the revision
/// resolved (so the whole deploy sees one commit even if the branch moves meanwhile).
#[derive(Debug, Clone)]
pub(crate) enum Resolved {
    Dir(PathBuf),
    Git(GitCommit),
    Slug { slug: SlugId, from: String },
}

impl Source {
    pub(crate) fn resolve(&self) -> Result<Resolved> {
        Ok(match self {
            Source::Dir(dir) => Resolved::Dir(dir.canonicalize().map_err(|e| Error::io(dir, e))?),
            Source::Git(g) => Resolved::Git(g.resolve()?),
            Source::Slug { slug, from } => Resolved::Slug {
                slug: *slug,
                from: from.clone(),
            },
        })
    }
}

impl Resolved {
    /// How the deploy record names the source.
    pub(crate) fn describe(&self) -> String {
        match self {
            Resolved::Dir(dir) => dir.display().to_string(),
            Resolved::Git(c) => format!("{} ({})", c.describe(), c.commit),
            Resolved::Slug { slug, from } => format!("slug {slug} (promoted from {from})"),
        }
    }

    /// The project's configuration, diagnostics naming the file where it was read.
    pub(crate) fn project(&self, store: &Store) -> Result<Project> {
        match self {
            Resolved::Dir(dir) => {
                load_project(dir).map_err(|d| under(&dir.display().to_string(), d))
            }
            Resolved::Git(c) => load_project_from(|name| c.read_file(name))
                .map_err(|d| under(&format!("{}:", c.describe()), d)),
            Resolved::Slug { slug, .. } => slug_project(store, slug),
        }
    }
}

/// The configuration stored in slug `id` (its three files read from the store; a file over the size
/// limit is refused from its manifest entry, before its object is read).
pub fn slug_project(store: &Store, id: &SlugId) -> Result<Project> {
    let manifest = store.manifest(id)?;
    load_project_from(|name| match manifest.get(name.as_bytes()) {
        None => Ok(None),
        Some(Entry {
            kind: EntryKind::File { size, .. },
            ..
        }) if *size > MAX_FILE_BYTES => Err(too_large(*size)),
        Some(Entry {
            kind: EntryKind::File { id: object, .. },
            ..
        }) => store
            .read_object(object)
            .map(Some)
            .map_err(|e| format!("cannot read: {e}")),
        Some(_) => Err("is not a regular file".to_owned()),
    })
    .map_err(|d| under(&format!("slug {}:", id.short(12)), d))
}

/// Diagnostics name their file from the project root; prefix them with where the project is
/// (`dir/`, `repo@rev:`, `slug 3f2a…:`).
fn under(prefix: &str, diagnostics: Vec<Diagnostic>) -> Error {
    let join = |file: &str| {
        if prefix.ends_with(':') {
            format!("{prefix}{file}")
        } else {
            Path::new(prefix).join(file).display().to_string()
        }
    };
    Error::Config(
        diagnostics
            .into_iter()
            .map(|mut d| {
                d.file = join(&d.file);
                d
            })
            .collect(),
    )
}

/// Slug `tree` without what lies under `project`'s mounts (a source directory's snapshot never has
/// it; a git tree may have committed files there). Returns `tree` itself when nothing is under a mount.
pub(crate) fn without_mounts(store: &Store, tree: SlugId, project: &Project) -> Result<SlugId> {
    let mounts: Vec<Vec<u8>> = project
        .app
        .mounts
        .iter()
        .map(|m| slugstore::slug::normalize_rel(&m.path).map(String::into_bytes))
        .collect::<slugstore::Result<_>>()?;
    let under_mount = |path: &[u8]| {
        mounts
            .iter()
            .any(|m| path.starts_with(m) && (path.len() == m.len() || path[m.len()] == b'/'))
    };
    let manifest = store.manifest(&tree)?;
    if !manifest.entries().iter().any(|e| under_mount(&e.path)) {
        return Ok(tree);
    }
    let kept: Vec<Entry> = manifest
        .into_entries()
        .into_iter()
        .filter(|e| !under_mount(&e.path))
        .collect();
    let meta = SlugMeta {
        message: Some(format!("{} without its mounts", tree.short(12))),
        action: "import",
        ..SlugMeta::default()
    };
    let committed = slugstore::store::commit_manifest(
        store,
        store.writer(),
        &Manifest::new(kept)?,
        &meta,
        |_, _| Ok(()),
    )?;
    Ok(committed.slug)
}
