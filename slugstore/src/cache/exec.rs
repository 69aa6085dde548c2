//! Running a step's command: its output streamed as it comes and the end of it kept for the record.
//!
//! A hit replays what the recorded run printed, so a build log reads the same whether the step ran
//! or not; only the last [`LOG_TAIL`] bytes of each stream are kept, so a chatty step cannot bloat
//! the index.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::Instant;

use super::record::LOG_TAIL;
use crate::error::{Error, Result};

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
}

/// Runs `argv` in `cwd`, copying its standard output to `out` and its standard error to `err` as
/// they come.
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
    let (child_out, child_err) = (child.stdout.take(), child.stderr.take());
    let (stdout, stderr) = std::thread::scope(|s| {
        let a = s.spawn(|| tee(child_out, out));
        let b = s.spawn(|| tee(child_err, err));
        (a.join().unwrap_or_default(), b.join().unwrap_or_default())
    });
    let status = child.wait().map_err(|e| Error::io(prog, e))?;
    Ok(Ran {
        status,
        stdout,
        stderr,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Copies `from` to `to` until its end, keeping the last [`LOG_TAIL`] bytes. A sink that fails (a
/// closed pipe) stops the copy, not the read: the child must never block on a full pipe.
fn tee(from: Option<impl Read>, to: &mut (dyn Write + Send)) -> Vec<u8> {
    let mut kept = Vec::new();
    let Some(mut from) = from else { return kept };
    let mut buf = [0u8; 16 << 10];
    let mut sink_ok = true;
    loop {
        let n = match from.read(&mut buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if sink_ok {
            sink_ok = to.write_all(&buf[..n]).and_then(|_| to.flush()).is_ok();
        }
        kept.extend_from_slice(&buf[..n]);
        if kept.len() > 2 * LOG_TAIL {
            kept.drain(..kept.len() - LOG_TAIL);
        }
    }
    if kept.len() > LOG_TAIL {
        kept.drain(..kept.len() - LOG_TAIL);
    }
    kept
}
