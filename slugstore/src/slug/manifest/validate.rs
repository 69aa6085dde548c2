//! What every manifest keeps, built from a walk or decoded from untrusted bytes.
//!
//! Decoding treats the bytes as untrusted (they may come from a remote or an archive): paths must be
//! relative, `/`-separated, free of `.`/`..`/empty components and NUL, strictly increasing, and every
//! entry's parent must be a directory entry of the same manifest, so a restore can never write through a
//! symlink or outside its destination.

use foldhash::HashSet;
use rayon::prelude::*;

use super::{bad, Entry, EntryKind};
use crate::error::Result;

/// Entries checked as one range (see [`check`]).
const RANGE: usize = 32 * 1024;

/// Checks path syntax, strict order and that every parent is a directory entry.
///
/// Only the last component of each path is checked for syntax: the rest is the parent, a directory
/// entry met earlier, whose own last component was checked then (and so on up to the top).
///
/// Large manifests are checked in ranges on all cores: the pass is bound by memory latency (130k
/// paths, each its own allocation, scattered over the heap by a parallel walk), not by the few
/// comparisons per entry. A range resolves each parent among its own directories, else notes it; the
/// noted ones are then looked up among the directories of the ranges before it (a parent sorts
/// before its children, so it can only be there).
pub(super) fn check(entries: &[Entry]) -> Result<()> {
    let ranges: Vec<Result<Range<'_>>> = entries
        .par_chunks(RANGE)
        .enumerate()
        .map(|(r, chunk)| {
            let before = (r > 0).then(|| &entries[r * RANGE - 1]);
            check_range(chunk, before)
        })
        .collect();
    let mut checked: Vec<Range<'_>> = Vec::with_capacity(ranges.len());
    for range in ranges {
        let range = range?;
        for (parent, e) in &range.unresolved {
            if !checked.iter().any(|r| r.dirs.contains(parent)) {
                return Err(no_parent(e));
            }
        }
        checked.push(range);
    }
    Ok(())
}

/// One range of a manifest's entries, checked: its directories, and the parents it did not find
/// among them (with the first entry that needs each).
struct Range<'a> {
    dirs: HashSet<&'a [u8]>,
    unresolved: Vec<(&'a [u8], &'a Entry)>,
}

/// Checks `entries`, which follow `before` in the manifest, as [`check`] does, except for parents
/// that are not among these entries: those are returned.
fn check_range<'a>(entries: &'a [Entry], before: Option<&'a Entry>) -> Result<Range<'a>> {
    let mut dirs: HashSet<&[u8]> = HashSet::default();
    let mut unresolved = Vec::new();
    let mut prev: Option<&[u8]> = before.map(|e| e.path.as_slice());
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
                unresolved.push((parent, e));
            }
            known_parent = Some(parent);
        }
        if e.kind == EntryKind::Dir {
            dirs.insert(p);
        }
        prev = Some(p);
    }
    Ok(Range { dirs, unresolved })
}

fn no_parent(e: &Entry) -> crate::error::Error {
    bad(format!(
        "`{}` has no parent directory entry",
        e.display_path()
    ))
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

    /// Manifests past one range are checked in ranges side by side: a parent in an earlier range is
    /// found, one that is missing or not a directory is not, and order holds across the ranges.
    #[test]
    fn large_manifests_are_checked_across_ranges() {
        let mut e = vec![dir("a")];
        e.extend((0..40_000).map(|i| file(&format!("a/{i:05}"), b"", false)));
        e.push(dir("b"));
        e.extend((0..40_000).map(|i| file(&format!("b/{i:05}"), b"", false)));
        e.push(dir("b/z"));
        e.push(file("b/z/f", b"", false));
        check(&e).unwrap();
        let err = |e: &[Entry]| check(e).unwrap_err().to_string();

        let mut missing = e.clone();
        missing.push(file("c/x", b"", false));
        assert!(
            err(&missing).contains("`c/x` has no parent"),
            "{}",
            err(&missing)
        );

        // "a/00001" is a file: nothing may sit under it, ranges away.
        let mut under_file = e.clone();
        let at = under_file.iter().position(|x| x.path == b"b").unwrap();
        under_file.insert(at, file("a/00001/x", b"", false));
        under_file.sort_by(|x, y| x.path.cmp(&y.path));
        assert!(err(&under_file).contains("`a/00001/x` has no parent"));

        // Out of order exactly where one range ends and the next begins.
        let mut swapped = e.clone();
        swapped.swap(RANGE - 1, RANGE);
        assert!(err(&swapped).contains("out of order"), "{}", err(&swapped));
    }
}
