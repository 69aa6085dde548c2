//! Slugs: immutable, content-addressed trees ([`Manifest`]) and what the store records about them
//! ([`SlugRecord`]).

pub mod commit;
pub mod manifest;
pub mod record;

pub use commit::{check_ref_name, commit_manifest, Committed, SlugMeta};
pub use manifest::{display_bytes, hex_bytes, Entry, EntryKind, Manifest, TreeStats};
pub use record::{format_time, now_created, now_secs, SlugRecord};
