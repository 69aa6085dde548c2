//! Archives are hostile input: import must never panic, and a slug it commits must have a manifest that
//! decodes and objects that read back verified.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use slugstore::archive::{import, ImportOptions};
use slugstore::slug::EntryKind;
use slugstore::store::OpenOptions;
use slugstore::{NoProgress, Store};

fn store() -> &'static Store {
    static STORE: OnceLock<(tempfile::TempDir, Store)> = OnceLock::new();
    &STORE
        .get_or_init(|| {
            let dir = tempfile::tempdir().expect("temporary directory");
            let store = Store::init(&dir.path().join("store"), &OpenOptions::default())
                .expect("store");
            (dir, store)
        })
        .1
}

fuzz_target!(|data: &[u8]| {
    let store = store();
    let opts = ImportOptions::default();
    if let Ok(r) = import(store, &mut &data[..], "fuzz", None, &opts, &NoProgress) {
        let m = store.manifest(&r.slug).expect("committed manifest reads back");
        for e in m.entries() {
            if let EntryKind::File { id, .. } = &e.kind {
                store.verify_object(id).expect("committed object reads back");
            }
        }
    }
});
