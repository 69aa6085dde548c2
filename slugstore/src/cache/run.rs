//! `slug cache run`: compute the key, restore on a hit, run and record on a miss.
//!
//! The store is open to compute the key (tree inputs go through the stat cache), look it up and
//! restore a hit, and again after the command to check the inputs and record; never while the
//! command runs. The per-key lock ([`super::lock`]) makes a concurrent run of the same key wait (with
//! the store closed, so the run holding the key can record) and then hit instead of running the
//! command a second time.
//!
//! A record is written only when the command exited 0, every declared output exists, and the
//! inputs hash the same after the run as before: a file edited while the step ran must not be cached
//! under the key of its old content.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::exec;
use super::inputs::{self, InputSpec, Workdir};
use super::key::KeyParts;
use super::lock::{lock_key, try_lock_key};
use super::outputs::{capture, check_outputs};
use super::record::{self, LastMiss, Record};
use super::restore::{remove_any, restore_outputs, Restored};
use crate::error::Result;
use crate::id::{ObjectId, SlugId};
use crate::store::Store;

/// What to run and what it depends on.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct RunOptions {
    /// The step's name (`composer`, `di`, `static`): entries of one name are what `explain` compares.
    #[cfg_attr(feature = "clap", arg(value_name = "NAME"))]
    pub name: String,
    /// The inputs.
    #[cfg_attr(feature = "clap", command(flatten))]
    pub inputs: InputSpec,
    /// A file or directory the step produces (relative to the working directory).
    #[cfg_attr(
        feature = "clap",
        arg(long = "output", value_name = "PATH", required = true)
    )]
    pub outputs: Vec<String>,
    /// The build root (default: the working directory); the working directory's place in it is
    /// part of the key, the root's absolute path is not.
    #[cfg_attr(
        feature = "clap",
        arg(long, env = "SLUG_CACHE_ROOT", value_name = "DIR")
    )]
    pub root: Option<PathBuf>,
    /// Look up misses in this remote of the store, and push new entries to it.
    #[cfg_attr(
        feature = "clap",
        arg(long, env = "SLUG_CACHE_REMOTE", value_name = "NAME")
    )]
    pub remote: Option<String>,
    /// The private key that signs entries pushed to the remote (`slug cache keygen`).
    #[cfg_attr(
        feature = "clap",
        arg(long = "signing-key", env = "SLUG_CACHE_KEY", value_name = "FILE")
    )]
    pub signing_key: Option<PathBuf>,
    /// The deploy's keep area, where an earlier build's outputs wait for this step (set by `slug
    /// deploy` for its build hook; see `slugstore::cache::keep`).
    #[cfg_attr(
        feature = "clap",
        arg(long, env = "SLUG_CACHE_KEEP", value_name = "DIR", hide = true)
    )]
    pub keep: Option<PathBuf>,
    /// Wait at most this many seconds for another run of the same key.
    #[cfg_attr(
        feature = "clap",
        arg(long, value_name = "SECONDS", default_value_t = 3600.0)
    )]
    pub wait: f64,
    /// The command and its arguments.
    #[cfg_attr(
        feature = "clap",
        arg(last = true, required = true, value_name = "COMMAND")
    )]
    pub command: Vec<String>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            name: String::new(),
            inputs: InputSpec::default(),
            outputs: Vec::new(),
            root: None,
            remote: None,
            signing_key: None,
            keep: None,
            wait: 3600.0,
            command: Vec::new(),
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The outputs were restored from a local entry.
    Hit,
    /// The outputs were restored from an entry fetched from the remote.
    RemoteHit,
    /// The command ran and its entry was recorded.
    Recorded,
    /// The command ran and succeeded, but nothing was recorded (see the notes).
    NotRecorded,
    /// The command failed: nothing was recorded.
    Failed,
}

/// What a run did.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// The step.
    pub name: String,
    /// Its key.
    pub key: ObjectId,
    /// How it ended.
    pub outcome: Outcome,
    /// The command's exit code when it ran (`None` when killed by a signal or not run).
    pub status: Option<i32>,
    /// The outputs' tree, when restored or recorded.
    pub slug: Option<SlugId>,
    /// Files in the outputs.
    pub files: u64,
    /// What a hit changed in place.
    pub restored: Option<Restored>,
    /// Whether the new entry was pushed to the remote.
    pub pushed: bool,
    /// Bytes downloaded from the remote on a remote hit (its record and the pack bytes of the
    /// objects the store lacked).
    pub fetched_bytes: u64,
    /// Why something was not done (remote entry rejected, inputs changed during the run).
    pub notes: Vec<String>,
    /// Wall time in seconds.
    pub seconds: f64,
}

impl RunReport {
    /// The exit code `slug cache run` ends with: the command's when it ran and failed.
    pub fn exit_code(&self) -> i32 {
        match self.outcome {
            Outcome::Failed => self.status.unwrap_or(1),
            _ => 0,
        }
    }
}

/// Where a run writes: the command's streams (and a hit's replay of them), and notes for people.
pub struct RunIo<'a> {
    /// Standard output of the step.
    pub out: &'a mut (dyn Write + Send),
    /// Standard error of the step.
    pub err: &'a mut (dyn Write + Send),
    /// A message for people (a remote entry rejected, a wait for another run).
    pub note: &'a dyn Fn(&str),
}

/// Runs the step `opts` with the store `open` opens (called each time the store is needed).
pub fn run(
    open: &dyn Fn() -> Result<Store>,
    opts: &RunOptions,
    io: &mut RunIo<'_>,
) -> Result<RunReport> {
    let started = Instant::now();
    let wd = Workdir::current(opts.root.as_deref())?;
    let outputs = check_outputs(&wd, &opts.outputs)?;
    let store = open()?;
    let parts = key_parts(&store, &wd, opts)?;
    let key = parts.key();
    let store_root = store.root().to_path_buf();
    // The store stays open unless another run holds the key: that run needs the store to record.
    let (_lock, store) = match try_lock_key(&store_root, &key)? {
        Some(lock) => (lock, store),
        None => {
            drop(store);
            // `inf` waits for ever, as long as the holder lives; NaN or below zero: not at all.
            let wait = Duration::try_from_secs_f64(opts.wait.max(0.0)).unwrap_or(Duration::MAX);
            let note = io.note;
            let lock = lock_key(&store_root, &opts.name, &key, wait, &|| {
                note(&format!(
                    "cache {}: waiting for another run of key {}",
                    opts.name,
                    key.short(12)
                ))
            })?;
            (lock, open()?)
        }
    };
    let mut report = RunReport {
        name: opts.name.clone(),
        key,
        outcome: Outcome::Failed,
        status: None,
        slug: None,
        files: 0,
        restored: None,
        pushed: false,
        fetched_bytes: 0,
        notes: Vec::new(),
        seconds: 0.0,
    };
    if let Some(keep) = &opts.keep {
        let rels: Vec<String> = outputs
            .iter()
            .map(|o| match wd.rel.as_str() {
                "" => o.clone(),
                at => format!("{at}/{o}"),
            })
            .collect();
        super::keep::claim(keep, &rels)?;
        super::keep::unpark(keep, &wd.root, &rels)?;
    }
    let mut found = record::get(&store, &key)?.map(|r| (r, Outcome::Hit));
    if found.is_none() {
        let at_ns = record::now_ns();
        record::put_miss(
            &store,
            &LastMiss {
                key,
                parts: parts.clone(),
                at_ns,
            },
        )?;
        if let Some(remote) = &opts.remote {
            found = super::remote::fetch(&store, remote, &key, &mut report.notes, io.note)?.map(
                |(r, bytes)| {
                    report.fetched_bytes = bytes;
                    (r, Outcome::RemoteHit)
                },
            );
        }
    }
    if let Some((rec, outcome)) = found {
        let restored = restore_outputs(&store, &wd, &rec)?;
        let (out, err) = rec.logs();
        let _ = io.out.write_all(&out).and_then(|_| io.out.flush());
        let _ = io.err.write_all(&err).and_then(|_| io.err.flush());
        report.outcome = outcome;
        report.slug = Some(rec.slug);
        report.files = rec.stats.files;
        report.restored = Some(restored);
        report.seconds = started.elapsed().as_secs_f64();
        return Ok(report);
    }
    drop(store);

    (io.note)(&format!("cache miss {} {}", opts.name, key.short(12)));
    for o in &outputs {
        remove_any(&wd.cwd.join(o))?;
    }
    let ran = exec::run(&opts.command, &wd.cwd, io.out, io.err)?;
    report.status = ran.status.code();
    if !ran.status.success() {
        report.seconds = started.elapsed().as_secs_f64();
        return Ok(report);
    }
    if ran.left_running {
        let msg = format!(
            "cache {}: the command exited, but processes it left running still hold its output and \
             may still write its outputs: not waiting for them, nothing recorded",
            opts.name
        );
        (io.note)(&msg);
        report.notes.push(msg);
        report.outcome = Outcome::NotRecorded;
        report.seconds = started.elapsed().as_secs_f64();
        return Ok(report);
    }
    let store = open()?;
    let after = key_parts(&store, &wd, opts)?;
    if after.key() != key {
        let changed = super::explain::compare(&parts, &after);
        let msg = format!(
            "cache {}: inputs changed while the step ran ({}): nothing recorded",
            opts.name,
            changed
                .iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        (io.note)(&msg);
        report.notes.push(msg);
        report.outcome = Outcome::NotRecorded;
        report.seconds = started.elapsed().as_secs_f64();
        return Ok(report);
    }
    let mut recorded = None;
    let slug = capture(&store, &wd, &opts.name, &outputs, |batch, slug, stats| {
        let rec = Record {
            key,
            parts: parts.clone(),
            outputs: outputs.clone(),
            slug,
            stats,
            stdout: Record::encode_log(&ran.stdout),
            stderr: Record::encode_log(&ran.stderr),
            created_ns: record::now_ns(),
            seconds: ran.seconds,
        };
        record::stage_put(batch, &rec);
        report.files = stats.files;
        recorded = Some(rec);
        Ok(())
    })?;
    report.outcome = Outcome::Recorded;
    report.slug = Some(slug);
    if let (Some(remote), Some(rec)) = (&opts.remote, &recorded) {
        report.pushed = super::remote::publish(
            &store,
            remote,
            rec,
            opts.signing_key.as_deref(),
            &mut report.notes,
            io.note,
        )?;
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// The key's parts for `opts` in `wd`, the inputs resolved now.
fn key_parts(store: &Store, wd: &Workdir, opts: &RunOptions) -> Result<KeyParts> {
    let inputs = inputs::resolve(store, wd, &opts.inputs)?;
    Ok(KeyParts::new(
        opts.name.clone(),
        opts.command.clone(),
        wd.rel.clone(),
        inputs,
    ))
}
