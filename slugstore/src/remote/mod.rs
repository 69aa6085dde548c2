//! Remotes: where slugs travel to and from.
//!
//! [`url`] parses remote locations (`file:///path`, `s3://bucket/prefix`); [`backend`] stores and
//! fetches objects there. Push and pull build on these two.

pub mod backend;
pub mod url;
