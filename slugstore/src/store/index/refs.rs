//! Refs and their history: a ref names a slug, and every move of it is appended to the `reflog`
//! family in the same batch, which is what rollback walks back along.
//!
//! History keys are the ref name, a `0x00`, then a big-endian sequence number, so one ref's history
//! is one prefix, read oldest first.

use rocksdb::{Direction, IteratorMode};
use serde::{Deserialize, Serialize};

use super::{Batch, Index};
use crate::error::{Error, Result};
use crate::id::{ObjectId, SlugId};

/// One change of a ref, kept so `production` has a history to roll back along.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RefLogEntry {
    /// Ref name.
    pub name: String,
    /// The slug the ref was set to.
    pub slug: SlugId,
    /// The slug it pointed at before, if any.
    pub previous: Option<SlugId>,
    /// Unix time of the change, in seconds.
    pub time: u64,
    /// Why (the snapshot message, or the command that moved it).
    pub message: Option<String>,
}

impl Index {
    /// The slug a ref points at.
    pub fn get_ref(&self, name: &str) -> Result<Option<SlugId>> {
        Ok(self
            .get("refs", name.as_bytes())?
            .and_then(|v| ObjectId::from_slice(&v))
            .map(SlugId))
    }

    /// Every ref, sorted by name.
    pub fn refs(&self) -> Result<Vec<(String, SlugId)>> {
        self.db
            .iterator_cf(self.cf("refs"), IteratorMode::Start)
            .map(|kv| {
                let (k, v) = kv.map_err(|e| self.err(e))?;
                let id = ObjectId::from_slice(&v)
                    .ok_or_else(|| Error::format("index", "bad ref value"))?;
                Ok((String::from_utf8_lossy(&k).into_owned(), SlugId(id)))
            })
            .collect()
    }

    /// The history of a ref, oldest first.
    pub fn ref_log(&self, name: &str) -> Result<Vec<RefLogEntry>> {
        let prefix = reflog_prefix(name);
        self.db
            .iterator_cf(
                self.cf("reflog"),
                IteratorMode::From(&prefix, Direction::Forward),
            )
            .map(|kv| kv.map_err(|e| self.err(e)))
            .take_while(|kv| kv.as_ref().map_or(true, |(k, _)| k.starts_with(&prefix)))
            .map(|kv| {
                let (_, v) = kv?;
                serde_json::from_slice(&v)
                    .map_err(|e| Error::format("ref log entry", e.to_string()))
            })
            .collect()
    }

    fn next_reflog_seq(&self, name: &str) -> Result<u64> {
        let prefix = reflog_prefix(name);
        let mut end = prefix.clone();
        end.extend_from_slice(&[0xff; 8]);
        let mut it = self.db.iterator_cf(
            self.cf("reflog"),
            IteratorMode::From(&end, Direction::Reverse),
        );
        match it.next() {
            Some(kv) => {
                let (k, _) = kv.map_err(|e| self.err(e))?;
                if k.starts_with(&prefix) && k.len() == prefix.len() + 8 {
                    Ok(u64::from_be_bytes(k[prefix.len()..].try_into().unwrap()) + 1)
                } else {
                    Ok(0)
                }
            }
            None => Ok(0),
        }
    }
}

fn reflog_prefix(name: &str) -> Vec<u8> {
    let mut p = name.as_bytes().to_vec();
    p.push(0);
    p
}

impl Batch<'_> {
    /// Points ref `name` at `slug` and appends the change to the ref's history.
    pub fn set_ref(&mut self, name: &str, slug: SlugId, message: Option<String>) -> Result<()> {
        let previous = self.index.get_ref(name)?;
        let seq = self.index.next_reflog_seq(name)?;
        let entry = RefLogEntry {
            name: name.to_string(),
            slug,
            previous,
            time: crate::slug::now_secs(),
            message,
        };
        let mut key = reflog_prefix(name);
        key.extend_from_slice(&seq.to_be_bytes());
        self.inner.put_cf(
            self.index.cf("reflog"),
            key,
            serde_json::to_vec(&entry).expect("serializes"),
        );
        self.inner.put_cf(
            self.index.cf("refs"),
            name.as_bytes(),
            slug.object().as_bytes(),
        );
        Ok(())
    }

    /// Deletes ref `name` (its history stays).
    pub fn delete_ref(&mut self, name: &str) {
        self.inner.delete_cf(self.index.cf("refs"), name.as_bytes());
    }
}
