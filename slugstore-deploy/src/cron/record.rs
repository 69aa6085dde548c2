//! The record of each cron run, under the target beside the deploy records.
//!
//! `TARGET/crons/<job>/<minute>.json` says what ran, for which minute, on which release, how it ended;
//! `<minute>.log` holds the job's output (both streams, as written). The name is the UTC minute the run
//! was due (`20261206T1005Z`), so a job runs at most once per minute by construction: a run for a minute
//! that already has a record is not due. The JSON is replaced atomically when the run ends, so a reader
//! (the status page) sees either the run in progress or its outcome; a runner killed mid-run leaves it
//! `in_progress`. Only the newest [`RUNS_KEPT`] runs of each job are kept.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::deploy::PhaseState;
use crate::error::{Error, IoResultExt, Result};
use slugstore::fsutil;
use slugstore::id::SlugId;

/// Directory of cron records under a target.
pub const CRONS: &str = "crons";
/// Runs kept per job.
pub const RUNS_KEPT: usize = 50;

/// One run of one job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CronRun {
    /// The job's name.
    pub job: String,
    /// The record's name: the minute the run was due (`20261206T1005Z`).
    pub id: String,
    /// The minute the run was due (RFC 3339 UTC).
    pub due: String,
    /// When it started (RFC 3339 UTC, the system clock).
    pub started: String,
    /// `in_progress`, `success` or `failed`.
    pub state: PhaseState,
    /// Wall time in seconds, once finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
    /// The exit status of the command, when it exited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Why it failed (exit status, signal, stopped at its time limit or for a deploy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The live release it ran in.
    pub release: SlugId,
    /// The command, as configured.
    pub command: String,
}

/// `TARGET/crons/<job>`.
pub fn job_dir(target_root: &Path, job: &str) -> PathBuf {
    target_root.join(CRONS).join(job)
}

/// The log of run `id` of `job`.
pub fn log_path(target_root: &Path, job: &str, id: &str) -> PathBuf {
    job_dir(target_root, job).join(format!("{id}.log"))
}

fn json_path(target_root: &Path, job: &str, id: &str) -> PathBuf {
    job_dir(target_root, job).join(format!("{id}.json"))
}

/// Whether `job` has a run recorded for the minute `id`.
pub fn exists(target_root: &Path, job: &str, id: &str) -> bool {
    json_path(target_root, job, id).exists()
}

/// Writes the record of `run` (atomically).
pub fn save(target_root: &Path, run: &CronRun) -> Result<()> {
    let dir = job_dir(target_root, &run.job);
    fs::create_dir_all(&dir).at(&dir)?;
    let mut bytes = serde_json::to_vec_pretty(run).expect("records serialize");
    bytes.push(b'\n');
    Ok(fsutil::write_atomic(
        &json_path(target_root, &run.job, &run.id),
        &bytes,
    )?)
}

/// The run ids of `job`, oldest first.
pub fn list(target_root: &Path, job: &str) -> Result<Vec<String>> {
    let dir = job_dir(target_root, job);
    let mut ids = Vec::new();
    for name in names(&dir)? {
        if let Some(id) = name.strip_suffix(".json") {
            if !id.starts_with('.') {
                ids.push(id.to_owned());
            }
        }
    }
    ids.sort();
    Ok(ids)
}

/// Reads run `id` of `job`.
pub fn load(target_root: &Path, job: &str, id: &str) -> Result<CronRun> {
    let path = json_path(target_root, job, id);
    let bytes = fs::read(&path).at(&path)?;
    serde_json::from_slice(&bytes)
        .map_err(|e| Error::format(path.display().to_string(), e.to_string()))
}

/// The newest run of every job that has one, by job name.
pub fn last_runs(target_root: &Path) -> Result<Vec<CronRun>> {
    let mut out = Vec::new();
    let mut jobs = names(&target_root.join(CRONS))?;
    jobs.sort();
    for job in jobs.iter().filter(|j| !j.starts_with('.')) {
        if let Some(id) = list(target_root, job)?.last() {
            out.push(load(target_root, job, id)?);
        }
    }
    Ok(out)
}

/// Deletes all but the newest [`RUNS_KEPT`] runs of `job` (record and log).
pub fn trim(target_root: &Path, job: &str) -> Result<()> {
    let ids = list(target_root, job)?;
    let excess = ids.len().saturating_sub(RUNS_KEPT);
    for id in &ids[..excess] {
        for path in [
            json_path(target_root, job, id),
            log_path(target_root, job, id),
        ] {
            match fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(Error::io(&path, e))
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// The names in `dir` (none when it does not exist).
fn names(dir: &Path) -> Result<Vec<String>> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut out = Vec::new();
    for entry in rd {
        if let Some(name) = entry.at(dir)?.file_name().to_str() {
            out.push(name.to_owned());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(job: &str, id: &str) -> CronRun {
        CronRun {
            job: job.to_owned(),
            id: id.to_owned(),
            due: String::new(),
            started: String::new(),
            state: PhaseState::Success,
            seconds: None,
            exit_code: Some(0),
            error: None,
            release: SlugId(slugstore::id::ObjectId::hash(b"release")),
            command: "true".to_owned(),
        }
    }

    #[test]
    fn only_the_newest_runs_are_kept_and_the_newest_of_each_job_is_listed() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let ids: Vec<String> = (0..RUNS_KEPT + 3)
            .map(|m| format!("20261206T{:02}{:02}Z", m / 60, m % 60))
            .collect();
        for id in &ids {
            save(root, &run("a", id)).unwrap();
            fs::write(log_path(root, "a", id), "output").unwrap();
        }
        save(root, &run("b", "20261201T0000Z")).unwrap();
        trim(root, "a").unwrap();
        assert_eq!(list(root, "a").unwrap(), ids[3..]);
        assert!(!log_path(root, "a", &ids[2]).exists());
        assert!(log_path(root, "a", &ids[3]).exists());
        assert!(exists(root, "a", &ids[3]) && !exists(root, "a", &ids[0]));
        let last: Vec<(String, String)> = last_runs(root)
            .unwrap()
            .into_iter()
            .map(|r| (r.job, r.id))
            .collect();
        assert_eq!(
            last,
            [
                ("a".to_owned(), ids.last().unwrap().clone()),
                ("b".to_owned(), "20261201T0000Z".to_owned())
            ]
        );
    }
}
