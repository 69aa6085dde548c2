//! Writing a running deploy's record and log: the record rewritten atomically at each phase change,
//! the log appended line by line, every event passed on to the observer.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::{DeployRecord, Event, Observer, Phase, PhaseState, PhaseStatus, DEPLOYS};
use crate::error::{Error, IoResultExt, Result};
use slugstore::fsutil;
use slugstore::slug::format_time;

/// Keeps a deploy's record and log on disk up to date and tells the observer.
pub struct Recorder<'a> {
    json: PathBuf,
    started: Instant,
    observer: Observer<'a>,
    inner: Mutex<Inner>,
}

struct Inner {
    record: DeployRecord,
    log: File,
    phase_started: Option<Instant>,
}

impl<'a> Recorder<'a> {
    /// Creates the record and log of a new deploy of `source` under `target_root/deploys/`. Call with
    /// the deploy lock held, so that ids are unique.
    pub fn create(target_root: &Path, source: &str, observer: Observer<'a>) -> Result<Self> {
        let dir = target_root.join(DEPLOYS);
        fs::create_dir_all(&dir).at(&dir)?;
        let now = SystemTime::now();
        let base = deploy_id(now);
        let mut id = base.clone();
        let mut n = 1;
        while dir.join(format!("{id}.json")).exists() {
            n += 1;
            id = format!("{base}.{n}");
        }
        let log_path = dir.join(format!("{id}.log"));
        let log = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&log_path)
            .at(&log_path)?;
        let record = DeployRecord {
            id: id.clone(),
            source: source.to_owned(),
            env: None,
            git: None,
            promoted_from: None,
            started: format_time(unix_secs(now)),
            state: PhaseState::InProgress,
            seconds: None,
            tree: None,
            slug: None,
            reused_build: false,
            previous: None,
            phases: Phase::ALL
                .iter()
                .map(|&phase| PhaseStatus {
                    phase,
                    state: PhaseState::Pending,
                    started: None,
                    seconds: None,
                    detail: None,
                })
                .collect(),
            error: None,
        };
        let rec = Recorder {
            json: dir.join(format!("{id}.json")),
            started: Instant::now(),
            observer,
            inner: Mutex::new(Inner {
                record,
                log,
                phase_started: None,
            }),
        };
        rec.save(&rec.lock())?;
        Ok(rec)
    }

    /// The deploy's id.
    pub fn id(&self) -> String {
        self.lock().record.id.clone()
    }

    /// A copy of the record as it stands.
    pub fn record(&self) -> DeployRecord {
        self.lock().record.clone()
    }

    /// Changes the record with `f` and saves it.
    pub fn update(&self, f: impl FnOnce(&mut DeployRecord)) -> Result<()> {
        let mut inner = self.lock();
        f(&mut inner.record);
        self.save(&inner)
    }

    /// Marks `phase` in progress.
    pub fn begin(&self, phase: Phase) -> Result<()> {
        let mut inner = self.lock();
        inner.phase_started = Some(Instant::now());
        let p = phase_mut(&mut inner.record, phase);
        p.state = PhaseState::InProgress;
        p.started = Some(format_time(unix_secs(SystemTime::now())));
        let p = p.clone();
        self.save(&inner)?;
        drop(inner);
        (self.observer)(Event::Phase(&p));
        self.line(phase, "started")
    }

    /// Marks `phase` finished, successfully or not, with a one-line summary.
    pub fn end(&self, phase: Phase, state: PhaseState, detail: Option<String>) -> Result<()> {
        let mut inner = self.lock();
        let seconds = inner
            .phase_started
            .take()
            .map(|t| t.elapsed().as_secs_f64());
        let p = phase_mut(&mut inner.record, phase);
        p.state = state;
        p.seconds = seconds;
        p.detail = detail;
        let p = p.clone();
        self.save(&inner)?;
        drop(inner);
        (self.observer)(Event::Phase(&p));
        let mut text = format!("{} in {:.3}s", state.as_str(), seconds.unwrap_or(0.0));
        if let Some(d) = &p.detail {
            text.push_str(": ");
            text.push_str(d);
        }
        self.line(phase, &text)
    }

    /// Marks the whole deploy finished.
    pub fn finish(&self, error: Option<&Error>) -> Result<()> {
        let seconds = self.started.elapsed().as_secs_f64();
        self.update(|r| {
            r.state = if error.is_some() {
                PhaseState::Failed
            } else {
                PhaseState::Success
            };
            r.seconds = Some(seconds);
            r.error = error.map(|e| e.to_string());
        })?;
        let text = match error {
            None => format!("deploy succeeded in {seconds:.3}s"),
            Some(e) => format!("deploy failed after {seconds:.3}s: {e}"),
        };
        self.write_line(&format!("{:>9} {text}", elapsed_stamp(seconds)))
    }

    /// Appends a line of `phase` to the log and shows it to the observer.
    pub fn line(&self, phase: Phase, text: &str) -> Result<()> {
        let stamp = elapsed_stamp(self.started.elapsed().as_secs_f64());
        self.write_line(&format!("{stamp:>9} [{}] {text}", phase.as_str()))
    }

    fn write_line(&self, line: &str) -> Result<()> {
        {
            let mut inner = self.lock();
            writeln!(inner.log, "{line}").at(self.log_path())?;
        }
        (self.observer)(Event::Line(line));
        Ok(())
    }

    fn log_path(&self) -> PathBuf {
        self.json.with_extension("log")
    }

    fn save(&self, inner: &Inner) -> Result<()> {
        let mut bytes = serde_json::to_vec_pretty(&inner.record).expect("records serialize");
        bytes.push(b'\n');
        Ok(fsutil::write_atomic(&self.json, &bytes)?)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn phase_mut(record: &mut DeployRecord, phase: Phase) -> &mut PhaseStatus {
    record
        .phases
        .iter_mut()
        .find(|p| p.phase == phase)
        .expect("every phase is recorded")
}

/// `+12.345s`.
fn elapsed_stamp(secs: f64) -> String {
    format!("+{secs:.3}s")
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `20261122T060832Z-123` for 2026-11-22 06:08:32.123 UTC.
fn deploy_id(t: SystemTime) -> String {
    let millis = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_millis())
        .unwrap_or(0);
    let stamp: String = format_time(unix_secs(t))
        .chars()
        .filter(|c| !matches!(c, '-' | ':'))
        .collect();
    format!("{stamp}-{millis:03}")
}
