//! An environment's history: what went live on it, when and how.
//!
//! Nothing new is stored for it: the target already keeps a record of every deploy (`deploys/*.json`,
//! promotions included) and the history of its `current` switches (`state.json`, where rollbacks are
//! marked). The history merges the two, oldest first: each deploy once, with its outcome, and each
//! rollback.

use serde::Serialize;

use crate::environment::Environment;
use crate::error::Result;
use crate::status::PhaseState;
use crate::status::{list, load};
use slugstore::checkout::{SwitchKind, Target};
use slugstore::id::SlugId;
use slugstore::slug::format_time;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HistoryKind {
    /// A deploy of a directory or a git commit.
    Deploy,
    /// A promotion of a slug from elsewhere.
    Promote,
    /// A rollback to an earlier release.
    Rollback,
}

/// One line of an environment's history.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    /// When it started (RFC 3339 UTC).
    pub time: String,
    /// What happened.
    pub kind: HistoryKind,
    /// The slug deployed or rolled back to, once known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slug: Option<SlugId>,
    /// The deploy's id (deploys and promotions).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deploy: Option<String>,
    /// How the deploy ended (`success`, `failed`, `in_progress`); rollbacks always succeeded.
    pub state: PhaseState,
    /// What was deployed, or what a rollback left.
    pub detail: String,
}

/// The history of `env`, oldest first (empty for a target that was never deployed to).
pub fn history(env: &Environment) -> Result<Vec<HistoryEntry>> {
    let mut out = Vec::new();
    for id in list(&env.target)? {
        let r = load(&env.target, &id)?;
        let kind = if r.promoted_from.is_some() {
            HistoryKind::Promote
        } else {
            HistoryKind::Deploy
        };
        let mut detail = r.source.clone();
        if let Some(e) = &r.error {
            detail = format!("{detail}: {e}");
        }
        out.push(HistoryEntry {
            time: r.started,
            kind,
            slug: r.slug,
            deploy: Some(r.id),
            state: r.state,
            detail,
        });
    }
    if let Ok(target) = Target::existing(&env.target) {
        for a in target.state()?.activations {
            if a.kind != SwitchKind::Rollback {
                continue;
            }
            out.push(HistoryEntry {
                time: format_time(a.time),
                kind: HistoryKind::Rollback,
                slug: Some(a.slug),
                deploy: None,
                state: PhaseState::Success,
                detail: match a.previous {
                    Some(p) => format!("rolled back from {}", p.short(12)),
                    None => "rolled back".to_owned(),
                },
            });
        }
    }
    // Stable: a deploy and a rollback in the same second keep the order they were read in.
    out.sort_by(|a, b| a.time.cmp(&b.time));
    Ok(out)
}
