//! The difference between two slugs, from their manifests alone.
//!
//! A manifest lists every path of a slug with all that a deploy can observe there (kind, executable
//! bit, size, content hash, link target), sorted by raw path bytes. So two slugs are compared without
//! touching a tree or reading a file: decode both manifests (in parallel, they are independent: ~20 ms
//! each for 91k entries), then walk the two sorted lists side by side once, as the merge step of a
//! merge sort does. The smaller path is only on its side (removed or added); equal paths compare their
//! entries. That is O(n) in the entries of both, with no lookups, and the result comes out sorted.
//!
//! Content is compared by hash: equal ids mean equal bytes. A removed directory lists its whole subtree
//! (every path under it is gone); so does an added one.

mod report;

pub use report::{DiffReport, PathDiff, RawPath, Status, Totals, What};

use std::cmp::Ordering;

use crate::error::Result;
use crate::id::SlugId;
use crate::slug::Manifest;
use crate::store::Store;

/// Compares slug `from` (the old side) with slug `to` (the new side) in `store`.
///
/// Fails with the store's error when either slug is not in the store (never stored, or pruned: its
/// manifest may linger until gc, but the slug is gone) or its manifest cannot be read.
pub fn diff(store: &Store, from: &SlugId, to: &SlugId) -> Result<DiffReport> {
    let read = |id: &SlugId| store.slug(id).and_then(|_| store.manifest(id));
    let (totals, entries) = if from == to {
        let m = read(from)?;
        compare(&m, &m)
    } else {
        let (old, new) = rayon::join(|| read(from), || read(to));
        compare(&old?, &new?)
    };
    Ok(DiffReport {
        from: *from,
        to: *to,
        totals,
        entries,
    })
}

/// The paths that differ from `old` to `new`, sorted by path bytes, and their totals.
pub fn compare(old: &Manifest, new: &Manifest) -> (Totals, Vec<PathDiff>) {
    let (a, b) = (old.entries(), new.entries());
    let mut totals = Totals::default();
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let order = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) => x.path.cmp(&y.path),
            (Some(_), None) => Ordering::Less,
            _ => Ordering::Greater,
        };
        let d = match order {
            Ordering::Less => {
                i += 1;
                Some(PathDiff::removed(&a[i - 1]))
            }
            Ordering::Greater => {
                j += 1;
                Some(PathDiff::added(&b[j - 1]))
            }
            Ordering::Equal => {
                i += 1;
                j += 1;
                PathDiff::changed(&a[i - 1], &b[j - 1])
            }
        };
        match d {
            Some(d) => {
                totals.count(&d);
                out.push(d);
            }
            None => totals.unchanged += 1,
        }
    }
    (totals, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::ObjectId;
    use crate::slug::{Entry, EntryKind};

    fn dir(p: &[u8]) -> Entry {
        Entry {
            path: p.to_vec(),
            kind: EntryKind::Dir,
        }
    }

    fn file(p: &[u8], content: &[u8], executable: bool) -> Entry {
        Entry {
            path: p.to_vec(),
            kind: EntryKind::File {
                size: content.len() as u64,
                id: ObjectId::hash(content),
                executable,
            },
        }
    }

    fn link(p: &[u8], target: &[u8]) -> Entry {
        Entry {
            path: p.to_vec(),
            kind: EntryKind::Symlink {
                target: target.to_vec(),
            },
        }
    }

    fn summary(diffs: &[PathDiff]) -> Vec<(String, Status, Vec<What>)> {
        diffs
            .iter()
            .map(|d| (d.path.display().into_owned(), d.status, d.what.clone()))
            .collect()
    }

    fn old() -> Manifest {
        Manifest::new(vec![
            dir(b"a"),
            file(b"a/same", b"same", false),
            file(b"a/edit", b"one", false),
            file(b"a/grow", b"12", false),
            file(b"a/run", b"#!", false),
            dir(b"gone"),
            file(b"gone/x", b"xx", false),
            link(b"l", b"t1"),
            file(b"becomes-link", b"12345", false),
            dir(b"becomes-file"),
            file(b"z", b"last", false),
        ])
        .unwrap()
    }

    fn new() -> Manifest {
        Manifest::new(vec![
            dir(b"a"),
            file(b"a/same", b"same", false),
            file(b"a/edit", b"two", false),
            file(b"a/grow", b"12345", false),
            file(b"a/run", b"#!", true),
            file(b"a/\xff", b"new!", false),
            link(b"l", b"t2"),
            link(b"becomes-link", b"z"),
            file(b"becomes-file", b"abcdef", false),
            file(b"z", b"last", false),
            file(b"zz", b"added", false),
        ])
        .unwrap()
    }

    #[test]
    fn merge_finds_every_kind_of_difference_in_path_order() {
        let (totals, diffs) = compare(&old(), &new());
        use Status::*;
        let s = |p: &str, st, w: &[What]| (p.to_string(), st, w.to_vec());
        assert_eq!(
            summary(&diffs),
            vec![
                s("a/edit", Changed, &[What::Content]),
                s("a/grow", Changed, &[What::Content]),
                s("a/run", Changed, &[What::Mode]),
                s("a/\\xff", Added, &[]),
                s("becomes-file", Changed, &[What::Type]),
                s("becomes-link", Changed, &[What::Type]),
                s("gone", Removed, &[]),
                s("gone/x", Removed, &[]),
                s("l", Changed, &[What::Target]),
                s("zz", Added, &[]),
            ]
        );
        assert_eq!(
            totals,
            Totals {
                added: 2,
                removed: 2,
                changed: 6,
                unchanged: 3,
                kind: 2,
                content: 2,
                mode: 1,
                target: 1,
                added_bytes: 4 + 6 + 5,
                removed_bytes: 2 + 5,
                changed_old_bytes: 3 + 2,
                changed_new_bytes: 3 + 5,
            }
        );
    }

    #[test]
    fn net_bytes_is_the_change_in_tree_size() {
        let (totals, _) = compare(&old(), &new());
        let size = |m: &Manifest| m.stats().bytes as i128;
        assert_eq!(totals.net_bytes(), size(&new()) - size(&old()));
        let (back, _) = compare(&new(), &old());
        assert_eq!(back.net_bytes(), -totals.net_bytes());
        assert_eq!((back.added, back.removed), (totals.removed, totals.added));
    }

    #[test]
    fn identical_and_empty_manifests() {
        let (totals, diffs) = compare(&old(), &old());
        assert!(diffs.is_empty());
        assert_eq!(totals.unchanged, old().entries().len() as u64);
        assert_eq!(totals.differing(), 0);
        let empty = Manifest::default();
        let (totals, diffs) = compare(&empty, &old());
        assert_eq!(diffs.len(), old().entries().len());
        assert!(diffs.iter().all(|d| d.status == Status::Added));
        assert_eq!(totals.added_bytes, old().stats().bytes);
        let (totals, _) = compare(&old(), &empty);
        assert_eq!(totals.removed, old().entries().len() as u64);
    }

    #[test]
    fn sides_carry_sizes_and_json_names_non_utf8_paths() {
        let (_, diffs) = compare(&old(), &new());
        let grow = diffs.iter().find(|d| d.path.0 == b"a/grow").unwrap();
        assert_eq!(grow.old.as_ref().map(EntryKind::file_size), Some(2));
        assert_eq!(grow.new.as_ref().map(EntryKind::file_size), Some(5));
        let j = serde_json::to_value(grow).unwrap();
        assert_eq!(j["path"], "a/grow");
        assert!(j.get("path_hex").is_none());
        assert_eq!(j["what"], serde_json::json!(["content"]));
        assert_eq!(j["old"]["kind"], "file");
        assert_eq!(j["new"]["size"], 5);

        let odd = diffs.iter().find(|d| d.path.0 == b"a/\xff").unwrap();
        let j = serde_json::to_value(odd).unwrap();
        assert_eq!(j["path"], "a/\\xff");
        assert_eq!(j["path_hex"], "612fff");
        assert_eq!(j["status"], "added");
        assert!(j.get("old").is_none() && j.get("what").is_none());

        let l = diffs.iter().find(|d| d.path.0 == b"l").unwrap();
        let j = serde_json::to_value(l).unwrap();
        assert_eq!(
            j["new"],
            serde_json::json!({"kind": "symlink", "target": "t2"})
        );
    }
}
