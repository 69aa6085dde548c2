//! The step-level build cache: `slug cache run` restores a build step's outputs when nothing it
//! depends on changed, and runs it (and records what it produced) when something did.
//!
//! A build hook re-runs every step after any change: `composer install`, `setup:di:compile` and
//! `setup:static-content:deploy` take minutes each, while one edited PHP file only invalidates some
//! of them. Each step declares its inputs (files, globs, trees, variables, tools) and outputs; the
//! inputs and the command make a key ([`key`]), and a key seen before restores its outputs in place
//! ([`mod@restore`]) instead of running the command ([`mod@run`]).
//!
//! Outputs are stored as slugs in the store's own packs, so they deduplicate against every slug,
//! and records live in the store's index ([`record`]), written in the same batch as the outputs.
//! `slug cache explain` says why a step missed ([`mod@explain`]); entries are listed, removed and
//! evicted least recently used first ([`mod@evict`]), and shared across machines through a remote of the
//! store ([`mod@remote`]) as records signed with ed25519 ([`sign`]).
//!
//! One file per job: `key` (the canonical key), `inputs` and `glob` (resolving inputs), `outputs`
//! (storing them), `restore` (putting them back), `keep` (a deploy's outputs of the last build,
//! parked until a step claims them), `exec` (running the command), `lock` (one run per
//! key at a time), `run` (the whole step), and the four above.

pub mod evict;
pub mod exec;
pub mod explain;
pub mod glob;
pub mod inputs;
pub mod keep;
pub mod key;
pub mod lock;
pub mod outputs;
pub mod record;
pub mod remote;
pub mod restore;
pub mod run;
pub mod sign;

pub use evict::{evict, list, remove, EntrySummary};
pub use explain::{explain, Change, Explanation};
pub use inputs::InputSpec;
pub use key::{Input, KeyParts};
pub use record::Record;
pub use run::{run, Outcome, RunIo, RunOptions, RunReport};
