//! `slug internal`: commands `slug` runs itself, hidden from `--help`.
//!
//! `empty-trash` deletes the releases retention renamed away (`TARGET/releases/.trash-*`). A deploy
//! only renames them ([`RetentionOptions::defer`](slugstore::checkout::RetentionOptions)) and, once
//! the new release is live, starts this command detached ([`spawn_empty_trash`]), as git detaches its
//! automatic gc: deleting a large release takes seconds that the deploy no longer waits for. It runs
//! in a process group of its own (a Ctrl-C at the terminal does not reach it), with nothing open on
//! the terminal and at a lowered priority, and takes no target lock, so a rollback or a switch during
//! the deletion is not delayed. Killed half-way, it leaves trash that the next command on the target
//! deletes.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use slugstore::checkout::retention::empty_trash;
use slugstore::checkout::Target;

use crate::cmd::CmdResult;
use crate::context::Context;

/// The niceness the background deletion runs at (19 is the lowest priority).
const NICENESS: i32 = 10;

/// Commands slug runs itself.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Internal,
}

#[derive(clap::Subcommand)]
enum Internal {
    /// Delete the target's `releases/.trash-*` directories that no other process is deleting.
    EmptyTrash {
        /// The deploy target.
        #[arg(value_name = "TARGET")]
        target: PathBuf,
    },
}

pub fn run(_ctx: &Context, a: Args) -> CmdResult {
    match a.command {
        Internal::EmptyTrash { target } => {
            lower_priority();
            empty_trash(&target)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Starts `slug internal empty-trash` on the target at `target_root`, detached, when the target has
/// trash. Returns whether a process was started; it is not waited for.
pub fn spawn_empty_trash(target_root: &Path) -> std::io::Result<bool> {
    let Ok(target) = Target::existing(target_root) else {
        return Ok(false);
    };
    if target.trash().map_err(std::io::Error::other)?.is_empty() {
        return Ok(false);
    }
    Command::new(std::env::current_exe()?)
        .args(["internal", "empty-trash"])
        .arg(target.root())
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()?;
    Ok(true)
}

/// Lowers this process's CPU priority; failing to is harmless.
fn lower_priority() {
    // SAFETY: setpriority on this process only changes its scheduling priority.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, NICENESS);
    }
}
