//! slugstore: content-addressed, deduplicated, instantly reversible slugs of a build tree.

pub mod archive;
pub mod checkout;
pub mod compress;
pub mod config;
pub mod deploy;
pub mod error;
pub mod fsutil;
pub mod id;
pub mod progress;
pub mod remote;
pub mod restore;
pub mod scan;
pub mod slug;
pub mod snapshot;
pub mod store;
pub mod verify;

pub use error::{Error, Result};
pub use id::{ObjectId, SlugId};
pub use progress::{NoProgress, Progress, ProgressBars};
pub use restore::{restore, RestoreOptions, RestoreReport};
pub use snapshot::{snapshot, SnapshotOptions, SnapshotReport};
pub use store::Store;
pub use verify::{verify, VerifyOptions, VerifyReport};
