//! What every manifest keeps, built from a walk or decoded from untrusted bytes.
//!
//! Decoding treats the bytes as untrusted (they may come from a remote or an archive): paths must be
//! relative, `/`-separated, free of `.`/`..`/empty components and NUL, strictly increasing, and every
//! entry's parent must be a directory entry of the same manifest, so a restore can never write through a
//! symlink or outside its destination.

use foldhash::HashSet;

use super::{bad, Entry, EntryKind};
use crate::error::Result;

/// Checks path syntax, strict order and that every parent is a directory entry.
///
/// Only the last component of each path is checked for syntax: the rest is the parent, a directory
/// entry met earlier, whose own last component was checked then (and so on up to the top).
pub(super) fn check(entries: &[Entry]) -> Result<()> {
    let mut dirs: HashSet<&[u8]> = HashSet::default();
    let mut prev: Option<&[u8]> = None;
    // The parent last found among the directories: most entries share their predecessor's parent,
    // and comparing with it is cheaper than hashing the parent's path.
    let mut known_parent: Option<&[u8]> = None;
    for e in entries {
        let p = e.path.as_slice();
        if let Some(prev) = prev {
            if prev >= p {
                return Err(bad(format!(
                    "paths out of order or repeated at `{}`",
                    e.display_path()
                )));
            }
        }
        let (parent, name) = match p.iter().rposition(|&c| c == b'/') {
            Some(slash) => (Some(&p[..slash]), &p[slash + 1..]),
            None => (None, p),
        };
        if !is_clean_name(name) {
            return Err(bad(format!("invalid path `{}`", e.display_path())));
        }
        if let Some(parent) = parent {
            if known_parent != Some(parent) && !dirs.contains(parent) {
                return Err(bad(format!(
                    "`{}` has no parent directory entry",
                    e.display_path()
                )));
            }
            known_parent = Some(parent);
        }
        if e.kind == EntryKind::Dir {
            dirs.insert(p);
        }
        prev = Some(p);
    }
    Ok(())
}

/// True for a path component: not empty, `.` or `..`, without a NUL byte (nor a `/`, which the
/// caller split on).
pub(crate) fn is_clean_name(name: &[u8]) -> bool {
    !matches!(name, b"" | b"." | b"..") && !name.contains(&0)
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{dir, file};
    use super::super::Manifest;
    use super::*;

    #[test]
    fn rejects_hostile_paths() {
        for p in ["../x", "/abs", "a//b", "a/./b", "x\0y", ""] {
            let mut e = vec![file(p, b"", false)];
            if p.starts_with("a/") {
                e.push(dir("a"));
            }
            assert!(Manifest::new(e).is_err(), "{p:?} accepted");
        }
        // A file under a symlink would be written through the link.
        let e = vec![
            Entry {
                path: b"l".to_vec(),
                kind: EntryKind::Symlink {
                    target: b"/etc".to_vec(),
                },
            },
            file("l/x", b"", false),
        ];
        assert!(Manifest::new(e).is_err());
    }
}
