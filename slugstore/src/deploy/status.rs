//! The record of a deploy: each phase's state and timing, and its log.
//!
//! An operator must be able to tell, during a deploy and long after it, which phase ran, how long it
//! took and where it stopped. So every deploy gets a record, `TARGET/deploys/<id>.json`, rewritten
//! atomically at every phase change (a reader never sees half a file, and a killed deploy leaves the
//! phase it died in marked in progress), and a log, `TARGET/deploys/<id>.log`, appended line by line as
//! hook output arrives. The same events go to an observer for a live view on the terminal.
//!
//! Deploy ids are the start time in UTC (`20261122T060832Z-123`, milliseconds last), so they sort in
//! the order the deploys ran.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::{Error, IoResultExt, Result};
use crate::fsutil;
use crate::id::SlugId;
use crate::slug::format_time;

/// Directory of deploy records under a target.
pub const DEPLOYS: &str = "deploys";

/// The phases of a deploy, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Phase 1: read and check the configuration, report the topology change.
    Validate,
    /// Phase 2: build the source tree (or reuse an earlier build of the same tree).
    Build,
    /// Phase 3: snapshot the build output into a slug.
    Slug,
    /// Phase 4: materialize the release and wire its mounts.
    Release,
    /// Phase 5: deploy hooks, under maintenance mode.
    Deploy,
    /// Switch `current`, post-switch command, post-deploy hook, backups.
    PostDeploy,
}

impl Phase {
    /// Every phase, in order.
    pub const ALL: [Phase; 6] = [
        Phase::Validate,
        Phase::Build,
        Phase::Slug,
        Phase::Release,
        Phase::Deploy,
        Phase::PostDeploy,
    ];

    /// The phase's name (`post_deploy`).
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Validate => "validate",
            Phase::Build => "build",
            Phase::Slug => "slug",
            Phase::Release => "release",
            Phase::Deploy => "deploy",
            Phase::PostDeploy => "post_deploy",
        }
    }
}

/// Where a phase, or the whole deploy, stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhaseState {
    /// Not started.
    Pending,
    /// Running now (or the process died while it ran).
    InProgress,
    /// Done.
    Success,
    /// Stopped the deploy.
    Failed,
}

impl PhaseState {
    /// The state's name (`in_progress`).
    pub fn as_str(self) -> &'static str {
        match self {
            PhaseState::Pending => "pending",
            PhaseState::InProgress => "in_progress",
            PhaseState::Success => "success",
            PhaseState::Failed => "failed",
        }
    }
}

/// One phase of one deploy.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PhaseStatus {
    /// Which phase.
    pub phase: Phase,
    /// Where it stands.
    pub state: PhaseState,
    /// When it started (RFC 3339 UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<String>,
    /// How long it ran, in seconds, once finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
    /// A one-line summary (`reused build 3f2a…`) or the error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The stored record of a deploy (`TARGET/deploys/<id>.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeployRecord {
    /// The deploy's id.
    pub id: String,
    /// What was deployed: a source directory, `REPO@REV (commit)`, or `slug <id> (promoted from …)`.
    pub source: String,
    /// The environment deployed to, when the target is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    /// The git commit deployed, for a deploy from git.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git: Option<crate::deploy::GitCommit>,
    /// Where the slug was promoted from (an environment or a slug name): nothing was built.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promoted_from: Option<String>,
    /// When it started (RFC 3339 UTC).
    pub started: String,
    /// Overall state: in progress, success, or failed.
    pub state: PhaseState,
    /// Total wall time in seconds, once finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
    /// The source tree's build key (the "tree id" of the platform).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tree: Option<String>,
    /// The slug deployed, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slug: Option<SlugId>,
    /// True when the build was reused instead of run.
    #[serde(default)]
    pub reused_build: bool,
    /// The release live when the deploy started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<SlugId>,
    /// Every phase, in order.
    pub phases: Vec<PhaseStatus>,
    /// The error that stopped the deploy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl DeployRecord {
    /// The status of `phase`.
    pub fn phase(&self, phase: Phase) -> &PhaseStatus {
        self.phases
            .iter()
            .find(|p| p.phase == phase)
            .expect("every phase is recorded")
    }
}

/// What the observer of a deploy is told.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// A phase changed state.
    Phase(&'a PhaseStatus),
    /// A line of output (hook output or a message of the pipeline), as written to the log.
    Line(&'a str),
}

/// Receives a deploy's events as they happen (from several threads while a hook runs).
pub type Observer<'a> = &'a (dyn Fn(Event<'_>) + Sync);

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
        fsutil::write_atomic(&self.json, &bytes)
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

/// The ids of the deploys recorded on the target, oldest first.
pub fn list(target_root: &Path) -> Result<Vec<String>> {
    let dir = target_root.join(DEPLOYS);
    let rd = match fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(&dir, e)),
    };
    let mut ids = Vec::new();
    for entry in rd {
        let name = entry.at(&dir)?.file_name();
        if let Some(id) = name.to_str().and_then(|n| n.strip_suffix(".json")) {
            if !id.starts_with('.') {
                ids.push(id.to_owned());
            }
        }
    }
    ids.sort();
    Ok(ids)
}

/// Resolves a deploy id given by the user (a unique prefix), or the last deploy when `None`.
pub fn resolve(target_root: &Path, id: Option<&str>) -> Result<String> {
    let ids = list(target_root)?;
    let found: Vec<&String> = match id {
        None => ids.last().into_iter().collect(),
        Some(p) => ids.iter().filter(|i| i.starts_with(p)).collect(),
    };
    match found.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(Error::Invalid(format!(
            "{}: no deploy{}",
            target_root.join(DEPLOYS).display(),
            id.map(|p| format!(" matches `{p}`")).unwrap_or_default()
        ))),
        many => Err(Error::Invalid(format!(
            "deploy `{}` is ambiguous: it matches {}",
            id.unwrap_or_default(),
            many.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// Reads the record of deploy `id`.
pub fn load(target_root: &Path, id: &str) -> Result<DeployRecord> {
    let path = target_root.join(DEPLOYS).join(format!("{id}.json"));
    let text = fs::read(&path).at(&path)?;
    serde_json::from_slice(&text)
        .map_err(|e| Error::format(path.display().to_string(), e.to_string()))
}

/// The log file of deploy `id`.
pub fn log_path(target_root: &Path, id: &str) -> PathBuf {
    target_root.join(DEPLOYS).join(format!("{id}.log"))
}
