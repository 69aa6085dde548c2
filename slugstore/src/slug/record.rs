//! Slug records: what the store knows of a slug besides its manifest.
//!
//! Time, message, parent and labels describe *how* a slug came to be; they live outside the hashed
//! manifest so that two builds of the same tree share one id (and one set of objects).

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

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Formats Unix seconds as RFC 3339 UTC.
pub fn format_time(secs: u64) -> String {
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
        .to_string()
}
