//! Moving live objects out of packs that are mostly dead.

use std::collections::HashSet;

use crate::error::Result;
use crate::id::ObjectId;
use crate::store::{ObjectWriter, Staged, Store};

use super::plan::{Action, Plan};

/// The outcome of copying.
pub struct Copied {
    /// The new packs and the new locations of what they hold (durable, not yet indexed).
    pub staged: Staged,
    /// Packs that could not be emptied because an object in them failed verification; they stay.
    pub kept: HashSet<ObjectId>,
    /// One line per object that failed verification.
    pub problems: Vec<String>,
}

/// Copies the live records of every pack marked [`Action::Repack`] into new packs. Each object is
/// verified before its stored bytes are copied as they are (no recompression), so a damaged object is
/// never spread into a new pack; its old pack is then kept instead of deleted.
pub fn copy_live(store: &Store, plan: &Plan) -> Result<Copied> {
    let writer = store.writer();
    let mut kept = HashSet::new();
    let mut problems = Vec::new();
    for (pack, usage) in plan.with(Action::Repack) {
        for (id, _) in &usage.live {
            if let Some(problem) = move_verified(store, &writer, id)? {
                problems.push(format!("{id}: {problem}"));
                kept.insert(*pack);
            }
        }
    }
    Ok(Copied {
        staged: writer.finish()?,
        kept,
        problems,
    })
}

/// Copies object `id`'s stored bytes as they are into `writer` (whatever the index says, see
/// [`ObjectWriter::add_relocated`]) once it verifies; returns the problem instead when it does not, and
/// copies nothing, so a damaged object is never spread into a new pack.
pub(crate) fn move_verified(
    store: &Store,
    writer: &ObjectWriter<'_>,
    id: &ObjectId,
) -> Result<Option<String>> {
    if let Err(e) = store.verify_object(id) {
        return Ok(Some(e.to_string()));
    }
    store.with_stored(id, |loc, bytes| {
        writer.add_relocated(*id, loc.codec, loc.raw_len, bytes)
    })??;
    Ok(None)
}
