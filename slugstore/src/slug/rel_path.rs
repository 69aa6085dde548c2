//! Relative paths as users write them (`--exclude /var/`, a mount's `pub/media/`) turned into the
//! `/`-separated form manifests use, the one rule every caller shares.

use crate::error::{Error, Result};

/// Normalizes a user-given relative path: strips leading `/`, `./` and trailing `/`, collapses `//`.
pub fn normalize_rel(path: &str) -> Result<String> {
    let mut parts = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                return Err(Error::BadPath {
                    path: path.to_owned(),
                    why: "must not contain `..`".into(),
                })
            }
            c => parts.push(c),
        }
    }
    Ok(parts.join("/"))
}
