//! Static content compression: gzip the web assets of a build tree next to themselves.
//!
//! Web servers serve `app.js.gz` instead of compressing `app.js` on every request (nginx `gzip_static`),
//! so a build writes those files once. The hosting platform does it with `find | xargs -P16 gzip`, which
//! fails on a rerun (`.gz` exists), breaks on odd names, and recompresses every unchanged asset on every
//! build. This module does the same job with the same selection rules ([`mod@select`]) but:
//!
//! - it is **idempotent**: an up-to-date `.gz` is left untouched, a stale one is replaced atomically;
//! - it **never compresses the same bytes twice**: each asset's gzip form is kept in a [`GzCache`] keyed by
//!   the asset's BLAKE3 id and the level, so a later build of an unchanged asset copies it;
//! - its output is **deterministic** ([`gzip`]): no timestamp and no name in the header, so the same asset
//!   gives the same `.gz` bytes on any machine;
//! - a rerun **reads only what changed**: each run records the stat keys of the assets and `.gz` files it
//!   left ([`mod@seen`]), and the next run over the directory trusts those that did not change;
//! - it runs across all cores and stops cleanly on a timeout ([`run`]).

pub mod atomic;
pub mod cache;
pub mod gzip;
mod inflight;
pub mod read;
pub mod reuse;
pub mod run;
pub mod seen;
pub mod select;

pub use cache::{Compacted, DirGzCache, GzCache};
pub use gzip::Level;
pub use run::{compress_static, compress_static_reusing, CompressOptions, Report};
pub use select::{select, Asset};

use std::path::{Path, PathBuf};

/// The directory of a store that holds its static-compression cache: shared by builds,
/// `compress-static` and gc, which compacts it to the assets still live.
pub const CACHE_DIR: &str = "gz";

/// The static-compression cache directory of the store at `store_root`.
pub fn cache_dir(store_root: &Path) -> PathBuf {
    store_root.join(CACHE_DIR)
}
