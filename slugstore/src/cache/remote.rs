//! Sharing entries through a remote of the store (`--remote NAME`, `SLUG_CACHE_REMOTE`).
//!
//! An entry's outputs travel as the slug they are, through the ordinary push and pull (only the
//! objects the other side lacks, every object hash-checked on arrival); its record travels as a
//! signed envelope ([`super::sign`]) under `cache/<key>.json`, written last and create-only: the
//! first complete record of a key wins, and a later writer whose outputs differ learns that its
//! step is not deterministic.
//!
//! A remote that cannot be reached, a record that is not trusted and objects that fail their hash
//! all make a miss with a message, never an error: the step then runs as if there were no remote.

use bytes::Bytes;

use super::record::{self, Record};
use super::sign;
use crate::error::{Error, Result};
use crate::id::ObjectId;
use crate::progress::NoProgress;
use crate::remote::backend::PutOutcome;
use crate::remote::{self as rem, PushOptions};
use crate::store::Store;

/// The remote key of the record of `key`.
pub fn record_key(key: &ObjectId) -> String {
    format!("cache/{}.json", key.to_hex())
}

/// Looks `key` up in the remote `name`: a trusted record whose objects all arrive intact is
/// recorded locally and returned with the bytes downloaded (the record and the pack bytes of the
/// objects the store lacked); anything else is a miss, said through `note` and `notes`.
pub fn fetch(
    store: &Store,
    name: &str,
    key: &ObjectId,
    notes: &mut Vec<String>,
    note: &dyn Fn(&str),
) -> Result<Option<(Record, u64)>> {
    match try_fetch(store, name, key) {
        Ok(found) => Ok(found),
        Err(e) => {
            let msg = format!("cache: remote {name} entry {} not used: {e}", key.short(12));
            note(&msg);
            notes.push(msg);
            Ok(None)
        }
    }
}

fn try_fetch(store: &Store, name: &str, key: &ObjectId) -> Result<Option<(Record, u64)>> {
    let r = rem::open(store, name)?;
    let Some(bytes) = r.backend.get(&record_key(key))? else {
        return Ok(None);
    };
    let rec = sign::verified(store, &bytes, key)?;
    let pulled = rem::pull(
        store,
        r.backend.as_ref(),
        &r.cache_dir,
        &rec.slug.to_hex(),
        None,
        &NoProgress,
    )?;
    let mut b = store.index().batch();
    record::stage_put(&mut b, &rec);
    b.commit()?;
    Ok(Some((rec, bytes.len() as u64 + pulled.bytes_fetched)))
}

/// Pushes the entry `rec` to the remote `name`, signed with the key at `signing_key`: its objects,
/// then its record (create-only). Returns whether this call wrote the record; a failure is a note.
pub fn publish(
    store: &Store,
    name: &str,
    rec: &Record,
    signing_key: Option<&std::path::Path>,
    notes: &mut Vec<String>,
    note: &dyn Fn(&str),
) -> Result<bool> {
    let mut say = |msg: String| {
        note(&msg);
        notes.push(msg);
    };
    let Some(path) = signing_key else {
        say(format!(
            "cache {}: not pushed to {name}: no signing key (--signing-key or SLUG_CACHE_KEY)",
            rec.parts.name
        ));
        return Ok(false);
    };
    match try_publish(store, name, rec, path) {
        Ok(written) => Ok(written),
        Err(e) => {
            say(format!(
                "cache {}: not pushed to {name}: {e}",
                rec.parts.name
            ));
            Ok(false)
        }
    }
}

fn try_publish(
    store: &Store,
    name: &str,
    rec: &Record,
    key_path: &std::path::Path,
) -> Result<bool> {
    let key = sign::load_key(key_path)?;
    let r = rem::open(store, name)?;
    let backend = r.backend.as_ref();
    rem::push(
        store,
        &rec.slug,
        backend,
        &r.cache_dir,
        &PushOptions::default(),
        &NoProgress,
    )?;
    let at = record_key(&rec.key);
    match backend.put_if_absent(&at, Bytes::from(sign::seal(rec, &key)))? {
        PutOutcome::Created => Ok(true),
        PutOutcome::AlreadyExists => {
            let theirs = backend.get(&at)?.unwrap_or_default();
            let (_, _, first) = sign::unsealed(&theirs, &rec.key)?;
            if first.slug != rec.slug {
                return Err(Error::NotDeterministic {
                    name: rec.parts.name.clone(),
                    key: rec.key.short(12),
                    ours: rec.slug.short(12),
                    theirs: first.slug.short(12),
                });
            }
            Ok(false)
        }
    }
}
