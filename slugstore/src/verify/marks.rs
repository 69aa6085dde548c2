//! Damage marks: what verify found damaged, remembered in the index so that the next write of the
//! same content replaces the damaged copy.
//!
//! Without them a snapshot of a file whose stored object is damaged finds the object indexed and
//! deduplicates against it: the new slug is born broken, though the good bytes were at hand. Checking
//! every stored copy a snapshot deduplicates against would cost a decompression and a hash per file,
//! as much as storing it; a mark costs one lookup in a set loaded at open (usually empty). So the
//! check is verify's, done when asked (a scheduled `slug verify --sample` marks what it finds), and the
//! writers act on its marks ([`ObjectWriter`](crate::store::ObjectWriter)).
//!
//! Verify itself only reads, so it works on a read-only store; the marks are written afterwards by
//! [`record_damage`], from its report, in one batch.

use std::collections::BTreeSet;

use crate::error::Result;
use crate::id::ObjectId;
use crate::store::Store;

use super::{RepairReport, VerifyReport};

/// What a verify (and the repair after it, if any) leaves for [`record_damage`]: the objects still
/// damaged, with their problems, or `None` when the marks `store` holds need no change (nothing is
/// damaged, and the verify was partial or no mark is there to drop).
pub fn damage_to_record(
    store: &Store,
    r: &VerifyReport,
    repaired: Option<&RepairReport>,
) -> Option<Vec<(ObjectId, String)>> {
    let still_bad: Vec<(ObjectId, String)> = r
        .bad
        .iter()
        .filter(|b| repaired.is_none_or(|x| x.unrepaired.contains(&b.id)))
        .map(|b| (b.id, b.problem.clone()))
        .collect();
    if still_bad.is_empty() && !(r.complete && store.has_damaged()) {
        return None;
    }
    Some(still_bad)
}

/// Marks each of `bad` that the index holds damaged (with the problem found), and, when `complete`
/// (a full verify, nothing sampled or cut short), drops every other mark: those objects verified.
/// Returns how many objects are marked now.
pub fn record_damage(store: &Store, bad: &[(ObjectId, String)], complete: bool) -> Result<usize> {
    let index = store.index();
    let mut batch = index.batch();
    let mut marked = BTreeSet::new();
    for (id, problem) in bad {
        if index.has_object(id)? {
            batch.mark_damaged(id, problem);
            marked.insert(*id);
        }
    }
    let before = index.damaged_objects()?;
    let mut kept = 0;
    for id in &before {
        if complete && !marked.contains(id) {
            batch.unmark_damaged(id);
        } else if !marked.contains(id) {
            kept += 1;
        }
    }
    if !batch.is_empty() {
        batch.commit()?;
    }
    Ok(marked.len() + kept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::OpenOptions;

    /// Stores `data` in `store` and commits it; returns its id.
    fn put(store: &Store, data: &[u8]) -> ObjectId {
        let writer = store.writer();
        let (id, _) = writer.add(data).unwrap();
        let staged = writer.finish().unwrap();
        let mut batch = store.index().batch();
        staged.stage(&mut batch).unwrap();
        batch.commit().unwrap();
        id
    }

    #[test]
    fn marks_follow_the_reports_and_a_new_copy_drops_its_mark() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("s");
        let store = Store::init(&root, &OpenOptions::default()).unwrap();
        let a = put(&store, b"content a");
        let b = put(&store, b"content b");
        let absent = ObjectId::hash(b"never stored");
        let bad = [(a, "damaged".to_string()), (absent, "missing".to_string())];
        // Only what the index holds is marked.
        assert_eq!(record_damage(&store, &bad, true).unwrap(), 1);
        assert_eq!(
            store.index().damaged_objects().unwrap(),
            [a].into_iter().collect()
        );
        // A sampled run adds marks and drops none.
        let bad_b = [(b, "damaged".to_string())];
        assert_eq!(record_damage(&store, &bad_b, false).unwrap(), 2);
        // A full run drops the marks of what verified.
        assert_eq!(record_damage(&store, &bad_b, true).unwrap(), 1);
        assert_eq!(
            store.index().damaged_objects().unwrap(),
            [b].into_iter().collect()
        );
        // The damage itself: a flipped byte of b's data in its pack.
        let loc = store.index().object(&b).unwrap().unwrap();
        let pack = crate::store::pack::pack_path(&store.packs_dir(), &loc.pack);
        let mut bytes = std::fs::read(&pack).unwrap();
        bytes[loc.data_offset() as usize] ^= 1;
        std::fs::write(&pack, bytes).unwrap();
        drop(store);

        // Opened again, the store knows the mark: the same content is stored anew, the mark goes.
        let store = Store::open(&root, &OpenOptions::default()).unwrap();
        assert!(store.is_damaged(&b) && !store.is_damaged(&a));
        assert!(store.verify_object(&b).is_err());
        let writer = store.writer();
        assert_eq!(writer.add(b"content b").unwrap(), (b, true));
        assert_eq!(writer.add(b"content a").unwrap(), (a, false));
        let staged = writer.finish().unwrap();
        assert_eq!(staged.healed, vec![b]);
        let mut batch = store.index().batch();
        staged.stage(&mut batch).unwrap();
        batch.commit().unwrap();
        assert!(store.index().damaged_objects().unwrap().is_empty());
        store.forget_packs();
        store.verify_object(&b).unwrap();

        // A marked object that gc deletes (no slug needs these) takes its mark along.
        let mut batch = store.index().batch();
        batch.mark_damaged(&a, "damaged");
        batch.commit().unwrap();
        drop(store);
        let store = Store::open(&root, &OpenOptions::default()).unwrap();
        assert!(store.is_damaged(&a));
        crate::gc::gc(&store, &crate::gc::GcOptions::default()).unwrap();
        assert_eq!(store.index().object(&a).unwrap(), None);
        assert!(store.index().damaged_objects().unwrap().is_empty());
    }
}
