//! slugstore: content-addressed, deduplicated, instantly reversible slugs of a build tree.

pub mod error;
pub mod id;

pub use error::{Error, Result};
pub use id::{ObjectId, SlugId};
