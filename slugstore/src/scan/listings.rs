//! The directory listings a walk may trust instead of reading directories, and the ones it records.
//!
//! A re-snapshot's walk used to read every directory (an `openat`, two `getdents64`, a `close` each:
//! 38k directories, most of a re-snapshot's system time). With the listings of the last scan (see
//! [`DirListing`]), an unchanged directory costs one `stat` by its path from the root: same inode,
//! mtime, ctime and mode as recorded means the same entries. Its files are still statted one by one
//! (an edit in place does not change the directory), by path from the root, without opening it.
//!
//! What can go wrong is a directory changed in the same timestamp tick as the read that recorded it:
//! its times would not move. So a listing is recorded only when the directory was last modified before
//! the scan by the racy margin ([`Racy`]), the rule the stat cache applies to files.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use super::Racy;
use crate::fsutil::dir::Stat;
use crate::store::index::DirListing;

/// Listings known from the last scan, and those this walk reads.
#[derive(Debug)]
pub struct Listings {
    known: foldhash::HashMap<Vec<u8>, (DirListing, AtomicBool)>,
    /// Which directories are too recently modified to record.
    racy: Racy,
    read: Mutex<Vec<(Vec<u8>, Option<DirListing>)>>,
}

/// A directory's recorded listing, before its status is compared.
pub(super) struct Recorded<'a> {
    listing: &'a DirListing,
    used: &'a AtomicBool,
}

impl<'a> Recorded<'a> {
    /// The listing, if the directory's status `st` is still the recorded one; it is then kept.
    pub(super) fn trusted(self, st: &Stat) -> Option<&'a DirListing> {
        if !self.listing.matches(st) {
            return None;
        }
        self.used.store(true, Ordering::Relaxed);
        Some(self.listing)
    }
}

/// What a walk changes in the recorded listings.
#[derive(Debug, Default)]
pub struct ListingChanges {
    /// Listings to write (read by the walk and not racy), sorted by path.
    pub put: Vec<(Vec<u8>, DirListing)>,
    /// Directories whose listing goes: not found by the walk, or read again but too recently changed.
    pub delete: Vec<Vec<u8>>,
    /// Directories the walk read.
    pub dirs_read: u64,
}

impl Listings {
    /// Trusts `known` (the last scan's listings); records the directories `racy` says are settled.
    pub fn new(known: Vec<(Vec<u8>, DirListing)>, racy: Racy) -> Listings {
        Listings {
            known: known
                .into_iter()
                .map(|(rel, l)| (rel, (l, AtomicBool::new(false))))
                .collect(),
            racy,
            read: Mutex::new(Vec::new()),
        }
    }

    /// The recorded listing of `rel`, if there is one (worth a `stat` to check it, see
    /// [`Recorded::trusted`]).
    pub(super) fn recorded(&self, rel: &[u8]) -> Option<Recorded<'_>> {
        self.known
            .get(rel)
            .map(|(listing, used)| Recorded { listing, used })
    }

    /// True when a directory with status `st` may be recorded.
    pub(super) fn may_record(&self, st: &Stat) -> bool {
        self.racy.settled(st.mtime_ns.into(), st.ctime_ns.into())
    }

    /// Notes the listing of a directory the walk read (or `None`: read, too recent to record).
    pub(super) fn record(&self, rel: &[u8], listing: Option<DirListing>) {
        let mut read = self.read.lock().unwrap_or_else(|p| p.into_inner());
        read.push((rel.to_vec(), listing));
    }

    /// The changes to write back, once the walk is done.
    pub fn changes(self) -> ListingChanges {
        let mut read = self.read.into_inner().unwrap_or_else(|p| p.into_inner());
        read.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let dirs_read = read.len() as u64;
        let mut known = self.known;
        let mut put = Vec::with_capacity(read.len());
        let mut delete = Vec::new();
        for (rel, listing) in read {
            // A directory read and recorded again replaces its listing; one read but too recent to
            // trust next time loses it.
            let old = known.remove(&rel);
            match (listing, old) {
                (Some(listing), _) => put.push((rel, listing)),
                (None, Some(_)) => delete.push(rel),
                (None, None) => {}
            }
        }
        delete.extend(
            known
                .into_iter()
                .filter(|(_, (_, used))| !used.load(Ordering::Relaxed))
                .map(|(rel, _)| rel),
        );
        delete.sort_unstable();
        ListingChanges {
            put,
            delete,
            dirs_read,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fsutil::dir::{Dir, Kind};
    use crate::scan::{walk, Excludes, Found, WalkSpec};

    fn walk_with(root: &std::path::Path, listings: &Listings) -> Vec<(Vec<u8>, &'static str)> {
        let ex = Excludes::default();
        let spec = WalkSpec {
            listings: Some(listings),
            ..WalkSpec::new(&ex)
        };
        let kind = |f: &Found| match f {
            Found::Dir => "dir",
            Found::File(_) => "file",
            Found::Symlink(_) => "link",
        };
        let w = walk(root, spec).unwrap();
        w.entries
            .iter()
            .map(|e| (e.rel.clone(), kind(&e.found)))
            .collect()
    }

    #[test]
    fn a_listing_that_no_longer_holds_is_read_again_not_trusted() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        std::fs::create_dir(root.join("sub")).unwrap();
        std::fs::write(root.join("a"), b"a").unwrap();
        let truth = vec![(b"a".to_vec(), "file"), (b"sub".to_vec(), "dir")];
        let st = Dir::open(root).unwrap().stat().unwrap();
        // Listings that match the directory's status but not its entries, as a directory changed
        // within the same timestamp tick after its status was taken would look: a file that is gone,
        // a "file" that is a directory.
        let liars = [
            vec![
                (&b"a"[..], Kind::File),
                (b"ghost", Kind::File),
                (b"sub", Kind::Dir),
            ],
            vec![(&b"a"[..], Kind::File), (b"sub", Kind::File)],
        ];
        for lie in liars {
            let mut b = DirListing::builder(&st);
            for (name, kind) in lie {
                b.push(name, kind, b"");
            }
            let listings = Listings::new(vec![(Vec::new(), b.finish())], Racy::before(i128::MAX));
            assert_eq!(walk_with(root, &listings), truth);
            let changes = listings.changes();
            assert_eq!(changes.dirs_read, 2, "the root was read, not trusted");
            let root_listing = &changes.put[0];
            assert_eq!(root_listing.0, b"");
            let mut names: Vec<_> = root_listing.1.entries().map(|e| e.name.to_vec()).collect();
            names.sort();
            assert_eq!(names, vec![b"a".to_vec(), b"sub".to_vec()]);
        }
    }

    /// Walks `root` with the listings of `state`, then writes the changes back to it as a snapshot's
    /// commit would; returns the entries and how many directories were read.
    fn scan(
        root: &std::path::Path,
        state: &mut std::collections::BTreeMap<Vec<u8>, DirListing>,
        racy_ns: i128,
    ) -> (Vec<(Vec<u8>, &'static str)>, u64) {
        let listings = Listings::new(state.clone().into_iter().collect(), Racy::before(racy_ns));
        let entries = walk_with(root, &listings);
        let changes = listings.changes();
        for rel in changes.delete {
            state.remove(&rel);
        }
        state.extend(changes.put);
        (entries, changes.dirs_read)
    }

    #[test]
    fn a_matching_listing_is_trusted_and_too_recent_ones_are_not_recorded() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        std::fs::create_dir(root.join("sub")).unwrap();
        std::fs::write(root.join("sub/f"), b"f").unwrap();
        let mut state = std::collections::BTreeMap::new();
        let (listed, read) = scan(root, &mut state, i128::MAX);
        assert_eq!((read, state.len()), (2, 2));
        // Unchanged: nothing read, the same entries.
        assert_eq!(scan(root, &mut state, i128::MAX), (listed.clone(), 0));
        // A file added: its directory is read again, the other trusted.
        std::fs::write(root.join("sub/g"), b"g").unwrap();
        let (entries, read) = scan(root, &mut state, i128::MAX);
        assert!(entries.contains(&(b"sub/g".to_vec(), "file")));
        assert_eq!(read, 1);
        // Removed, and read when it is too recent to record: its listing goes.
        std::fs::remove_file(root.join("sub/g")).unwrap();
        let (entries, read) = scan(root, &mut state, 0);
        assert_eq!((entries, read), (listed.clone(), 1));
        assert!(!state.contains_key(&b"sub"[..]) && state.contains_key(&b""[..]));
        assert_eq!(scan(root, &mut state, i128::MAX), (listed, 1));
    }
}
