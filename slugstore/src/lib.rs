//! slugstore: content-addressed, deduplicated, instantly reversible slugs of a build tree.
//!
//! A *slug* is an immutable snapshot of a web application's build directory, minus the paths its caller
//! leaves out (the writable mounts).
//! Its id is the BLAKE3 hash of its manifest, so the same tree always has the same id; each distinct file
//! content is stored once, zstd-compressed, in pack files indexed by RocksDB. Any slug ever stored can be
//! restored bit-exact, and every byte read back is verified against its hash.
//!
//! ```
//! use slugstore::store::OpenOptions;
//! use slugstore::{NoProgress, RestoreOptions, SnapshotOptions, Store};
//!
//! # fn main() -> slugstore::Result<()> {
//! let dir = tempfile::tempdir().unwrap();
//! let tree = dir.path().join("build");
//! std::fs::create_dir_all(tree.join("pub")).unwrap();
//! std::fs::write(tree.join("pub/index.php"), "<?php echo 'hello';").unwrap();
//! std::fs::create_dir_all(tree.join("var/cache")).unwrap(); // writable at run time: left out
//!
//! // A store is a directory; `Store::open` opens an existing one.
//! let store = Store::init(&dir.path().join("store"), &OpenOptions::default())?;
//!
//! let opts = SnapshotOptions {
//!     excludes: vec!["var".into()],
//!     ref_name: Some("production".into()),
//!     ..Default::default()
//! };
//! let report = store.snapshot(&tree, &opts, &NoProgress)?;
//! assert_eq!(report.tree.files, 1);
//!
//! // Snapshotting the same tree again gives the same id and stores nothing new.
//! let again = store.snapshot(&tree, &opts, &NoProgress)?;
//! assert_eq!((again.slug, again.new_objects), (report.slug, 0));
//!
//! // Refs and id prefixes name slugs; a restore is bit-exact.
//! let id = store.resolve("production")?;
//! let out = dir.path().join("restored");
//! store.restore(&id, &out, &RestoreOptions::default(), &NoProgress)?;
//! assert_eq!(std::fs::read(out.join("pub/index.php")).unwrap(), b"<?php echo 'hello';");
//! assert!(!out.join("var").exists());
//! # Ok(())
//! # }
//! ```
//!
//! [`Store`] is the entry point: it opens the store and offers each operation as a method
//! (`snapshot`, `restore`, `checkout`, `diff`, `verify`, `prune`, `gc`, `export`, `import`, `push`,
//! `pull`). Each operation is also a module with plain option structs and a serializable report, where
//! its design is explained: [`mod@snapshot`], [`mod@restore`], [`checkout`] (releases, switch,
//! rollback), [`mod@diff`], [`mod@verify`], [`archive`] (tar export/import), [`remote`], [`mod@gc`],
//! [`mod@prune`], [`compress`] (static gzip) and [`cache`] (build steps keyed by their inputs).
//!
//! The crate knows nothing of any application's configuration: what to leave out of a snapshot, where
//! a release's mounts are ([`checkout::ReleaseLayout`]) and which refs a prune may drop are its caller's
//! to say. Deploys of a Magento Cloud project (its YAML files, the platform's phases, environments,
//! crons) are the `slugstore-deploy` crate's, built on this one; the `slug` command-line tool is a thin
//! shell over both.

#![warn(missing_docs)]

pub mod archive;
pub mod cache;
pub mod checkout;
pub mod compress;
pub mod diff;
pub mod error;
pub mod escape;
pub mod fsutil;
pub mod gc;
pub mod id;
pub mod process;
pub mod progress;
pub mod prune;
pub mod refs;
pub mod remote;
mod repository;
pub mod restore;
pub(crate) mod scan;
pub mod slug;
pub mod snapshot;
pub mod store;
pub mod units;
pub mod verify;
pub mod watch;

pub use diff::{diff, DiffReport};
pub use error::{Error, Result};
pub use gc::{gc, GcOptions, GcReport};
pub use id::{ObjectId, SlugId};
pub use progress::{NoProgress, Progress, ProgressBars};
pub use prune::{prune, PruneOptions, PruneReport};
pub use restore::{restore, RestoreOptions, RestoreReport};
pub use snapshot::{snapshot, SnapshotOptions, SnapshotReport};
pub use store::Store;
pub use verify::{verify, VerifyOptions, VerifyReport};
