//! A snapshot from a watcher's journal: the tree's previous slug, patched with the paths the watcher saw
//! change, instead of a walk of the whole tree (see [`crate::watch`] for why, and why it is sound).
//!
//! Each changed path is looked at afresh, from the tree's root and never through a symlink: gone, a
//! directory, a file (read, hashed and stored as in a walk), a symlink, or a special file (skipped with
//! a warning). A directory that is gone or no longer a directory takes its whole subtree out of the
//! manifest. The result goes through the same checks as any manifest (every parent a directory of the
//! slug); should it fail them, the snapshot walks the tree instead.

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::stat_cache::StatChanges;
use super::tree_scan::{store_file, Scanned};
use crate::error::{Error, Result};
use crate::fsutil::dir::{Dir, Kind};
use crate::fsutil::walk::join;
use crate::id::SlugId;
use crate::progress::Progress;
use crate::scan::Racy;
use crate::scan::{Excludes, FileMeta};
use crate::slug::{Entry, EntryKind};
use crate::store::index::TreeKey;
use crate::store::{Batch, ObjectWriter, Store};
use crate::watch::{self, Request, Token};

/// What a snapshot recorded of the watcher, with its slug (in the index's `meta`, per tree).
#[derive(Debug, Serialize, Deserialize)]
struct Record {
    /// The journal's position when the snapshot started.
    #[serde(flatten)]
    token: Token,
    /// The slug that snapshot made: the tree as of that position.
    slug: SlugId,
    /// What it left out: a snapshot that leaves out something else cannot start from that slug.
    excludes: Vec<String>,
}

fn record_key(tkey: &TreeKey) -> String {
    let hex: String = tkey.iter().map(|b| format!("{b:02x}")).collect();
    format!("watch/{hex}")
}

/// The watcher's part in a snapshot.
pub(super) struct Watch {
    /// The journal's position before the tree is read: recorded with the new slug.
    token: Token,
    /// The slug the journal's changes apply to, and those changes. `None`: the tree must be walked
    /// (the first snapshot since the watcher started, or the journal started over).
    pub base: Option<(SlugId, Vec<Vec<u8>>)>,
}

impl Watch {
    /// Adds the token to the snapshot's commit.
    pub fn record(
        &self,
        batch: &mut Batch<'_>,
        tkey: &TreeKey,
        slug: &SlugId,
        excludes: &Excludes,
    ) {
        let record = Record {
            token: self.token,
            slug: *slug,
            excludes: excludes.list(),
        };
        let json = serde_json::to_string(&record).expect("records serialize");
        batch.put_meta(&record_key(tkey), &json);
    }
}

/// Asks the watcher of `root`, if one runs, for the paths changed since the token recorded with this
/// tree's last slug in `store`. `Ok(None)` (walk, record nothing) when no watcher runs, when it does
/// not answer (a warning says so), or when it leaves unwatched a path the snapshot takes.
pub(super) fn ask(
    store: &Store,
    root: &Path,
    tkey: &TreeKey,
    excludes: &Excludes,
    warnings: &mut Vec<String>,
) -> Result<Option<Watch>> {
    let key = record_key(tkey);
    let record = match store.index().meta(&key)? {
        Some(json) => serde_json::from_str::<Record>(&json).ok(),
        None => None,
    };
    let record = match record {
        Some(r) if r.excludes == excludes.list() && store.index().slug(&r.slug)?.is_some() => {
            Some(r)
        }
        _ => None,
    };
    let since = record.as_ref().map(|r| r.token);
    let answer = match watch::ask(root, &Request::Since(since)) {
        Ok(Some(a)) => a,
        Ok(None) => return Ok(None),
        Err(e) => {
            warnings.push(format!("walked the tree: {e}"));
            return Ok(None);
        }
    };
    if !answer.unwatched.iter().all(|p| excludes.covers(p)) {
        return Ok(None);
    }
    let base = match (record, answer.changed) {
        (Some(r), Some(changed)) => Some((r.slug, changed)),
        _ => None,
    };
    Ok(Some(Watch {
        token: answer.token,
        base,
    }))
}

/// What is at a changed path now.
enum Now {
    Gone,
    Dir,
    File(FileMeta),
    Symlink(Vec<u8>),
    Special,
}

/// Patches the base entries (sorted, from `base`) with the `changed` paths (sorted). Files are read and
/// stored through `writer`, while `base` decodes the previous manifest.
#[allow(clippy::too_many_arguments)]
pub(super) fn patch(
    writer: &ObjectWriter<'_>,
    root: &Path,
    excludes: &Excludes,
    base: impl FnOnce() -> Result<Vec<Entry>> + Send,
    changed: Vec<Vec<u8>>,
    racy: Racy,
    bar: &dyn Progress,
) -> Result<Scanned> {
    let top = Dir::open(root).map_err(|e| Error::io(root, e))?;
    let changed: Vec<Vec<u8>> = changed
        .into_iter()
        .filter(|p| !excludes.covers(p))
        .collect();
    let (base, now) = rayon::join(base, || {
        changed
            .par_iter()
            .map(|p| probe(writer, &top, root, p, bar))
            .collect::<Result<Vec<Now>>>()
    });
    let (base, now) = (base?, now?);

    // Base entries replaced or removed: the changed paths, and everything below a directory that is
    // gone or no longer a directory.
    let find = |p: &[u8]| base.binary_search_by(|e| e.path.as_slice().cmp(p));
    let mut dropped = vec![false; base.len()];
    let mut stats = StatChanges::default();
    for (p, now) in changed.iter().zip(&now) {
        let Ok(i) = find(p) else { continue };
        dropped[i] = true;
        if base[i].kind == EntryKind::Dir && !matches!(now, Now::Dir) {
            let (from, to) = subtree(&base, p);
            for j in from..to {
                dropped[j] = true;
                stats.delete.push(base[j].path.clone());
            }
        }
    }
    let mut warnings = Vec::new();
    let mut files_read = 0;
    let mut fresh = Vec::new();
    for (path, now) in changed.into_iter().zip(now) {
        let kind = match now {
            Now::Dir => EntryKind::Dir,
            Now::File(m) => {
                files_read += 1;
                let id = m.id.expect("probed files are hashed");
                if racy.settled(m.mtime_ns, m.ctime_ns) {
                    stats.put.push((path.clone(), super::stat_entry(&m, id)));
                } else {
                    stats.delete.push(path.clone());
                }
                EntryKind::File {
                    size: m.size,
                    id,
                    executable: m.executable,
                }
            }
            Now::Symlink(target) => EntryKind::Symlink { target },
            Now::Gone | Now::Special => {
                if matches!(now, Now::Special) {
                    warnings.push(format!(
                        "skipped special file {}",
                        join(root, &path).display()
                    ));
                }
                stats.delete.push(path);
                continue;
            }
        };
        if !matches!(kind, EntryKind::File { .. }) {
            stats.delete.push(path.clone());
        }
        fresh.push(Entry { path, kind });
    }
    stats.put.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let entries = merge(base, &dropped, fresh);
    Ok(Scanned {
        entries,
        stats,
        files_read,
        warnings,
    })
}

/// The index range of the entries below directory `dir` in sorted `entries`: the paths that start with
/// `dir/` are contiguous, from `dir/` up to (not including) `dir0` (`0` follows `/`).
fn subtree(entries: &[Entry], dir: &[u8]) -> (usize, usize) {
    let mut lo = dir.to_vec();
    lo.push(b'/');
    let mut hi = dir.to_vec();
    hi.push(b'/' + 1);
    let from = entries.partition_point(|e| e.path < lo);
    let to = entries.partition_point(|e| e.path < hi);
    (from, to)
}

/// The base entries not dropped, and the fresh ones, in path order (both inputs are sorted).
fn merge(base: Vec<Entry>, dropped: &[bool], fresh: Vec<Entry>) -> Vec<Entry> {
    let mut out = Vec::with_capacity(base.len() + fresh.len());
    let mut fresh = fresh.into_iter().peekable();
    for (e, gone) in base.into_iter().zip(dropped) {
        if *gone {
            continue;
        }
        while let Some(f) = fresh.next_if(|f| f.path < e.path) {
            out.push(f);
        }
        out.push(e);
    }
    out.extend(fresh);
    out
}

/// Looks at the changed path `rel` afresh: opened from the root without following any symlink (a path
/// through one is gone from the tree), read and stored if it is a file.
fn probe(
    writer: &ObjectWriter<'_>,
    top: &Dir,
    root: &Path,
    rel: &[u8],
    bar: &dyn Progress,
) -> Result<Now> {
    let path = || join(root, rel);
    let (parent, name) = match rel.iter().rposition(|&b| b == b'/') {
        Some(i) => (Some(&rel[..i]), &rel[i + 1..]),
        None => (None, rel),
    };
    let gone = |e: &std::io::Error| {
        matches!(
            e.raw_os_error(),
            Some(libc::ENOENT | libc::ENOTDIR | libc::ELOOP)
        )
    };
    let opened;
    let dir = match parent {
        Some(p) => match top.open_beneath(p) {
            Ok(d) => {
                opened = d;
                &opened
            }
            Err(e) if gone(&e) => return Ok(Now::Gone),
            Err(e) => return Err(Error::io(path(), e)),
        },
        None => top,
    };
    let stat = match dir.lstat(name) {
        Ok(s) => s,
        Err(e) if gone(&e) => return Ok(Now::Gone),
        Err(e) => return Err(Error::io(path(), e)),
    };
    Ok(match stat.kind() {
        Kind::Dir => Now::Dir,
        Kind::Special => Now::Special,
        Kind::Symlink => match dir.read_link(name) {
            Ok(target) => Now::Symlink(target),
            Err(e) if gone(&e) => Now::Gone,
            Err(e) => return Err(Error::io(path(), e)),
        },
        Kind::File => {
            let file = match dir.open_file(name) {
                Ok(f) => f,
                Err(e) if gone(&e) => return Ok(Now::Gone),
                Err(e) => return Err(Error::io(path(), e)),
            };
            let mut meta = FileMeta::of(&stat);
            let path: PathBuf = path();
            meta.id = Some(store_file(writer, file, &|| path.clone(), meta.size)?);
            bar.inc(meta.size);
            Now::File(meta)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(p: &str) -> Entry {
        Entry {
            path: p.as_bytes().to_vec(),
            kind: EntryKind::Dir,
        }
    }

    #[test]
    fn subtree_is_the_contiguous_range_below_a_directory() {
        let entries: Vec<Entry> = ["a", "a-x", "a-x/f", "a/b", "a/b/c", "a0", "b"]
            .into_iter()
            .map(dir)
            .collect();
        assert_eq!(subtree(&entries, b"a"), (3, 5));
        assert_eq!(subtree(&entries, b"a-x"), (2, 3));
        assert_eq!(subtree(&entries, b"b"), (7, 7));
    }

    #[test]
    fn a_directory_that_became_a_file_takes_its_subtree_along() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        std::fs::write(root.join("d"), "now a file").unwrap();
        std::fs::write(root.join("e"), "kept").unwrap();
        let store = Store::init(&root.join(".store"), &Default::default()).unwrap();
        let writer = store.writer();
        let file = |p: &str| Entry {
            path: p.as_bytes().to_vec(),
            kind: EntryKind::File {
                size: 4,
                id: crate::ObjectId::hash(b"kept"),
                executable: false,
            },
        };
        let base = vec![dir("d"), file("d/f"), dir("d/s"), file("d/s/g"), file("e")];
        // The journal names the directory alone (its children's events are not relied on).
        let patched = patch(
            &writer,
            root,
            &Excludes::default(),
            || Ok(base),
            vec![b"d".to_vec()],
            Racy::before(i128::MAX),
            &crate::progress::NoProgress,
        )
        .unwrap();
        let paths: Vec<&[u8]> = patched.entries.iter().map(|e| e.path.as_slice()).collect();
        assert_eq!(paths, [&b"d"[..], b"e"]);
        assert!(matches!(
            patched.entries[0].kind,
            EntryKind::File { size: 10, .. }
        ));
        assert_eq!(patched.files_read, 1);
        for gone in ["d/f", "d/s", "d/s/g"] {
            assert!(
                patched.stats.delete.contains(&gone.as_bytes().to_vec()),
                "{gone}"
            );
        }
    }

    #[test]
    fn merge_keeps_order_and_drops_what_is_dropped() {
        let base: Vec<Entry> = ["a", "c", "e"].into_iter().map(dir).collect();
        let fresh: Vec<Entry> = ["b", "c", "f"].into_iter().map(dir).collect();
        let out = merge(base, &[false, true, false], fresh);
        let paths: Vec<&[u8]> = out.iter().map(|e| e.path.as_slice()).collect();
        assert_eq!(paths, [&b"a"[..], b"b", b"c", b"e", b"f"]);
    }
}
