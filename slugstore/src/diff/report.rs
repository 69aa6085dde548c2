//! What a diff reports: one [`PathDiff`] per path that differs, and [`Totals`] over them.
//!
//! Plain data that serializes as the `--json` output of `slug diff`. Paths and link targets are raw
//! bytes, as in the manifest: JSON shows them through [`display_bytes`], and a path that is not UTF-8
//! also gets `path_hex`, the exact bytes, so a script can tell apart two names that display alike.

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use crate::id::SlugId;
use crate::slug::{display_bytes, hex_bytes, Entry, EntryKind};

/// The difference between two slugs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiffReport {
    /// The slug compared from (the old side).
    pub from: SlugId,
    /// The slug compared to (the new side).
    pub to: SlugId,
    /// Counts and byte totals.
    pub totals: Totals,
    /// Every path that differs, sorted by path bytes.
    pub entries: Vec<PathDiff>,
}

impl DiffReport {
    /// True when the two trees are the same.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// How a path differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Only in the new slug.
    Added,
    /// Only in the old slug.
    Removed,
    /// In both, with something different.
    Changed,
}

/// What changed at a path present in both slugs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum What {
    /// The kind (directory, file, symlink); nothing else is compared then.
    Type,
    /// A file's content (its hash; the size may be the same).
    Content,
    /// A file's executable bit.
    Mode,
    /// A symlink's target.
    Target,
}

/// A path that differs between the two slugs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathDiff {
    /// The path, raw bytes (JSON: `path`, and `path_hex` when not UTF-8).
    #[serde(flatten)]
    pub path: RawPath,
    /// Added, removed or changed.
    pub status: Status,
    /// What changed (empty unless `status` is `changed`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub what: Vec<What>,
    /// What the old slug holds at the path (absent when added).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<EntryKind>,
    /// What the new slug holds at the path (absent when removed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<EntryKind>,
}

impl PathDiff {
    /// A path only in the new slug.
    pub fn added(e: &Entry) -> PathDiff {
        PathDiff::between(e, Status::Added, Vec::new(), None, Some(&e.kind))
    }

    /// A path only in the old slug.
    pub fn removed(e: &Entry) -> PathDiff {
        PathDiff::between(e, Status::Removed, Vec::new(), Some(&e.kind), None)
    }

    /// A path in both whose entries differ, or `None` when they are the same.
    pub fn changed(old: &Entry, new: &Entry) -> Option<PathDiff> {
        let what = what_changed(&old.kind, &new.kind);
        (!what.is_empty()).then(|| {
            PathDiff::between(old, Status::Changed, what, Some(&old.kind), Some(&new.kind))
        })
    }

    fn between(
        e: &Entry,
        status: Status,
        what: Vec<What>,
        old: Option<&EntryKind>,
        new: Option<&EntryKind>,
    ) -> PathDiff {
        PathDiff {
            path: RawPath(e.path.clone()),
            status,
            what,
            old: old.cloned(),
            new: new.cloned(),
        }
    }
}

/// What differs between two entries at the same path (empty: nothing).
fn what_changed(old: &EntryKind, new: &EntryKind) -> Vec<What> {
    match (old, new) {
        (EntryKind::Dir, EntryKind::Dir) => Vec::new(),
        (
            EntryKind::File {
                id: a,
                executable: x,
                ..
            },
            EntryKind::File {
                id: b,
                executable: y,
                ..
            },
        ) => {
            // The id is the hash of the content, size included: equal ids mean equal sizes.
            let mut v = Vec::new();
            if a != b {
                v.push(What::Content);
            }
            if x != y {
                v.push(What::Mode);
            }
            v
        }
        (EntryKind::Symlink { target: a }, EntryKind::Symlink { target: b }) if a == b => {
            Vec::new()
        }
        (EntryKind::Symlink { .. }, EntryKind::Symlink { .. }) => vec![What::Target],
        _ => vec![What::Type],
    }
}

/// A path as raw bytes; serializes as `path` (for display) plus `path_hex` when it is not UTF-8.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RawPath(pub Vec<u8>);

impl RawPath {
    /// The path for humans: as-is when UTF-8, with `\xNN` escapes otherwise.
    pub fn display(&self) -> std::borrow::Cow<'_, str> {
        display_bytes(&self.0)
    }
}

impl Serialize for RawPath {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let utf8 = std::str::from_utf8(&self.0).is_ok();
        let mut m = s.serialize_map(Some(if utf8 { 1 } else { 2 }))?;
        m.serialize_entry("path", &self.display())?;
        if !utf8 {
            m.serialize_entry("path_hex", &hex_bytes(&self.0))?;
        }
        m.end()
    }
}

/// Counts and byte totals of a diff.
///
/// Bytes count regular files only. A path that stops being a file (removed, or changed into a
/// directory or symlink) counts its size in `removed_bytes`; one that becomes a file, in `added_bytes`;
/// a file whose content changed, in `changed_old_bytes` and `changed_new_bytes`. So the new tree's
/// size minus the old one's is `added_bytes - removed_bytes + changed_new_bytes - changed_old_bytes`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Paths only in the new slug.
    pub added: u64,
    /// Paths only in the old slug.
    pub removed: u64,
    /// Paths in both that differ.
    pub changed: u64,
    /// Paths in both that are the same.
    pub unchanged: u64,
    /// Changed paths whose kind changed.
    #[serde(rename = "type")]
    pub kind: u64,
    /// Changed files whose content changed.
    pub content: u64,
    /// Changed files whose executable bit changed.
    pub mode: u64,
    /// Changed symlinks whose target changed.
    pub target: u64,
    /// Bytes of the files that appeared.
    pub added_bytes: u64,
    /// Bytes of the files that disappeared.
    pub removed_bytes: u64,
    /// Bytes of the files whose content changed, before.
    pub changed_old_bytes: u64,
    /// Bytes of the files whose content changed, after.
    pub changed_new_bytes: u64,
}

impl Totals {
    /// Paths that differ.
    pub fn differing(&self) -> u64 {
        self.added + self.removed + self.changed
    }

    /// The new tree's file bytes minus the old tree's.
    pub fn net_bytes(&self) -> i128 {
        (self.added_bytes as i128 - self.removed_bytes as i128)
            + (self.changed_new_bytes as i128 - self.changed_old_bytes as i128)
    }

    /// Counts `d` in.
    pub fn count(&mut self, d: &PathDiff) {
        let old_size = d.old.as_ref().map_or(0, EntryKind::file_size);
        let new_size = d.new.as_ref().map_or(0, EntryKind::file_size);
        match d.status {
            Status::Added => self.added += 1,
            Status::Removed => self.removed += 1,
            Status::Changed => self.changed += 1,
        }
        if d.what.contains(&What::Content) {
            self.changed_old_bytes += old_size;
            self.changed_new_bytes += new_size;
        } else {
            // Added, removed, a type change (whichever side is a file), or a mode or target change
            // (no file bytes move: equal ids, equal sizes).
            let kind_changes = d.status != Status::Changed || d.what.contains(&What::Type);
            if kind_changes {
                self.removed_bytes += old_size;
                self.added_bytes += new_size;
            }
        }
        for w in &d.what {
            match w {
                What::Type => self.kind += 1,
                What::Content => self.content += 1,
                What::Mode => self.mode += 1,
                What::Target => self.target += 1,
            }
        }
    }
}
