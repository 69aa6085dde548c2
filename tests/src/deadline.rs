//! Deadlines for tests that could hang: a hang is a failure, never a test run that does not end.
//!
//! A test whose body waits on borrowed state (a store, a remote) cannot hand its body to another
//! thread and give up on it, and a scoped thread that hangs holds its scope for ever. A [`Watchdog`]
//! instead aborts the whole test process, naming what did not end, when its deadline passes before it
//! is dropped.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::Duration;

/// Aborts the process if it is still alive `limit` after it was made; dropping it disarms it.
#[must_use = "the watchdog is disarmed as soon as it is dropped"]
pub struct Watchdog {
    _disarm: mpsc::Sender<()>,
}

/// Arms a [`Watchdog`] for `what` (named in the message printed before the abort).
pub fn watchdog(limit: Duration, what: &str) -> Watchdog {
    let (disarm, armed) = mpsc::channel::<()>();
    let what = what.to_string();
    thread::spawn(move || {
        if armed.recv_timeout(limit) == Err(RecvTimeoutError::Timeout) {
            eprintln!("{what} did not end within {limit:?}: aborting the test process");
            std::process::abort();
        }
    });
    Watchdog { _disarm: disarm }
}
