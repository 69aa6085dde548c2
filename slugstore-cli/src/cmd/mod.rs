//! One module per subcommand.

use std::process::ExitCode;

pub mod activate;
pub mod cache;
pub mod checkout;
pub mod compress_static;
pub mod cron;
pub mod deploy;
pub mod diff;
pub mod env;
pub mod export;
pub mod gc;
pub mod import;
pub mod init;
pub mod internal;
pub mod log;
pub mod ls;
pub mod promote;
pub mod prune;
pub mod pull;
pub mod push;
pub mod refs;
pub mod releases;
pub mod remote;
pub mod restore;
pub mod rollback;
pub mod serve;
pub mod show;
pub mod snapshot;
pub mod status;
pub mod target_arg;
pub mod validate;
pub mod verify;
pub mod watch;

/// Something failed (the message says what).
pub const EXIT_ERROR: u8 = 1;
/// A check found damaged or missing data.
pub const EXIT_DAMAGED: u8 = 3;
/// `diff --exit-code`: the two slugs differ.
pub const EXIT_DIFFERENT: u8 = 4;

/// What commands return.
pub type CmdResult = slugstore_deploy::Result<ExitCode>;

/// `1536` → `1.5 KiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}
