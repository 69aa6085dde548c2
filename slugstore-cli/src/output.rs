//! Command output on stdout.
//!
//! `slug ls | head` closes the pipe before `slug` is done writing. Rust ignores SIGPIPE, so the next
//! write fails with `BrokenPipe` and `println!` panics with a backtrace. Resetting SIGPIPE to its
//! default would instead kill the process on any write to a closed pipe or socket, the watcher's and
//! the hooks' included; so command output goes through [`line()`], which ends the process quietly, with
//! the status a shell reports for a command killed by SIGPIPE, when stdout is the closed pipe.

use std::fmt;
use std::io::{ErrorKind, Write};

/// What a shell reports for a command killed by SIGPIPE (128 + 13).
const CLOSED_PIPE_STATUS: i32 = 141;

/// Writes one line of command output.
pub fn line(args: fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    let written = out
        .write_fmt(args)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    match written {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::BrokenPipe => std::process::exit(CLOSED_PIPE_STATUS),
        Err(e) => {
            eprintln!("slug: error: writing to stdout: {e}");
            std::process::exit(1);
        }
    }
}

/// `println!` for command output, through [`line()`].
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::output::line(format_args!($($arg)*))
    };
}
