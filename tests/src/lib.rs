//! Helpers shared by slugstore's integration tests (this crate's `tests/` and the `slug` CLI's tests).
//!
//! Every test works on real files in temporary directories: it builds a tree from a [`tree::Tree`] spec,
//! snapshots and restores it through a real store, and compares what is on disk with
//! [`compare::assert_same_tree`], which looks at everything a restore must reproduce (bytes, permission
//! bits, symlink targets, empty directories, non-UTF-8 names). Damage is done the way a failing disk
//! does it, by flipping bytes of pack files ([`store::flip_byte`]).
//!
//! Web pages (`slug serve`'s status page) are tested in headless Chromium: [`browser::Browser`].

pub mod backend_conformance;
pub mod browser;
pub mod churn;
pub mod compare;
pub mod deadline;
pub mod diff_case;
pub mod magento;
pub mod project;
pub mod refusing_s3;
pub mod rng;
pub mod s3;
pub mod serve;
pub mod store;
pub mod sync;
pub mod tree;

/// True when the tests run as root, for whom permission bits do not stop reads.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}
