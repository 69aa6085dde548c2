//! Opening a configured remote, and the transfers a command names by remote and slug.
//!
//! Push, pull and repair each need the same three things of a remote: its configuration (name and
//! URL, from [`config`]), its [`Backend`], and the local cache of its pack indexes. [`open`] gathers
//! them once, so every caller looks a remote up, connects and caches the same way; [`push_named`] and
//! [`pull_named`] then take what a user types (a slug name, a remote name or none) and do the rest.

use std::path::PathBuf;

use crate::error::Result;
use crate::progress::ProgressBars;
use crate::remote::backend::{self, Backend};
use crate::remote::config::{self, NamedRemote};
use crate::remote::{PullReport, PushOptions, PushReport};
use crate::store::Store;

/// A configured remote, connected.
pub struct OpenRemote {
    /// Its name and URL.
    pub remote: NamedRemote,
    /// Where its objects are read and written.
    pub backend: Box<dyn Backend>,
    /// The local cache of its pack indexes ([`config::cache_dir`]).
    pub cache_dir: PathBuf,
}

impl OpenRemote {
    /// Connects to `remote`, a remote configured in `store`.
    pub fn connect(store: &Store, remote: NamedRemote) -> Result<OpenRemote> {
        let backend = backend::open(&remote.url)?;
        let cache_dir = config::cache_dir(store, &remote.name);
        Ok(OpenRemote {
            remote,
            backend,
            cache_dir,
        })
    }
}

/// Opens the remote called `name` ([`Error::UnknownRemote`](crate::Error::UnknownRemote) when
/// none is).
pub fn open(store: &Store, name: &str) -> Result<OpenRemote> {
    OpenRemote::connect(store, config::get(store, name)?)
}

/// Opens the remotes called `names`, in that order; every configured remote, in name order, when
/// `names` is empty ([`Error::NoRemote`](crate::Error::NoRemote) when there is none).
pub fn open_all(store: &Store, names: &[String]) -> Result<Vec<OpenRemote>> {
    let remotes = if names.is_empty() {
        config::list(store)?
    } else {
        names
            .iter()
            .map(|name| config::get(store, name))
            .collect::<Result<_>>()?
    };
    if remotes.is_empty() {
        return Err(crate::Error::NoRemote);
    }
    remotes
        .into_iter()
        .map(|remote| OpenRemote::connect(store, remote))
        .collect()
}

/// Pushes the slug named `slug` (ref, id or id prefix) to the remote called `remote`, or to the only
/// remote when `remote` is `None`. When `slug` is a ref, the remote ref of the same name is set too.
/// Returns the remote pushed to with the report.
pub fn push_named(
    store: &Store,
    slug: &str,
    remote: Option<&str>,
    bars: &dyn ProgressBars,
) -> Result<(NamedRemote, PushReport)> {
    let remote = config::get_or_default(store, remote)?;
    let id = store.resolve(slug)?;
    let opts = PushOptions {
        ref_name: store.index().get_ref(slug)?.map(|_| slug.to_owned()),
        ..PushOptions::default()
    };
    let to = OpenRemote::connect(store, remote)?;
    let r = super::push(store, &id, to.backend.as_ref(), &to.cache_dir, &opts, bars)?;
    Ok((to.remote, r))
}

/// Pulls the slug named `slug` (a remote ref, a slug id or id prefix) from the remote called `remote`.
/// The local ref set is `local_ref`, or when that is `None` and `slug` is not an id (4+ hex digits),
/// the ref of the same name. Returns the remote pulled from with the report.
pub fn pull_named(
    store: &Store,
    remote: &str,
    slug: &str,
    local_ref: Option<&str>,
    bars: &dyn ProgressBars,
) -> Result<(NamedRemote, PullReport)> {
    let remote = config::get(store, remote)?;
    let is_id = slug.len() >= 4 && slug.bytes().all(|c| c.is_ascii_hexdigit());
    let local_ref = local_ref.or((!is_id).then_some(slug));
    let from = OpenRemote::connect(store, remote)?;
    let r = super::pull(
        store,
        from.backend.as_ref(),
        &from.cache_dir,
        slug,
        local_ref,
        bars,
    )?;
    Ok((from.remote, r))
}
