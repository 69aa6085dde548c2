//! The tools compared: slugstore and its peers.

mod cp;
mod ostree;
mod restic;
mod slug;
mod tar;

pub use cp::CpLink;
pub use ostree::Ostree;
pub use restic::Restic;
pub use slug::{slug_command, Slug, UNCOMPRESSED, WATCHING};
pub use tar::TarZstd;
