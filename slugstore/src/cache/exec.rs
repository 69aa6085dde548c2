//! Running a step's command: its output streamed as it comes and the end of it kept for the record.
//!
//! A hit replays what the recorded run printed, so a build log reads the same whether the step ran
//! or not; only the last [`LOG_TAIL`] bytes of each stream are kept, so a chatty step cannot bloat
//! the index.

use std::io::Write;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::record::LOG_TAIL;
use crate::error::{Error, Result};
use crate::process::{pump, Pipes, Stream};

/// How long output is still read after the command exited, from what it left in the background.
pub const DRAIN: Duration = Duration::from_millis(500);

/// How a command ended, and what it printed (the last [`LOG_TAIL`] bytes of each stream).
pub struct Ran {
    /// Its exit status.
    pub status: ExitStatus,
    /// The end of its standard output.
    pub stdout: Vec<u8>,
    /// The end of its standard error.
    pub stderr: Vec<u8>,
    /// Wall time in seconds.
    pub seconds: f64,
    /// True when processes it left running still held its output [`DRAIN`] after it exited: they may
    /// still be writing its outputs.
    pub left_running: bool,
}

/// Runs `argv` in `cwd`, copying its standard output to `out` and its standard error to `err` as
/// they come. Returns once it has exited and its output is read, without waiting for processes it
/// left in the background (see [`crate::process::pump`]).
pub fn run(
    argv: &[String],
    cwd: &Path,
    out: &mut (dyn Write + Send),
    err: &mut (dyn Write + Send),
) -> Result<Ran> {
    let (prog, args) = argv.split_first().ok_or(Error::CacheNoCommand)?;
    let started = Instant::now();
    let mut child = Command::new(prog)
        .args(args)
        .current_dir(cwd)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::io(prog, e))?;
    let pipes = Pipes::of(&mut child);
    let mut tees = [Tee::new(out), Tee::new(err)];
    let pumped = pump(
        pipes,
        DRAIN,
        || child.try_wait().map_err(|e| Error::io(prog, e)),
        |stream, bytes| {
            tees[usize::from(stream == Stream::Err)].write(bytes);
            Ok(())
        },
        |e| Error::io(prog, e),
    )?;
    let status = match pumped.status {
        Some(s) => s,
        None => child.wait().map_err(|e| Error::io(prog, e))?,
    };
    let [out, err] = tees;
    Ok(Ran {
        status,
        stdout: out.finish(),
        stderr: err.finish(),
        seconds: started.elapsed().as_secs_f64(),
        left_running: pumped.left_open,
    })
}

/// Copies a stream to its sink as it comes, keeping the last [`LOG_TAIL`] bytes. A sink that fails (a
/// closed pipe) stops the copy, not the read: the child must never block on a full pipe.
struct Tee<'a> {
    sink: &'a mut (dyn Write + Send),
    sink_ok: bool,
    kept: Vec<u8>,
}

impl<'a> Tee<'a> {
    fn new(sink: &'a mut (dyn Write + Send)) -> Self {
        Tee {
            sink,
            sink_ok: true,
            kept: Vec::new(),
        }
    }

    fn write(&mut self, bytes: &[u8]) {
        if self.sink_ok {
            self.sink_ok = self
                .sink
                .write_all(bytes)
                .and_then(|_| self.sink.flush())
                .is_ok();
        }
        self.kept.extend_from_slice(bytes);
        if self.kept.len() > 2 * LOG_TAIL {
            self.kept.drain(..self.kept.len() - LOG_TAIL);
        }
    }

    fn finish(mut self) -> Vec<u8> {
        if self.kept.len() > LOG_TAIL {
            self.kept.drain(..self.kept.len() - LOG_TAIL);
        }
        self.kept
    }
}
