//! Cron schedules and the minute a run is for.
//!
//! Both the configuration's validation (a `spec` that cannot be parsed is a diagnostic with its line)
//! and the cron runner (what is due this minute) need them, so they sit below both.

pub mod clock;
pub mod spec;

pub use clock::Minute;
pub use spec::Schedule;
