//! Naming a slug by environment: `staging` is the release live there, anything else a slug name.
//!
//! `slug diff staging production` and `slug promote staging production` name slugs this way; both
//! resolve through here, so an environment always wins over a ref of the same name, as it does in the
//! status page.

use slugstore::id::SlugId;
use slugstore::store::Store;

use super::Registry;
use crate::error::{Error, Result};

/// Resolves `what`: the live release of the environment of that name, or a slug name (ref, id, id
/// prefix). Returns the slug and how it was named (`environment staging`, or `what` itself).
pub fn resolve(store: &Store, registry: &Registry, what: &str) -> Result<(SlugId, String)> {
    match registry.environments.get(what) {
        Some(env) => {
            let live = slugstore::checkout::targets::live(&env.target)?.ok_or_else(|| {
                Error::NoLiveRelease {
                    environment: what.to_owned(),
                    target: env.target.clone(),
                }
            })?;
            Ok((live, format!("environment {what}")))
        }
        None => Ok((resolve_slug(store, what)?, what.to_owned())),
    }
}

/// A slug name from the user; a full id the store does not have is reported as such.
fn resolve_slug(store: &Store, name: &str) -> Result<SlugId> {
    match store.resolve(name) {
        Err(slugstore::Error::UnknownSlug(_)) if name.parse::<SlugId>().is_ok() => {
            Err(Error::SlugNotInStore(name.to_owned()))
        }
        other => Ok(other?),
    }
}
