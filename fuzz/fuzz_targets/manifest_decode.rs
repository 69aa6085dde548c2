//! Manifests arrive from remotes and archives: decoding must never panic, and whatever it accepts must
//! survive a round trip through the canonical encoding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slugstore::slug::Manifest;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Manifest::decode(data) {
        let again = Manifest::decode(&m.encode()).expect("a canonical encoding decodes");
        assert_eq!(again, m);
    }
});
