//! Slugs: immutable, content-addressed trees ([`Manifest`]) and what the store records about them
//! ([`SlugRecord`]).

pub mod manifest;
pub mod record;
pub mod ref_name;
pub mod rel_path;

pub use manifest::{display_bytes, hex_bytes, Entry, EntryKind, Manifest, TreeStats};
pub use record::{format_time, now_created, now_secs, SlugRecord};
pub use ref_name::check_ref_name;
pub use rel_path::normalize_rel;
