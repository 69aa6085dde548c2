//! Remotes: where slugs travel to and from.
//!
//! [`url`] parses remote locations (`file:///path`, `s3://bucket/prefix`); [`backend`] stores and
//! fetches objects there; [`config`] names remotes in the store. [`mod@push`] and [`mod@pull`] move slugs,
//! in the layout of [`layout`], learning what a remote holds from its [`catalog`]. [`mod@open`] opens a
//! configured remote (configuration, backend, cache) for each of them.

pub mod backend;
pub mod catalog;
pub mod config;
pub(crate) mod fetch;
mod have;
pub mod layout;
pub mod open;
pub mod patch;
mod pipeline;
pub mod pull;
pub mod push;
pub mod url;

pub use open::{open, open_all, pull_named, push_named, OpenRemote};
pub use pull::{pull, PullReport};
pub use push::{push, PushOptions, PushReport};

use crate::error::{Error, Result};

/// Transfers in flight at once. Each moves up to a pack (64 MiB) or a range of one; several keep the
/// network busy while others hash and decompress.
pub const TRANSFERS: usize = 4;

/// A thread pool for transfers: their threads mostly wait on the network, so it is larger than the
/// CPU-sized global pool, and kept apart from it.
fn transfer_pool() -> Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(TRANSFERS)
        .thread_name(|i| format!("slug-transfer-{i}"))
        .build()
        .map_err(|e| Error::TransferThreads(e.to_string()))
}
