//! Runs a measured command: wall time from the parent, CPU time and peak RSS from the kernel.
//!
//! The child is reaped with `wait4`, whose resource usage covers the child and every descendant it
//! waited for, so a pipeline run under `bash -c` reports the largest RSS of its members and the sum of
//! their CPU time.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::Instant;

use slugstore::{Error, Result};

/// Figures of one measured run.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Sample {
    /// Wall-clock seconds.
    pub wall_s: f64,
    /// User CPU seconds of the command and its descendants.
    pub user_s: f64,
    /// System CPU seconds of the command and its descendants.
    pub sys_s: f64,
    /// Peak resident set size of the largest process, KiB.
    pub max_rss_kib: u64,
}

/// A finished command: its figures and what it printed.
#[derive(Debug, Clone)]
pub struct Finished {
    /// The measured figures.
    pub sample: Sample,
    /// Standard output.
    pub stdout: String,
}

fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

fn reader(mut r: impl Read + Send + 'static) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut v = Vec::new();
        let _ = r.read_to_end(&mut v);
        v
    })
}

/// Runs `cmd` to completion and measures it; a non-zero exit is an error quoting its stderr.
///
/// Dirty pages are flushed first (`sync`), so a command is not billed for writing back what the one
/// before it left in the page cache (OSTree, for one, calls `syncfs` when it commits).
pub fn run(cmd: &mut Command) -> Result<Finished> {
    let what = describe(cmd);
    // SAFETY: sync(2) takes no arguments and cannot fail.
    unsafe { libc::sync() };
    let start = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::external(format!("cannot run `{what}`: {e}")))?;
    let out = reader(child.stdout.take().expect("piped stdout"));
    let err = reader(child.stderr.take().expect("piped stderr"));
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our child, not yet reaped (the std handle is never waited on).
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = start.elapsed().as_secs_f64();
    if rc < 0 {
        return Err(Error::external(format!(
            "waiting for `{what}`: {}",
            std::io::Error::last_os_error()
        )));
    }
    let stdout = String::from_utf8_lossy(&out.join().unwrap_or_default()).into_owned();
    let stderr = String::from_utf8_lossy(&err.join().unwrap_or_default()).into_owned();
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        let tail: String = stderr
            .lines()
            .rev()
            .take(5)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join(" | ");
        return Err(Error::external(format!(
            "`{what}` failed (wait status {status}): {tail}"
        )));
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let sample = Sample {
        wall_s: wall,
        user_s: secs(usage.ru_utime),
        sys_s: secs(usage.ru_stime),
        max_rss_kib: usage.ru_maxrss as u64,
    };
    Ok(Finished { sample, stdout })
}

/// A command running `script` under `bash -o pipefail -c`, for pipelines.
pub fn shell(script: &str) -> Command {
    let mut c = Command::new("bash");
    c.args(["-o", "pipefail", "-c", script]);
    c
}

/// `path` quoted for a POSIX shell.
pub fn quote(path: &Path) -> String {
    format!("'{}'", path.to_string_lossy().replace('\'', r"'\''"))
}

/// Removes a directory tree even when parts of it were made read-only (restored releases are).
pub fn remove_tree(path: &Path) -> Result<()> {
    if !path.exists() {
        return Ok(());
    }
    if let Some(trash) = TRASH.get() {
        let n = TRASHED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if std::fs::rename(path, trash.join(n.to_string())).is_ok() {
            return Ok(());
        }
    }
    delete_tree(path)
}

/// Deletes `path` now, making it writable first if needed.
fn delete_tree(path: &Path) -> Result<()> {
    if std::fs::remove_dir_all(path).is_ok() {
        return Ok(());
    }
    run(Command::new("chmod").arg("-R").arg("u+w").arg(path))?;
    std::fs::remove_dir_all(path).map_err(|e| Error::io(path, e))
}

/// Where [`remove_tree`] moves trees once [`defer_removal`] is called.
static TRASH: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
static TRASHED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// From now on, [`remove_tree`] moves trees into `dir` (same filesystem) instead of deleting them;
/// [`empty_trash`] deletes them.
///
/// Why: on ext4 without a journal, allocating an inode skips, one by one, every inode of the group
/// freed in the last minute or so (`recently_deleted()` in the kernel), so a run that creates files
/// right after a large tree was deleted pays for that deletion, whatever the tool. Deleting trees
/// between runs made every file-creating run (restore, checkout, gzip) slower by up to 2x here, and by
/// varying amounts. Deleting them after the measurements removes that noise for every tool alike.
pub fn defer_removal(dir: &Path) -> Result<()> {
    if dir.exists() {
        delete_tree(dir)?;
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let _ = TRASH.set(dir.to_path_buf());
    Ok(())
}

/// Deletes what [`remove_tree`] set aside, a few trees at a time (unlinking is system-call bound, and
/// the trash of a full-size run holds millions of files).
pub fn empty_trash() -> Result<()> {
    let Some(dir) = TRASH.get() else {
        return Ok(());
    };
    let trees = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .map(|e| e.map(|e| e.path()).map_err(|e| Error::io(dir, e)))
        .collect::<Result<Vec<PathBuf>>>()?;
    let next = std::sync::atomic::AtomicUsize::new(0);
    let first_error = std::sync::Mutex::new(None);
    thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                while let Some(tree) =
                    trees.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
                {
                    if let Err(e) = delete_tree(tree) {
                        first_error.lock().expect("lock").get_or_insert(e);
                    }
                }
            });
        }
    });
    match first_error.into_inner().expect("lock") {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Median of `values` (mean of the middle two for an even count); `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

/// Disk usage of everything below `path`: (apparent bytes of files, allocated bytes).
pub fn disk_usage(path: &Path) -> Result<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let mut apparent = 0;
    let mut allocated = 0;
    for e in crate::walk::walk(path)? {
        if !e.meta.is_dir() {
            apparent += e.meta.len();
        }
        allocated += e.meta.blocks() * 512;
    }
    Ok((apparent, allocated))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_a_pipeline_and_reports_failure() {
        let f = run(&mut shell("head -c 3000000 /dev/zero | wc -c")).expect("runs");
        assert_eq!(f.stdout.trim(), "3000000");
        assert!(f.sample.max_rss_kib > 0);
        assert!(f.sample.wall_s > 0.0);
        let e = run(&mut shell("echo boom >&2; exit 3")).expect_err("fails");
        assert!(e.to_string().contains("boom"), "{e}");
    }

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }
}
