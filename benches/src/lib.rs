//! Benchmarks of slugstore against the tools people use today (tar + zstd, OSTree, restic, `cp -al`),
//! on a synthetic build tree shaped like a real one.
//!
//! The library holds the pieces the binaries share: the tree generator ([`shape`], [`plan`], [`gen`],
//! [`content`]), code-change simulation ([`churn`]), tree inspection ([`walk`]) and the end-to-end
//! suite ([`suite`]).

pub mod churn;
pub mod content;
pub mod gen;
pub mod names;
pub mod plan;
pub mod rng;
pub mod shape;
pub mod suite;
pub mod walk;
