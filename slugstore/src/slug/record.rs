//! Slug records: what the store knows of a slug besides its manifest.
//!
//! Time, message, parent and labels describe *how* a slug came to be; they live outside the hashed
//! manifest so that two builds of the same tree share one id (and one set of objects).
//!
//! Slugs are ordered by creation ([`SlugRecord::creation_order`]): `slug ls` lists them in that order and
//! `slug prune --keep-last` keeps the last of it. Seconds alone do not order slugs made in the same
//! second (a deploy script snapshots several in one), so a record also keeps the nanoseconds of its
//! creation time; records written before that field existed read as 0 nanoseconds and sort after their
//! second's start, then by id, as they always did.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::id::SlugId;
use crate::slug::manifest::TreeStats;

/// A stored slug's metadata.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SlugRecord {
    /// The slug id (BLAKE3 of the manifest).
    pub id: SlugId,
    /// Unix time of the first snapshot that produced it, in seconds.
    pub created: u64,
    /// The nanoseconds past `created` of that time (absent, 0, in records of earlier versions).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub created_nanos: u32,
    /// A free-form message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The slug the ref pointed at before this one, when snapshotted onto a ref.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<SlugId>,
    /// Free-form labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Where it was snapshotted from (for humans).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Entry counts.
    pub stats: TreeStats,
}

impl SlugRecord {
    /// The record's place in creation order, a total order: creation time (seconds, then
    /// nanoseconds), then id for records of the same instant.
    pub fn creation_order(&self) -> (u64, u32, SlugId) {
        (self.created, self.created_nanos, self.id)
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    since_epoch().as_secs()
}

/// Seconds since the Unix epoch and the nanoseconds past them, as recorded in a new slug record.
pub fn now_created() -> (u64, u32) {
    let t = since_epoch();
    (t.as_secs(), t.subsec_nanos())
}

fn since_epoch() -> std::time::Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
}

/// Formats Unix seconds as RFC 3339 UTC.
pub fn format_time(secs: u64) -> String {
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = r#"{"id": "0000000000000000000000000000000000000000000000000000000000000001",
        "created": 1763790306, "stats": {"files": 1, "dirs": 0, "symlinks": 0, "bytes": 3}}"#;

    /// A record written before `created_nanos` existed reads as 0 nanoseconds, and a record with 0
    /// nanoseconds is written as before; a record with nanoseconds keeps them.
    #[test]
    fn records_without_nanoseconds_read_and_write_as_before() {
        let mut r: SlugRecord = serde_json::from_str(OLD).unwrap();
        assert_eq!((r.created, r.created_nanos), (1763790306, 0));
        assert!(!serde_json::to_string(&r).unwrap().contains("created_nanos"));
        r.created_nanos = 7;
        let again: SlugRecord = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(again, r);
    }

    /// Within one second the nanoseconds order records, whatever their ids; the id only breaks ties.
    #[test]
    fn creation_order_is_time_then_id() {
        let old: SlugRecord = serde_json::from_str(OLD).unwrap();
        let mut earlier = old.clone();
        earlier.id = SlugId("ff".repeat(32).parse().unwrap());
        earlier.created_nanos = 1;
        let mut later = old.clone();
        later.created_nanos = 2;
        let mut v = vec![later.clone(), old.clone(), earlier.clone()];
        v.sort_by_key(SlugRecord::creation_order);
        assert_eq!(v, [old, earlier, later]);
    }
}
