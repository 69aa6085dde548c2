//! The rule for ref names, part of the format: every way a ref enters a store (a snapshot, an import,
//! a pull, a push to a remote) checks it the same way, so a name accepted once is accepted everywhere.

use crate::error::{Error, Result};

/// Ref names: non-empty, printable, no whitespace or `/..`, not a hex id prefix (which would shadow ids).
pub fn check_ref_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 200
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./@".contains(c))
        && !name
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..");
    if !ok {
        return Err(Error::InvalidRefName(name.to_owned()));
    }
    if name.len() >= 4 && name.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err(Error::RefLooksLikeId(name.to_owned()));
    }
    Ok(())
}
