//! Verify: re-hash stored objects and say which slugs and paths a damaged one breaks.
//!
//! The index is read through first, every block of it checked ([`Index::check`](crate::store::Index::check)):
//! every other check reads it. Every object is decoded and hashed again; every slug's manifest is decoded and each object it names
//! must be indexed. A bad object is reported with every `(slug, path)` that needs it, which is what an
//! operator needs to decide between re-pushing a build and restoring from a remote; [`repair()`] does the
//! latter.

pub mod marks;
pub mod repair;

pub use marks::{damage_to_record, record_damage};
pub use repair::{repair, repair_from, RepairReport, RepairSource};

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use rayon::prelude::*;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::id::{ObjectId, SlugId};
use crate::progress::ProgressBars;
use crate::slug::EntryKind;
use crate::store::{Location, Store};

/// How much to verify.
#[derive(Debug, Clone, Default, Serialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct VerifyOptions {
    /// Check only about this percentage of objects (chosen at random), e.g. `10`.
    #[cfg_attr(feature = "clap", arg(long, value_name = "PERCENT"))]
    pub sample: Option<f64>,
    /// Stop checking objects after this many seconds; the report says how far it got.
    #[cfg_attr(feature = "clap", arg(long, value_name = "SECONDS"))]
    pub max_duration: Option<f64>,
}

/// A damaged or missing object and what it breaks.
#[derive(Debug, Clone, Serialize)]
pub struct BadObject {
    /// The object.
    pub id: ObjectId,
    /// What is wrong.
    pub problem: String,
    /// `(slug, path)` pairs that need it; a slug's own manifest is listed with path `(manifest)`.
    pub used_by: Vec<(SlugId, String)>,
}

/// A pack file whose bytes no longer hash to its name.
#[derive(Debug, Clone, Serialize)]
pub struct BadPack {
    /// The pack.
    pub pack: ObjectId,
    /// What is wrong.
    pub problem: String,
}

/// The outcome of a verify.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    /// Objects in the index.
    pub objects_total: u64,
    /// Objects re-hashed.
    pub objects_checked: u64,
    /// Slugs whose manifests were checked.
    pub slugs_checked: u64,
    /// Damaged or missing objects.
    pub bad: Vec<BadObject>,
    /// Pack files checked whole (a full verify re-hashes every pack the index uses).
    pub packs_checked: u64,
    /// Damaged pack files, even where no object read is affected.
    pub bad_packs: Vec<BadPack>,
    /// Damage in the index's own files, one line per damaged column family naming the file. When
    /// the index is damaged nothing else is checked (every other check reads it).
    pub bad_index: Vec<String>,
    /// False when a sample or time bound left objects unchecked.
    pub complete: bool,
}

impl VerifyReport {
    /// True when nothing bad was found.
    pub fn ok(&self) -> bool {
        self.bad.is_empty() && self.bad_packs.is_empty() && self.bad_index.is_empty()
    }
}

/// Verifies the store.
pub fn verify(
    store: &Store,
    opts: &VerifyOptions,
    bars: &dyn ProgressBars,
) -> Result<VerifyReport> {
    let started = Instant::now();
    let deadline = opts
        .max_duration
        .and_then(|s| Duration::try_from_secs_f64(s.max(0.0)).ok())
        .and_then(|d| started.checked_add(d));
    let bad_index = store.index().check();
    if !bad_index.is_empty() {
        return Ok(VerifyReport {
            objects_total: 0,
            objects_checked: 0,
            slugs_checked: 0,
            bad: Vec::new(),
            packs_checked: 0,
            bad_packs: Vec::new(),
            bad_index,
            complete: false,
        });
    }
    let mut all: Vec<_> = store.index().objects().collect::<Result<_>>()?;
    let total = all.len() as u64;
    if let Some(p) = opts.sample {
        // Deterministic per run, different across runs: keep ids whose hash with a per-run salt is low.
        let salt = crate::slug::now_secs().to_le_bytes();
        let keep = (p.clamp(0.0, 100.0) / 100.0 * u64::MAX as f64) as u64;
        all.retain(|(id, _)| {
            let h = blake3::keyed_hash(&[salt[0]; 32], id.as_bytes());
            u64::from_le_bytes(h.as_bytes()[..8].try_into().unwrap()) <= keep
        });
    }
    // Pack order reads each pack front to back.
    all.sort_by_key(|(_, loc)| (loc.pack, loc.offset));
    let bar = bars.counter("verifying");
    bar.set_length(all.len() as u64);
    let results: Vec<Option<(ObjectId, String)>> = all
        .par_iter()
        .map(|(id, _)| {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return None;
            }
            bar.inc(1);
            Some(match store.verify_object(id) {
                Ok(()) => (*id, String::new()),
                Err(e) => (*id, e.to_string()),
            })
        })
        .collect();
    bar.finish();
    let checked = results.iter().flatten().count() as u64;
    let (packs_checked, packs_total, bad_packs) = if opts.sample.is_none() {
        check_packs(store, &all, deadline)
    } else {
        (0, 0, Vec::new())
    };
    let mut problems: BTreeMap<ObjectId, String> = results
        .into_iter()
        .flatten()
        .filter(|(_, p)| !p.is_empty())
        .collect();

    // Manifests: each must decode, and name only indexed objects.
    let mut users: BTreeMap<ObjectId, BTreeSet<(SlugId, String)>> = BTreeMap::new();
    let slugs = store.slugs()?;
    for rec in &slugs {
        let manifest = match store.manifest(&rec.id) {
            Ok(m) => m,
            Err(e) => {
                problems
                    .entry(rec.id.object())
                    .or_insert_with(|| e.to_string());
                users
                    .entry(rec.id.object())
                    .or_default()
                    .insert((rec.id, "(manifest)".into()));
                continue;
            }
        };
        for e in manifest.entries() {
            if let EntryKind::File { id, .. } = &e.kind {
                if !problems.contains_key(id) && !store.index().has_object(id)? {
                    problems.insert(*id, Error::MissingObject(*id).to_string());
                }
                if problems.contains_key(id) {
                    users
                        .entry(*id)
                        .or_default()
                        .insert((rec.id, e.display_path().into_owned()));
                }
            }
        }
    }
    let bad = problems
        .into_iter()
        .map(|(id, problem)| BadObject {
            id,
            problem,
            used_by: users.remove(&id).unwrap_or_default().into_iter().collect(),
        })
        .collect();
    Ok(VerifyReport {
        objects_total: total,
        objects_checked: checked,
        slugs_checked: slugs.len() as u64,
        bad,
        packs_checked,
        bad_packs,
        bad_index,
        complete: checked == total && packs_checked == packs_total,
    })
}

/// Re-hashes every pack `objects` live in (they are sorted by pack), within the deadline. Returns the
/// packs checked, the packs there were, and the damaged ones.
fn check_packs(
    store: &Store,
    objects: &[(ObjectId, Location)],
    deadline: Option<Instant>,
) -> (u64, u64, Vec<BadPack>) {
    let mut packs: Vec<ObjectId> = objects.iter().map(|(_, loc)| loc.pack).collect();
    packs.dedup();
    let results: Vec<Option<BadPack>> = packs
        .iter()
        .take_while(|_| deadline.is_none_or(|d| Instant::now() < d))
        .map(|p| {
            store.check_pack(p).err().map(|e| BadPack {
                pack: *p,
                problem: e.to_string(),
            })
        })
        .collect();
    (
        results.len() as u64,
        packs.len() as u64,
        results.into_iter().flatten().collect(),
    )
}
