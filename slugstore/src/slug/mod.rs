//! Slugs: immutable, content-addressed trees ([`Manifest`]) and what the store records about them
//! ([`SlugRecord`]).

pub mod manifest;
pub mod record;

pub use manifest::{display_bytes, Entry, EntryKind, Manifest, TreeStats};
pub use record::{format_time, now_secs, SlugRecord};
