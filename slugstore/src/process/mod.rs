//! Programs run on a user's behalf (deploy hooks, cron jobs, build-cache steps): their output read
//! without waiting on what they leave behind, a deadline, and a clean stop.
//!
//! These are a user's shell scripts. They may hang on a lock, ignore the signal that asks them to stop,
//! or start a process in the background that keeps their stdout open long after they exit. So:
//! - [`Supervised`] runs a program in a process group of its own, with a time limit: past it, the whole
//!   group gets SIGTERM, then SIGKILL a grace period later, which reaches what the script started;
//! - [`pump`] reads a program's stdout and stderr as they come and returns once the program has exited
//!   and its pipes are closed, or [`pump`]'s drain time after its exit if something it left running
//!   still holds them, instead of waiting for that process to end;
//! - [`forward_termination_signals`] makes a program (the CLI) stop the groups it started (SIGTERM)
//!   when it gets SIGINT, SIGTERM or SIGHUP, so that Ctrl-C stops a hook (the terminal signals only
//!   its own foreground group), and lets the program wind down before it ends of that signal.

mod pipes;
mod signals;
mod supervise;

pub use pipes::{pump, Pipes, Pumped, Stream};
pub use signals::{exit_if_interrupted, forward_termination_signals, interrupted, signal_children};
pub use supervise::{describe_failure, Limits, Supervised, POLL};
