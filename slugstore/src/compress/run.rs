//! One compression run over a directory: select, then compress or copy from the cache, in parallel.
//!
//! For each selected asset the run reads it, hashes it (BLAKE3), and takes its gzip form from the
//! [`GzCache`] or, failing that, compresses it and stores the result there. It then compares that form
//! with the `NAME.gz` already on disk: equal bytes mean the file is up to date and is not touched (no
//! write, its mtime unchanged); otherwise `NAME.gz` is replaced atomically, with the asset's permission
//! bits and modification time, as `gzip --keep` would leave it. Comparing the actual bytes, rather than
//! trusting timestamps, makes a rerun correct after any change, copy or interrupted run.
//! Copies of one asset (one per theme and locale is common) are compressed once, even when two workers
//! reach them at the same moment (see `inflight`).
//!
//! Before any of that, an asset the last run over the directory recorded ([`mod@super::seen`]) whose
//! stat key and `.gz` key are both unchanged is counted up to date without opening either file; the run
//! records the keys of every asset it brings up to date for the next one.
//!
//! Workers pull assets largest first from a shared counter, so the run does not end waiting on a big file
//! started last. Before each asset a worker checks the deadline; once it has passed no new asset is
//! started, the ones in progress finish, and the report counts the rest as skipped. Since every write is
//! an atomic rename, a timeout or an error never leaves a partial `.gz`.

use std::ffi::OsString;
use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde::{Serialize, Serializer};

use super::atomic::{write_atomic, Attrs};
use super::cache::GzCache;
use super::gzip::{self, Level};
use super::inflight::InFlight;
use super::read::{open_regular, read_regular};
use super::seen::{Pair, Seen, StatKey};
use super::select::{select, Asset};
use crate::error::{Error, IoResultExt, Result};
use crate::id::ObjectId;
use crate::progress::ProgressBars;

/// How to compress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct CompressOptions {
    /// gzip level, 0-9; 0 disables compression (the platform's SCD_COMPRESSION_LEVEL).
    #[cfg_attr(feature = "clap", arg(long, value_name = "N", default_value_t = Level::BUILD_DEFAULT))]
    pub level: Level,
    /// Stop starting new files after this many seconds; the files done so far are kept.
    #[cfg_attr(feature = "clap", arg(long, value_name = "SECS", value_parser = crate::units::parse_seconds))]
    pub timeout: Option<Duration>,
}

impl CompressOptions {
    /// The platform's timeout when `SCD_COMPRESSION_TIMEOUT` is not set.
    pub const PLATFORM_TIMEOUT: Duration = Duration::from_secs(600);
}

/// What a run did. Every selected asset is counted in exactly one of `compressed`, `from_cache`,
/// `up_to_date` and `skipped`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    /// The level used (0: compression disabled, nothing was done).
    pub level: Level,
    /// Assets matching the selection rules.
    pub selected: u64,
    /// Assets compressed by this run (their bytes were not in the cache).
    pub compressed: u64,
    /// Assets whose `.gz` was written from the cache, without compressing.
    pub from_cache: u64,
    /// Assets whose `.gz` was already right and was left untouched.
    pub up_to_date: u64,
    /// Assets read and hashed; the others were known unchanged from the last run's record.
    pub read: u64,
    /// Assets not processed because the run timed out.
    pub skipped: u64,
    /// Total size of the processed assets.
    pub bytes_in: u64,
    /// Total size of their `.gz` files.
    pub bytes_out: u64,
    /// True when the timeout stopped the run before every asset was processed.
    pub timed_out: bool,
    /// Wall time of the run, selection included (seconds in JSON).
    #[serde(serialize_with = "as_seconds")]
    pub elapsed: Duration,
}

impl Report {
    /// Assets processed: compressed, copied from the cache or up to date.
    pub fn done(&self) -> u64 {
        self.compressed + self.from_cache + self.up_to_date
    }
}

fn as_seconds<S: Serializer>(d: &Duration, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// Gzips the assets in `dir` (see [`mod@super::select`] for which) into `NAME.gz` files next to them.
///
/// `bars` gets one byte counter, sized once selection is done and advanced as each asset is done.
/// Stops at the first error, which names the file; the `.gz` files written until then are complete.
pub fn compress_static(
    dir: &Path,
    options: &CompressOptions,
    cache: &dyn GzCache,
    bars: &dyn ProgressBars,
) -> Result<Report> {
    run(dir, options, cache, None, bars)
}

/// [`compress_static`], taking the `.gz` of an asset that has none from the stash `reuse` (see
/// [`super::reuse`]) before writing one; a `.gz` taken back is checked like one in place.
pub fn compress_static_reusing(
    dir: &Path,
    options: &CompressOptions,
    cache: &dyn GzCache,
    reuse: &Path,
    bars: &dyn ProgressBars,
) -> Result<Report> {
    run(dir, options, cache, Some(reuse), bars)
}

fn run(
    dir: &Path,
    options: &CompressOptions,
    cache: &dyn GzCache,
    reuse: Option<&Path>,
    bars: &dyn ProgressBars,
) -> Result<Report> {
    let start = Instant::now();
    let started = SystemTime::now();
    let level = options.level;
    if level.is_disabled() {
        return Ok(Report {
            level,
            elapsed: start.elapsed(),
            ..Report::default()
        });
    }
    let deadline = options.timeout.map(|t| start + t);
    let assets = select(dir)?;
    let bar = bars.bytes("gzip");
    bar.set_length(assets.iter().map(|a| a.len).sum());

    let tally = Tally::default();
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let timed_out = AtomicBool::new(false);
    let first_error = Mutex::new(None);
    let inflight = GzInFlight::default();
    let before = cache.seen(dir)?.unwrap_or_default();
    let level_byte = level.get() as u8;
    let recorded = Mutex::new(Seen::new(level_byte, started));
    let worker = || {
        while !stop.load(Ordering::Relaxed) {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                timed_out.store(true, Ordering::Relaxed);
                break;
            }
            let Some(asset) = assets.get(next.fetch_add(1, Ordering::Relaxed)) else {
                break;
            };
            let rel = relative(dir, &asset.path);
            let trusted = before.trusted_gz(rel, &asset.key, level_byte);
            let work = Work {
                level,
                cache,
                inflight: &inflight,
                reuse: reuse.map(|stash| (stash, rel)),
            };
            match process(asset, trusted, &work) {
                Ok((done, pair)) => {
                    tally.add(&done);
                    bar.inc(asset.len);
                    lock(&recorded).insert(rel.to_vec(), pair);
                }
                Err(e) => {
                    stop.store(true, Ordering::Relaxed);
                    first_error
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .get_or_insert(e);
                }
            }
        }
    };
    rayon::scope(|s| {
        for _ in 0..rayon::current_num_threads() {
            s.spawn(|_| worker());
        }
    });
    bar.finish();
    if let Some(e) = first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    cache.keep_seen(
        dir,
        &recorded.into_inner().unwrap_or_else(|p| p.into_inner()),
    )?;

    let mut report = tally.into_report(level);
    report.selected = assets.len() as u64;
    report.skipped = report.selected - report.done();
    report.timed_out = timed_out.load(Ordering::Relaxed) && report.skipped > 0;
    report.elapsed = start.elapsed();
    Ok(report)
}

/// What happened to one asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Compressed,
    FromCache,
    UpToDate,
}

struct Done {
    outcome: Outcome,
    /// The asset was read (not known unchanged from the last run).
    read: bool,
    bytes_in: u64,
    bytes_out: u64,
}

/// Counters shared by the workers.
#[derive(Default)]
struct Tally {
    compressed: AtomicU64,
    from_cache: AtomicU64,
    up_to_date: AtomicU64,
    read: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
}

impl Tally {
    fn add(&self, done: &Done) {
        let counter = match done.outcome {
            Outcome::Compressed => &self.compressed,
            Outcome::FromCache => &self.from_cache,
            Outcome::UpToDate => &self.up_to_date,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        self.read.fetch_add(u64::from(done.read), Ordering::Relaxed);
        self.bytes_in.fetch_add(done.bytes_in, Ordering::Relaxed);
        self.bytes_out.fetch_add(done.bytes_out, Ordering::Relaxed);
    }

    fn into_report(self, level: Level) -> Report {
        Report {
            level,
            compressed: self.compressed.into_inner(),
            from_cache: self.from_cache.into_inner(),
            up_to_date: self.up_to_date.into_inner(),
            read: self.read.into_inner(),
            bytes_in: self.bytes_in.into_inner(),
            bytes_out: self.bytes_out.into_inner(),
            ..Report::default()
        }
    }
}

/// Gzip forms being produced, shared by the workers of one run.
type GzInFlight = InFlight<ObjectId, (Arc<[u8]>, Outcome)>;

/// What a worker needs besides the asset: the level, the cache, the gzip forms in flight, and the
/// stash to take a missing `.gz` back from, with the asset's path relative to the directory.
struct Work<'a> {
    level: Level,
    cache: &'a dyn GzCache,
    inflight: &'a GzInFlight,
    reuse: Option<(&'a Path, &'a [u8])>,
}

/// Brings `asset`'s `.gz` up to date, and returns what was done with the keys to record. `trusted` is
/// the `.gz` key the last run recorded for the asset, when the asset is unchanged since: if the `.gz`
/// still has it, neither file is opened.
fn process(asset: &Asset, trusted: Option<StatKey>, work: &Work<'_>) -> Result<(Done, Pair)> {
    let (level, cache, inflight) = (work.level, work.cache, work.inflight);
    let gz_path = gz_path_of(&asset.path);
    if let Some(gz_key) = trusted.filter(|k| asset.gz == Some(*k)) {
        let done = Done {
            outcome: Outcome::UpToDate,
            read: false,
            bytes_in: asset.len,
            bytes_out: gz_key.size(),
        };
        return Ok((
            done,
            Pair {
                asset: asset.key,
                gz: gz_key,
            },
        ));
    }
    let (data, attrs) = read_asset(&asset.path)?;
    let id = ObjectId::hash(&data);
    let ((gz, outcome), here) = inflight.get_or_produce(&id, || {
        match cache
            .get(&id, level)?
            .filter(|gz| gzip::is_member_of(gz, &data))
        {
            Some(gz) => Ok((Arc::from(gz), Outcome::FromCache)),
            None => {
                let gz = gzip::encode(&data, level);
                cache.put(&id, level, &gz)?;
                Ok((Arc::from(gz), Outcome::Compressed))
            }
        }
    })?;
    // A copy of an asset another worker has just compressed did not compress anything itself.
    let mut outcome = if here { outcome } else { Outcome::FromCache };
    let mut in_place = asset.gz.is_some();
    if let (false, Some((stash, rel))) = (in_place, work.reuse) {
        in_place = super::reuse::take(stash, &gz_rel(rel), &gz_path)?;
    }
    if in_place && has_bytes(&gz_path, &gz)? {
        if outcome == Outcome::FromCache {
            outcome = Outcome::UpToDate;
        }
    } else {
        write_atomic(&gz_path, &gz, attrs)?;
    }
    let gz_key = StatKey::of(&fs::symlink_metadata(&gz_path).at(&gz_path)?);
    let done = Done {
        outcome,
        read: true,
        bytes_in: data.len() as u64,
        bytes_out: gz.len() as u64,
    };
    Ok((
        done,
        Pair {
            asset: asset.key,
            gz: gz_key,
        },
    ))
}

/// `path` relative to `dir` (which the selection joined it to), as bytes.
fn relative<'a>(dir: &Path, path: &'a Path) -> &'a [u8] {
    path.strip_prefix(dir)
        .unwrap_or(path)
        .as_os_str()
        .as_encoded_bytes()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The asset's bytes, and the attributes its `.gz` gets.
fn read_asset(path: &Path) -> Result<(Vec<u8>, Attrs)> {
    let Some((data, meta)) = read_regular(path)? else {
        return Err(Error::ChangedDuringRun(path.to_path_buf()));
    };
    let attrs = Attrs {
        mode: meta.permissions().mode() & 0o777,
        modified: meta.modified().ok(),
    };
    Ok((data, attrs))
}

/// `path` with `.gz` appended to its name, whatever bytes the name holds.
pub fn gz_path_of(path: &Path) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(".gz");
    PathBuf::from(name)
}

/// The `.gz` of the asset at `rel`, relative like it.
fn gz_rel(rel: &[u8]) -> Vec<u8> {
    [rel, b".gz"].concat()
}

/// True when `path` is a regular file holding exactly `expected`.
fn has_bytes(path: &Path, expected: &[u8]) -> Result<bool> {
    match open_regular(path)? {
        Some((file, meta)) if meta.len() == expected.len() as u64 => {
            let mut bytes = Vec::with_capacity(expected.len());
            file.take(u64::MAX).read_to_end(&mut bytes).at(path)?;
            Ok(bytes == expected)
        }
        _ => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gz_path_appends_to_non_utf8_names() {
        use std::os::unix::ffi::OsStrExt;
        let p = Path::new(std::ffi::OsStr::from_bytes(b"d/\xffa.js"));
        assert_eq!(gz_path_of(p).as_os_str().as_bytes(), b"d/\xffa.js.gz");
    }
}
