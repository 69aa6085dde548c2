//! Tar headers with a valid checksum: the first 512 bytes of the input become one header (its
//! checksum recomputed, so the fuzzer gets past it), the rest its data, then the end-of-archive
//! blocks. Import must never panic, never print a control character in an error, and a slug it
//! commits must round-trip through export.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use slugstore::archive::{export, import, ExportOptions, ImportOptions};
use slugstore::store::OpenOptions;
use slugstore::{NoProgress, Store};

fn store() -> &'static Store {
    static STORE: OnceLock<(tempfile::TempDir, Store)> = OnceLock::new();
    &STORE
        .get_or_init(|| {
            let dir = tempfile::tempdir().expect("temporary directory");
            let store =
                Store::init(&dir.path().join("store"), &OpenOptions::default()).expect("store");
            (dir, store)
        })
        .1
}

fuzz_target!(|data: &[u8]| {
    let mut header = [0u8; 512];
    let n = data.len().min(512);
    header[..n].copy_from_slice(&data[..n]);
    header[148..156].fill(b' ');
    let sum: u32 = header.iter().map(|&b| u32::from(b)).sum();
    header[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    let mut archive = header.to_vec();
    archive.extend_from_slice(&data[n..]);
    archive.resize(archive.len().next_multiple_of(512) + 1024, 0);

    let store = store();
    let opts = ImportOptions::default();
    match import(store, &mut &archive[..], "fuzz", None, &opts, &NoProgress) {
        Err(e) => {
            let text = e.to_string();
            assert!(!text.chars().any(char::is_control), "{text:?}");
        }
        Ok(r) => {
            let mut out = Vec::new();
            export(
                store,
                &r.slug,
                &mut out,
                "-",
                &ExportOptions::default(),
                &NoProgress,
            )
            .expect("an imported slug exports");
            let again = import(store, &mut &out[..], "export", None, &opts, &NoProgress)
                .expect("an export imports");
            assert_eq!(again.slug, r.slug);
        }
    }
});
