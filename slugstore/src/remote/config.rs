//! Named remotes, kept in the store's index.
//!
//! A remote is a name and a URL, stored in the index's `meta` family under `remote.<name>` so adding
//! one is an atomic, durable index write like every other change to the store. Only the URL is kept:
//! endpoint, region and credentials of S3 remotes come from the environment each time (see
//! [`S3Config::from_env`](super::backend::S3Config::from_env)), so nothing secret ever lands in the
//! store or in `slug remote ls`.
//!
//! Each remote also owns `<store>/remotes/<name>/`, a cache of the idx files downloaded from it (see
//! [`catalog`](super::catalog)); removing the remote removes its cache.

use std::path::PathBuf;

use crate::error::{Error, IoResultExt, Result};
use crate::remote::url::RemoteUrl;
use crate::store::Store;

const META_PREFIX: &str = "remote.";

/// A configured remote.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NamedRemote {
    /// Its name.
    pub name: String,
    /// Where it is.
    #[serde(serialize_with = "serialize_display")]
    pub url: RemoteUrl,
}

fn serialize_display<S: serde::Serializer>(url: &RemoteUrl, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(url)
}

/// Checks a remote name: 1 to 64 letters, digits, `-`, `_` or `.`, not starting with `.` or `-`.
pub fn check_remote_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with(['.', '-'])
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidRemoteName(name.to_owned()))
    }
}

/// Every configured remote, by name.
pub fn list(store: &Store) -> Result<Vec<NamedRemote>> {
    store
        .index()
        .meta_with_prefix(META_PREFIX)?
        .into_iter()
        .map(|(key, url)| {
            let name = key[META_PREFIX.len()..].to_string();
            let url = RemoteUrl::parse(&url).map_err(|e| {
                Error::format(format!("remote `{name}` in the store index"), e.to_string())
            })?;
            Ok(NamedRemote { name, url })
        })
        .collect()
}

/// Adds remote `name`; fails if the name is taken.
pub fn add(store: &Store, name: &str, url: &RemoteUrl) -> Result<NamedRemote> {
    check_remote_name(name)?;
    let key = format!("{META_PREFIX}{name}");
    if let Some(existing) = store.index().meta(&key)? {
        return Err(Error::RemoteExists {
            name: name.to_owned(),
            url: existing.to_string(),
        });
    }
    // A cache left by an earlier remote of the same name describes another place.
    remove_cache(store, name)?;
    let mut b = store.index().batch();
    b.put_meta(&key, &url.to_string());
    b.commit()?;
    Ok(NamedRemote {
        name: name.to_string(),
        url: url.clone(),
    })
}

/// Removes remote `name` and its cache.
pub fn remove(store: &Store, name: &str) -> Result<NamedRemote> {
    let found = get(store, name)?;
    let mut b = store.index().batch();
    b.delete_meta(&format!("{META_PREFIX}{name}"));
    b.commit()?;
    remove_cache(store, name)?;
    Ok(found)
}

/// The remote called `name`.
pub fn get(store: &Store, name: &str) -> Result<NamedRemote> {
    list(store)?
        .into_iter()
        .find(|r| r.name == name)
        .ok_or_else(|| Error::UnknownRemote(name.to_owned()))
}

/// The remote called `name`, or the only remote when `name` is `None`.
pub fn get_or_default(store: &Store, name: Option<&str>) -> Result<NamedRemote> {
    if let Some(name) = name {
        return get(store, name);
    }
    let mut all = list(store)?;
    match all.len() {
        1 => Ok(all.remove(0)),
        0 => Err(Error::NoRemote),
        _ => Err(Error::AmbiguousRemote(
            all.into_iter().map(|r| r.name).collect(),
        )),
    }
}

/// The cache directory of remote `name`.
pub fn cache_dir(store: &Store, name: &str) -> PathBuf {
    store.root().join("remotes").join(name)
}

fn remove_cache(store: &Store, name: &str) -> Result<()> {
    let dir = cache_dir(store, name);
    match std::fs::remove_dir_all(&dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e).at(&dir),
        _ => Ok(()),
    }
}
