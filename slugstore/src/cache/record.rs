//! Cache records: what a successful run of a step left, kept in the store's `meta` family.
//!
//! A record names its outputs by the id of a slug (the outputs as one tree, stored in the same
//! deduplicated packs as every slug) and keeps the key's parts, so `slug cache explain` can tell
//! what changed without re-deriving anything. Records are written in one index batch with the slug
//! they name, so a record never exists without its outputs. The time a record was last restored
//! lives under a key of its own: a hit rewrites a few bytes, not the record with its logs.
//!
//! | `meta` name            | value                                                   |
//! |------------------------|---------------------------------------------------------|
//! | `cache/entry/<key>`    | a [`Record`] as JSON                                    |
//! | `cache/used/<key>`     | Unix seconds of the last hit (absent: never hit)        |
//! | `cache/miss/<name>`    | the [`LastMiss`] of step `name`, as JSON                |
//! | `cache/trust/<pubkey>` | a trusted signer's public key (hex); the value is a note |

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::key::KeyParts;
use crate::error::{Error, Result};
use crate::id::{ObjectId, SlugId};
use crate::slug::TreeStats;
use crate::store::{Batch, Store};

/// `meta` prefix of records.
pub const ENTRY: &str = "cache/entry/";
/// `meta` prefix of last-use times.
pub const USED: &str = "cache/used/";
/// `meta` prefix of last misses.
pub const MISS: &str = "cache/miss/";
/// `meta` prefix of trusted public keys.
pub const TRUST: &str = "cache/trust/";

/// The recorded standard output and error of a run keep at most this many bytes each (the end).
pub const LOG_TAIL: usize = 1 << 20;

/// A cache entry: a step's key, its parts, and where its outputs are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The key (BLAKE3 of the parts' canonical encoding).
    pub key: ObjectId,
    /// What the key was computed from.
    #[serde(flatten)]
    pub parts: KeyParts,
    /// The declared outputs, relative to the working directory.
    pub outputs: Vec<String>,
    /// The outputs as one tree: a slug whose top-level entries are the outputs (with the
    /// directories above them).
    pub slug: SlugId,
    /// Counts of the outputs' entries.
    pub stats: TreeStats,
    /// The end of the run's standard output, base64.
    pub stdout: String,
    /// The end of the run's standard error, base64.
    pub stderr: String,
    /// When the run ended, nanoseconds since the Unix epoch.
    pub created_ns: u64,
    /// How long the command ran, in seconds.
    pub seconds: f64,
}

impl Record {
    /// The run's recorded standard output and error.
    pub fn logs(&self) -> (Vec<u8>, Vec<u8>) {
        let d = |s: &str| {
            base64::engine::general_purpose::STANDARD
                .decode(s)
                .unwrap_or_default()
        };
        (d(&self.stdout), d(&self.stderr))
    }

    /// Encodes a log tail for [`Record::stdout`] and [`Record::stderr`].
    pub fn encode_log(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD
            .encode(&bytes[bytes.len().saturating_sub(LOG_TAIL)..])
    }

    /// Parses a record, naming `what` in errors.
    pub fn parse(json: &str, what: &str) -> Result<Record> {
        serde_json::from_str(json).map_err(|e| Error::format(what, e.to_string()))
    }
}

/// The last miss of a step: the key it computed and when, for `slug cache explain`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LastMiss {
    /// The key that missed.
    pub key: ObjectId,
    /// Its parts.
    #[serde(flatten)]
    pub parts: KeyParts,
    /// When, nanoseconds since the Unix epoch.
    pub at_ns: u64,
}

/// Nanoseconds since the Unix epoch.
pub fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default()
}

/// The record of `key`, if any.
pub fn get(store: &Store, key: &ObjectId) -> Result<Option<Record>> {
    let name = format!("{ENTRY}{}", key.to_hex());
    store
        .index()
        .meta(&name)?
        .map(|j| Record::parse(&j, &name))
        .transpose()
}

/// Every record, by key.
pub fn all(store: &Store) -> Result<Vec<Record>> {
    store
        .index()
        .meta_with_prefix(ENTRY)?
        .iter()
        .map(|(k, v)| Record::parse(v, k))
        .collect()
}

/// When `key` was last restored, Unix seconds.
pub fn last_used(store: &Store, key: &ObjectId) -> Result<Option<u64>> {
    let v = store.index().meta(&format!("{USED}{}", key.to_hex()))?;
    Ok(v.and_then(|s| s.parse().ok()))
}

/// Adds `rec` to `batch`.
pub fn stage_put(batch: &mut Batch<'_>, rec: &Record) {
    let json = serde_json::to_string(rec).expect("records serialize");
    batch.put_meta(&format!("{ENTRY}{}", rec.key.to_hex()), &json);
}

/// Removes the record of `key` (and its last-use time) in `batch`.
pub fn stage_delete(batch: &mut Batch<'_>, key: &ObjectId) {
    batch.delete_meta(&format!("{ENTRY}{}", key.to_hex()));
    batch.delete_meta(&format!("{USED}{}", key.to_hex()));
}

/// Adds to `batch` the mark of entry `key` as used now.
pub fn stage_used(batch: &mut Batch<'_>, key: &ObjectId) {
    batch.put_meta(
        &format!("{USED}{}", key.to_hex()),
        &crate::slug::now_secs().to_string(),
    );
}

/// Records the last miss of a step.
pub fn put_miss(store: &Store, miss: &LastMiss) -> Result<()> {
    let mut b = store.index().batch();
    let json = serde_json::to_string(miss).expect("misses serialize");
    b.put_meta(&format!("{MISS}{}", miss.parts.name), &json);
    b.commit()
}

/// The last miss of step `name`.
pub fn get_miss(store: &Store, name: &str) -> Result<Option<LastMiss>> {
    let key = format!("{MISS}{name}");
    store
        .index()
        .meta(&key)?
        .map(|j| serde_json::from_str(&j).map_err(|e| Error::format(&key, e.to_string())))
        .transpose()
}
