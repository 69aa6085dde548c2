//! The deploy target: its directory layout, its lock and its state file.
//!
//! ```text
//! TARGET/
//!   current              symlink -> releases/<slug-id> (relative, so the target can be moved)
//!   releases/<slug-id>/  one materialized slug each, read-only
//!   releases/.tmp-*      a checkout in progress (or killed); never a release
//!   releases/.trash-*    a release being removed; never a release
//!   shared/<source_path>/ persistent writable storage behind the mounts; never deleted by slugstore
//!   state.json           activation history and when each release was materialized
//!   .lock                flock(2)ed by every command that changes the target
//! ```
//!
//! **What counts as a release.** A directory under `releases/` whose name is a full, lowercase slug id.
//! Such a name only ever appears through `rename(2)` of a temporary directory whose content is complete
//! and synced, and disappears by being renamed to `.trash-*` before its content is deleted. A directory
//! therefore either has the name of a release and is whole, or has another name and is ignored. No marker
//! file is put inside a release: it stays bit-exact to its slug.
//!
//! `current` is the truth about what is live; `state.json` is history (written after the switch, so a
//! crash between the two can lose one history entry, never the switch itself).

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::{Error, IoResultExt, Result};
use crate::fsutil::{self, Lock};
use crate::id::SlugId;

/// Name of the live-release symlink.
pub const CURRENT: &str = "current";
/// Directory of materialized releases.
pub const RELEASES: &str = "releases";
/// Directory of the mounts' persistent storage.
pub const SHARED: &str = "shared";
/// The state file.
pub const STATE: &str = "state.json";
/// Prefix of checkouts in progress under `releases/`.
pub const TMP_PREFIX: &str = ".tmp-";
/// Prefix of releases being removed under `releases/`.
pub const TRASH_PREFIX: &str = ".trash-";
/// Activation records kept in the state file.
const HISTORY_LIMIT: usize = 1000;

/// How a release came to be live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SwitchKind {
    /// An explicit activation (a deploy).
    Activate,
    /// A rollback.
    Rollback,
}

/// One switch of `current`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activation {
    /// The slug made live.
    pub slug: SlugId,
    /// Unix time in seconds.
    pub time: u64,
    /// What was live before, if anything.
    pub previous: Option<SlugId>,
    /// Deploy or rollback.
    pub kind: SwitchKind,
}

/// What the target remembers of a release.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseInfo {
    /// Unix time the release was (last) materialized.
    pub materialized: u64,
    /// False until the release's files are flushed to disk, which happens when it first goes live
    /// (releases recorded before this field existed were flushed at checkout).
    #[serde(default = "flushed")]
    pub durable: bool,
    /// The mount paths linked into the release when it was written. A release is recycled only when the
    /// mounts it is read with now are these (see [`super::recycle`]); releases recorded before this field
    /// existed have none, and are never recycled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mounts: Option<Vec<String>>,
}

fn flushed() -> bool {
    true
}

/// The content of `state.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// Switches of `current`, oldest first (the last `HISTORY_LIMIT` only).
    #[serde(default)]
    pub activations: Vec<Activation>,
    /// Releases materialized, by slug id (entries of pruned releases are dropped).
    #[serde(default)]
    pub releases: BTreeMap<SlugId, ReleaseInfo>,
}

impl State {
    /// Appends an activation, trimming the history.
    pub fn record(&mut self, a: Activation) {
        self.activations.push(a);
        let excess = self.activations.len().saturating_sub(HISTORY_LIMIT);
        self.activations.drain(..excess);
    }

    /// Last time `id` was made live, if ever.
    pub fn last_activated(&self, id: &SlugId) -> Option<u64> {
        self.activations
            .iter()
            .rev()
            .find(|a| a.slug == *id)
            .map(|a| a.time)
    }
}

/// A deploy target directory.
#[derive(Debug, Clone)]
pub struct Target {
    root: PathBuf,
}

/// How long [`Target::lock`] waits for another process working on the target.
pub const TARGET_LOCK_WAIT: Duration = Duration::from_secs(600);

/// Holds the target's lock until dropped.
#[derive(Debug)]
pub struct TargetLock {
    _file: File,
}

impl Target {
    /// Opens the target at `root` (made absolute), creating `root`, `releases/` and `shared/` when absent.
    pub fn open(root: &Path) -> Result<Target> {
        for d in [root.to_path_buf(), root.join(RELEASES), root.join(SHARED)] {
            fs::create_dir_all(&d).at(&d)?;
        }
        Ok(Target {
            root: root.canonicalize().at(root)?,
        })
    }

    /// Opens an existing target without creating anything.
    pub fn existing(root: &Path) -> Result<Target> {
        let rel = root.join(RELEASES);
        if !rel.is_dir() {
            return Err(Error::NotATarget(root.to_path_buf()));
        }
        Ok(Target {
            root: root.canonicalize().at(root)?,
        })
    }

    /// The target directory (absolute).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `TARGET/releases`.
    pub fn releases_dir(&self) -> PathBuf {
        self.root.join(RELEASES)
    }

    /// `TARGET/shared`.
    pub fn shared_dir(&self) -> PathBuf {
        self.root.join(SHARED)
    }

    /// `TARGET/current`.
    pub fn current_link(&self) -> PathBuf {
        self.root.join(CURRENT)
    }

    /// Where the release of `id` lives.
    pub fn release_dir(&self, id: &SlugId) -> PathBuf {
        self.releases_dir().join(id.to_hex())
    }

    /// True when the complete release of `id` is on disk.
    pub fn has_release(&self, id: &SlugId) -> bool {
        fs::symlink_metadata(self.release_dir(id)).is_ok_and(|m| m.is_dir())
    }

    /// Takes the target's exclusive lock, waiting at most [`TARGET_LOCK_WAIT`] for another process
    /// to release it.
    pub fn lock(&self) -> Result<TargetLock> {
        self.lock_within(TARGET_LOCK_WAIT)
    }

    /// Takes the target's exclusive lock, waiting at most `wait` for another process to release it
    /// ([`Error::TargetLocked`] then). What holds it does bounded work: a checkout, or a switch and its
    /// post-switch command, which has a time limit of its own.
    pub fn lock_within(&self, wait: Duration) -> Result<TargetLock> {
        let path = self.root.join(".lock");
        let started = Instant::now();
        loop {
            if let Some(file) = fsutil::lock_file(&path, Lock::ExclusiveNoWait)? {
                return Ok(TargetLock { _file: file });
            }
            if started.elapsed() >= wait {
                return Err(Error::TargetLocked {
                    path,
                    waited: started.elapsed(),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The live release, read from the `current` symlink.
    pub fn current(&self) -> Result<Option<SlugId>> {
        let link = self.current_link();
        match fs::read_link(&link) {
            Ok(t) => {
                let name = t.file_name().and_then(|n| n.to_str()).unwrap_or_default();
                release_id(name)
                    .map(Some)
                    .ok_or_else(|| Error::NotARelease {
                        link: link.to_path_buf(),
                        points_at: t.to_path_buf(),
                    })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(&link, e)),
        }
    }

    /// The complete releases on disk, in no particular order.
    pub fn releases(&self) -> Result<Vec<SlugId>> {
        Ok(self
            .scan_releases()?
            .into_iter()
            .filter_map(|n| release_id(&n))
            .collect())
    }

    /// Names under `releases/` that are not releases: leftovers of killed checkouts and removals.
    pub fn leftovers(&self) -> Result<Vec<PathBuf>> {
        let dir = self.releases_dir();
        Ok(self
            .scan_releases()?
            .into_iter()
            .filter(|n| n.starts_with(TMP_PREFIX) || n.starts_with(TRASH_PREFIX))
            .map(|n| dir.join(n))
            .collect())
    }

    /// The `.trash-*` directories under `releases/`: releases renamed away, waiting to be deleted.
    pub fn trash(&self) -> Result<Vec<PathBuf>> {
        let dir = self.releases_dir();
        Ok(self
            .scan_releases()?
            .into_iter()
            .filter(|n| n.starts_with(TRASH_PREFIX))
            .map(|n| dir.join(n))
            .collect())
    }

    fn scan_releases(&self) -> Result<Vec<String>> {
        let dir = self.releases_dir();
        let mut out = Vec::new();
        for e in fs::read_dir(&dir).at(&dir)? {
            let e = e.at(&dir)?;
            if !e.file_type().at(e.path())?.is_dir() {
                continue;
            }
            if let Some(n) = e.file_name().to_str() {
                out.push(n.to_string());
            }
        }
        Ok(out)
    }

    /// Reads `state.json` (empty state when absent).
    pub fn state(&self) -> Result<State> {
        let path = self.root.join(STATE);
        match fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b)
                .map_err(|e| Error::format(path.display().to_string(), e.to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(Error::io(&path, e)),
        }
    }

    /// Writes `state.json` atomically (call with the lock held).
    pub fn save_state(&self, state: &State) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(state).expect("state serializes");
        fsutil::write_atomic(&self.root.join(STATE), &bytes)
    }
}

/// The slug id a directory name under `releases/` stands for: only full, lowercase ids qualify.
pub fn release_id(name: &str) -> Option<SlugId> {
    let id: SlugId = name.parse().ok()?;
    (id.to_hex() == name).then_some(id)
}
