//! Moving live objects out of packs that are mostly dead.

use std::collections::HashSet;

use rayon::prelude::*;

use crate::error::Result;
use crate::id::ObjectId;
use crate::store::{ObjectWriter, Staged, Store, IN_MEMORY_LIMIT};

use super::plan::{Action, Plan};
use super::recompress::compressible;

/// The outcome of copying.
pub struct Copied {
    /// The new packs and the new locations of what they hold (durable, not yet indexed).
    pub staged: Staged,
    /// Packs that could not be emptied because an object in them failed verification; they stay.
    pub kept: HashSet<ObjectId>,
    /// One line per object that failed verification.
    pub problems: Vec<String>,
    /// Objects stored raw that were compressed on the way.
    pub recompressed: u64,
}

/// Copies the live records of every pack marked [`Action::Repack`] into new packs. Each object is
/// verified before its stored bytes are copied as they are, so a damaged object is never spread into
/// a new pack; its old pack is then kept instead of deleted. With `compress`, objects stored raw are
/// compressed at the store's level on the way (see [`super::recompress`]).
///
/// With `compress`, objects are moved on all cores: compressing is the work, and the writer takes
/// appends from many threads (each thread filling a pack of its own). Without, they are moved in
/// order on one thread, into as few packs as their bytes need, which is what `gc --dry-run` predicts.
pub fn copy_live(store: &Store, plan: &Plan, compress: bool) -> Result<Copied> {
    let writer = store.writer();
    let work: Vec<(&ObjectId, &ObjectId, bool)> =
        plan.with(Action::Repack)
            .flat_map(|(pack, usage)| {
                usage.live.iter().map(move |(id, loc)| {
                    (pack, id, compress && compressible(loc.codec, loc.raw_len))
                })
            })
            .collect();
    let one = |(pack, id, squeeze)| {
        move_verified(store, &writer, id, squeeze).map(|p| (pack, id, squeeze, p))
    };
    let outcomes: Vec<(&ObjectId, &ObjectId, bool, Option<String>)> = if compress {
        work.into_par_iter().map(one).collect::<Result<_>>()?
    } else {
        work.into_iter().map(one).collect::<Result<_>>()?
    };
    let mut kept = HashSet::new();
    let mut problems = Vec::new();
    let mut recompressed = 0;
    for (pack, id, squeeze, problem) in outcomes {
        match problem {
            Some(problem) => {
                problems.push(format!("{id}: {problem}"));
                kept.insert(*pack);
            }
            None => recompressed += u64::from(squeeze),
        }
    }
    Ok(Copied {
        staged: writer.finish()?,
        kept,
        problems,
        recompressed,
    })
}

/// Copies object `id`'s stored bytes as they are into `writer` (whatever the index says, see
/// [`ObjectWriter::add_relocated`]; a record above [`IN_MEMORY_LIMIT`] streamed into a pack of its own)
/// once it verifies, or with `compress` (for an object stored raw)
/// compressed at the writer's setting; returns the problem instead when it does not verify, and copies
/// nothing, so a damaged object is never spread into a new pack.
pub(crate) fn move_verified(
    store: &Store,
    writer: &ObjectWriter<'_>,
    id: &ObjectId,
    compress: bool,
) -> Result<Option<String>> {
    let loc = match store.locate(id) {
        Ok(loc) => loc,
        Err(e) => return Ok(Some(e.to_string())),
    };
    if loc.stored_len > IN_MEMORY_LIMIT {
        // Never held whole (and never compressed: only small raw objects are, see `compressible`).
        if let Err(e) = store.verify_object(id) {
            return Ok(Some(e.to_string()));
        }
        store.with_stored_reader(id, &loc, |stored| {
            writer.add_relocated_stream(*id, loc.codec, loc.raw_len, stored)
        })??;
        return Ok(None);
    }
    // One read: the bytes copied are the bytes checked. A failed check is the object's problem; a
    // failed write is the gc's error.
    let copied = store.with_verified_stored(id, &loc, |bytes| {
        Ok(if compress {
            writer.add_relocated_compressing(*id, bytes)
        } else {
            writer.add_relocated(*id, loc.codec, loc.raw_len, bytes)
        })
    });
    match copied {
        Ok(appended) => appended.map(|_| None),
        Err(e) => Ok(Some(e.to_string())),
    }
}
