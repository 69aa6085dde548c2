//! What to run next, added to the library's errors when they are printed.
//!
//! The library's errors carry the facts (which remote, which store); only the CLI knows its own
//! commands, so the `slug ...` hint that tells a user how to fix the error is added here, where the
//! error is printed.

use slugstore::Error;

/// The hint for `e` (or for the error a failed deploy phase carries), with its leading space.
pub fn for_error(e: &Error) -> Option<String> {
    match e {
        Error::UnknownRemote(_) => Some(" (see `slug remote ls`)".into()),
        Error::NoRemote => Some(" (add one with `slug remote add NAME URL`)".into()),
        Error::UnknownBranch(_) => Some(" (see `slug env add --branch`)".into()),
        Error::Deploy { source, .. } => for_error(source),
        _ => None,
    }
}
