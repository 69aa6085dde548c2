//! Compressing, later, the objects a command stored uncompressed (`--compression off`).
//!
//! A snapshot with compression off writes fastest and stores about twice the bytes (docs/benchmarks.md,
//! "Compression levels"). `slug gc --recompress` rewrites the packs that hold such objects, each raw
//! object compressed at the store's level (the command's `--compression`), through the same
//! crash-safe steps as a repack. A pack is chosen when compressing a sample of its raw objects
//! estimates a saving of at least [`MIN_SAVING`] of its size: objects that do not compress (images,
//! fonts, archives) stay raw, and their packs are not rewritten by every later `--recompress`.

use crate::error::Result;
use crate::store::Store;
use crate::store::{stored_size, Codec, IN_MEMORY_LIMIT};

use super::plan::{Action, PackUse, Plan};

/// Raw objects of a pack compressed on trial to estimate what a rewrite saves.
const SAMPLE: usize = 16;

/// The least saving, as a fraction of a pack's size, that makes it worth rewriting.
pub const MIN_SAVING: f64 = 0.05;

/// True when a live object stored as `codec` with `raw_len` bytes is compressed when it is moved:
/// raw, and small enough to be held in memory (larger ones are copied as they are).
pub fn compressible(codec: Codec, raw_len: u64) -> bool {
    codec == Codec::Raw && (64..=IN_MEMORY_LIMIT).contains(&raw_len)
}

/// Marks for a rewrite every pack of `plan` where compressing its raw objects at zstd `level` would
/// save at least [`MIN_SAVING`] of it; returns the bytes that is estimated to save.
pub fn mark(store: &Store, plan: &mut Plan, level: i32) -> Result<u64> {
    let mut total = 0;
    for (usage, action) in plan.packs.values_mut() {
        if matches!(action, Action::Keep | Action::Repack) && usage.present {
            let saving = estimated_saving(store, usage, level)?;
            if saving as f64 >= MIN_SAVING * usage.size as f64 {
                *action = Action::Repack;
                total += saving;
            }
        }
    }
    Ok(total)
}

/// The bytes a rewrite of the pack `usage` describes would save with its raw objects compressed at
/// zstd `level`, estimated from a few of them (16) spread over the pack.
pub fn estimated_saving(store: &Store, usage: &PackUse, level: i32) -> Result<u64> {
    let raw: Vec<_> = usage
        .live
        .iter()
        .filter(|(_, loc)| compressible(loc.codec, loc.raw_len))
        .collect();
    if raw.is_empty() {
        return Ok(0);
    }
    let raw_bytes: u64 = raw.iter().map(|(_, loc)| loc.raw_len).sum();
    let step = raw.len().div_ceil(SAMPLE);
    let (mut sampled, mut saved) = (0u64, 0u64);
    for (id, _) in raw.iter().step_by(step) {
        store.with_stored(id, |_, bytes| {
            sampled += bytes.len() as u64;
            saved += (bytes.len() - stored_size(level, bytes)) as u64;
        })?;
    }
    Ok((saved as f64 / sampled.max(1) as f64 * raw_bytes as f64) as u64)
}
