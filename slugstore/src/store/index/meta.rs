//! Named values of the `meta` family, and the damage marks kept among them.
//!
//! `meta` holds what fits no other family: the format version, settings that other modules name
//! (`target:…`, `remote.…`) and the marks `slug verify` leaves on damaged objects (`damaged/<id>`),
//! which the next write of their content reads to store it anew.

use rocksdb::{Direction, IteratorMode};

use super::{Batch, Index};
use crate::error::{Error, Result};
use crate::id::ObjectId;

impl Index {
    /// A value of the `meta` family.
    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .get("meta", key.as_bytes())?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// Every `meta` entry whose name starts with `prefix`, sorted by name.
    pub fn meta_with_prefix(&self, prefix: &str) -> Result<Vec<(String, String)>> {
        self.db
            .iterator_cf(
                self.cf("meta"),
                IteratorMode::From(prefix.as_bytes(), Direction::Forward),
            )
            .map(|kv| kv.map_err(|e| self.err(e)))
            .take_while(|kv| {
                kv.as_ref()
                    .map_or(true, |(k, _)| k.starts_with(prefix.as_bytes()))
            })
            .map(|kv| {
                let (k, v) = kv?;
                Ok((
                    String::from_utf8_lossy(&k).into_owned(),
                    String::from_utf8_lossy(&v).into_owned(),
                ))
            })
            .collect()
    }

    /// The objects `slug verify` marked damaged ([`Batch::mark_damaged`]): the next write of their
    /// content stores it anew instead of deduplicating against the damaged copy.
    pub fn damaged_objects(&self) -> Result<foldhash::HashSet<ObjectId>> {
        self.meta_with_prefix(DAMAGED)?
            .into_iter()
            .map(|(k, _)| {
                let hex = &k[DAMAGED.len()..];
                hex.parse::<ObjectId>()
                    .map_err(|_| Error::format("index", format!("bad damage mark `{k}`")))
            })
            .collect()
    }
}

impl Batch<'_> {
    /// Sets a `meta` value.
    pub fn put_meta(&mut self, key: &str, value: &str) {
        self.inner
            .put_cf(self.index.cf("meta"), key.as_bytes(), value.as_bytes());
    }

    /// Removes a `meta` value.
    pub fn delete_meta(&mut self, key: &str) {
        self.inner.delete_cf(self.index.cf("meta"), key.as_bytes());
    }

    /// Marks object `id` damaged (`problem` says how), so that the next write of its content replaces
    /// the stored copy; see [`Index::damaged_objects`].
    pub fn mark_damaged(&mut self, id: &ObjectId, problem: &str) {
        self.put_meta(&damage_key(id), problem);
    }

    /// Removes the damage mark of object `id`: a good copy replaced it, or it verified.
    pub fn unmark_damaged(&mut self, id: &ObjectId) {
        self.delete_meta(&damage_key(id));
    }
}

/// The `meta` names of damage marks: this prefix, then the object id in hex.
const DAMAGED: &str = "damaged/";

fn damage_key(id: &ObjectId) -> String {
    format!("{DAMAGED}{}", id.to_hex())
}
