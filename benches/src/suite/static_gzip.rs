//! Static gzip: compressing the deployed assets of `pub/static`, as every Magento Cloud build does.
//!
//! The platform shells out to `find | xargs -P16 gzip`; it refuses to overwrite an existing `.gz`, so
//! every contender gets a fresh copy of the directory before each run (copied outside the clock).
//! `pigz` is fed the same selection and parallelises within each file. slugstore runs three times:
//!
//! - cold: an empty cache of compressed assets, on a fresh copy;
//! - warm: the directory a first run left (assets and `.gz` files), with 1 % of the assets changed
//!   since, as an incremental build or a deploy-phase rerun sees it. The platform's command has to
//!   redo every file there (`gzip -f`: without it, the stale `.gz` of a changed asset is kept);
//! - warm cache on a fresh copy: the cache a cold run left, on a fresh copy of the changed assets
//!   (a build that starts from a clean checkout). Nothing is compressed, but every `.gz` is still a
//!   new file, so the cost of creating files bounds it; it has no target. The platform's command is
//!   timed on the same fresh copy.

use std::path::{Path, PathBuf};
use std::process::Command;

use slugstore::Result;

use super::backends::slug_command;
use super::exec::{quote, remove_tree, run, shell};
use super::results::Row;
use super::targets::{Figure, Goal, Target};
use super::timing::{short_runs, timed, Timed};
use super::tools::{missing, Requirement};
use super::Env;
use crate::churn::{churn, Scope};
use crate::plan::STATIC_DIR;
use crate::rng::derive;
use crate::walk::walk;

/// Scenario name: slugstore with an empty cache, against the platform's command and pigz.
pub const COLD: &str = "static gzip (cold)";
/// Scenario name: a rerun on the directory a first run left, with 1 % of its assets changed since.
pub const WARM: &str = "static gzip (warm, 1% of assets changed)";
/// Scenario name: slugstore with the cold run's cache, on a fresh copy of the assets, 1 % changed.
pub const FRESH: &str = "static gzip (warm cache, fresh copy, 1% changed)";
/// The platform's command.
pub const PLATFORM: &str = "find + xargs gzip";
/// pigz over the same selection.
pub const PIGZ: &str = "pigz";
/// slugstore's `compress-static`.
pub const SLUG: &str = "slugstore";

/// The goals of the scenario (issue: static content compression).
pub const TARGETS: &[Target] = &[
    Target {
        subject: Figure::wall(COLD, SLUG),
        goal: Goal::FasterThan(Figure::wall(COLD, PLATFORM), 1.5),
    },
    Target {
        subject: Figure::wall(WARM, SLUG),
        goal: Goal::FasterThan(Figure::wall(WARM, PLATFORM), 20.0),
    },
];

/// The platform's selection below `dir`: NUL-separated names of the files to compress.
fn select(dir: &Path) -> String {
    format!(
        "find {} -type f -size +300c \\( -name '*.js' -o -name '*.css' -o -name '*.svg' \
         -o -name '*.html' -o -name '*.htm' \\) -not -path '*/DELETING_*' -print0",
        quote(dir)
    )
}

/// Number of `.gz` files below `dir`, so a contender that compressed less cannot pass for faster.
fn count_gz(dir: &Path) -> Result<f64> {
    let n = walk(dir)?
        .iter()
        .filter(|e| e.meta.is_file() && e.rel.extension().is_some_and(|x| x == "gz"))
        .count();
    Ok(n as f64)
}

/// Replaces `dst` with a full copy (`cp -a`, no hard links: the tools write next to the files) of `src`.
fn copy(src: &Path, dst: &Path) -> Result<()> {
    remove_tree(dst)?;
    run(Command::new("cp").arg("-a").arg(src).arg(dst)).map(drop)
}

/// Scratch paths of the scenario.
struct Dirs {
    /// The build's assets.
    base: PathBuf,
    /// The next build's assets (1 % changed).
    churned: PathBuf,
    /// The assets `churned` changes, with their contents there (`None`: deleted).
    changes: Vec<(PathBuf, Option<PathBuf>)>,
    /// The copy each run works on.
    work: PathBuf,
    /// slugstore's cache of compressed assets.
    cache: PathBuf,
    /// The cache as the last cold run left it.
    cold_cache: PathBuf,
}

/// Records what the last run of `t` left in the work copy, and slugstore's own counts.
fn finish(mut t: Timed, d: &Dirs) -> Result<Row> {
    if t.ok() {
        t.figure("gz_files", count_gz(&d.work)?);
    }
    t.json_figure("compressed", "/compressed");
    t.json_figure("from_cache", "/from_cache");
    Ok(t.row)
}

/// Measures the platform's command, pigz and slugstore cold and warm.
pub fn measure(env: &Env, skipped: &mut Vec<String>) -> Result<Vec<Row>> {
    let root = env.ws.root.join("static-gzip");
    remove_tree(&root)?;
    let mut d = Dirs {
        base: env.ws.base.join(STATIC_DIR),
        churned: root.join("next").join(STATIC_DIR),
        changes: Vec::new(),
        work: root.join("work"),
        cache: root.join("gz-cache"),
        cold_cache: root.join("gz-cache-cold"),
    };
    let parent = d.churned.parent().expect("has a parent");
    std::fs::create_dir_all(parent).map_err(|e| slugstore::Error::io(parent, e))?;
    run(Command::new("cp").arg("-al").arg(&d.base).arg(&d.churned))?;
    let churned = churn(
        &root.join("next"),
        1.0,
        derive(env.seed, 0x57a7),
        Scope::Static,
    )?;
    eprintln!(
        "  static assets for the warm run: {} of {} changed",
        churned.changed(),
        churned.considered
    );
    d.changes = changes(&d.base, &d.churned)?;

    let platform = format!(
        "{} | xargs -0 -n100 -P16 gzip -q --keep -6",
        select(&d.work)
    );
    let pigz = format!("{} | xargs -0 -r pigz -q --keep -6", select(&d.work));
    let gzip_reqs = vec![
        Requirement::apt("find", "findutils"),
        Requirement::apt("gzip", "gzip"),
        Requirement::apt("bash", "bash"),
    ];
    let pigz_reqs = vec![Requirement::apt("pigz", "pigz")];
    let shell_tools = [
        (COLD, PLATFORM, &d.base, &platform, &gzip_reqs),
        (COLD, PIGZ, &d.base, &pigz, &pigz_reqs),
        (FRESH, PLATFORM, &d.churned, &platform, &gzip_reqs),
    ];
    let mut out = Vec::new();
    for (scenario, tool, from, script, reqs) in shell_tools {
        if let Some(msg) = missing(reqs) {
            eprintln!("{msg}");
            skipped.push(format!("{scenario}: {msg}"));
            continue;
        }
        let t = timed(
            scenario,
            tool,
            env.runs,
            |_| copy(from, &d.work),
            |_| shell(script),
        );
        out.push(finish(t, &d)?);
    }
    if missing(&gzip_reqs).is_none() {
        // The platform's rerun: the first run's output, changed assets, every file redone.
        let again = format!(
            "{} | xargs -0 -n100 -P16 gzip -q -f --keep -6",
            select(&d.work)
        );
        // As many runs as slugstore's warm run gets (it is short, see `short_runs`), so both
        // medians are taken over the same number of runs.
        let t = timed(
            WARM,
            PLATFORM,
            short_runs(env.runs),
            |_| rerun_setup(&d, || run(&mut shell(&platform)).map(drop)),
            |_| shell(&again),
        );
        out.push(finish(t, &d)?);
    }
    match &env.slug {
        Some(bin) => out.extend(measure_slug(env, bin, &d)?),
        None => skipped.push(format!("{COLD}: slugstore not measured (no slug binary)")),
    }
    remove_tree(&root)?;
    Ok(out)
}

/// slugstore cold (empty cache), then warm (the cache of the last cold run, changed assets).
fn measure_slug(env: &Env, bin: &Path, d: &Dirs) -> Result<Vec<Row>> {
    let command = |_| {
        let mut c = slug_command(bin, &env.ws.store_dir("static-gzip"));
        c.arg("--json")
            .arg("compress-static")
            .arg(&d.work)
            .args(["--level", "6", "--gz-cache"])
            .arg(&d.cache);
        c
    };
    let cold = timed(
        COLD,
        SLUG,
        env.runs,
        |_| {
            remove_tree(&d.cache)?;
            copy(&d.base, &d.work)
        },
        command,
    );
    let cold_ok = cold.ok();
    let mut rows = vec![finish(cold, d)?];
    if cold_ok {
        // Every warm run starts from the same cache: the one a single cold build leaves.
        copy(&d.cache, &d.cold_cache)?;
        let warm = timed(
            WARM,
            SLUG,
            short_runs(env.runs),
            |_| {
                remove_tree(&d.cache)?;
                rerun_setup(d, || run(&mut command(0)).map(drop))
            },
            command,
        );
        rows.push(finish(warm, d)?);
        let fresh = timed(
            FRESH,
            SLUG,
            env.runs,
            |_| {
                copy(&d.cold_cache, &d.cache)?;
                copy(&d.churned, &d.work)
            },
            command,
        );
        rows.push(finish(fresh, d)?);
    }
    Ok(rows)
}

/// Leaves in the work copy what a first run of a tool (`first_run`) made of the assets, then changes
/// 1 % of them as the next build does (new files, so new inodes). Waits before the first run so that
/// every file predates it by more than slugstore's racy margin, as files of an earlier build do.
fn rerun_setup(d: &Dirs, first_run: impl FnOnce() -> Result<()>) -> Result<()> {
    copy(&d.base, &d.work)?;
    std::thread::sleep(SETTLE);
    first_run()?;
    for (rel, from) in &d.changes {
        let dest = d.work.join(rel);
        let _ = std::fs::remove_file(&dest);
        if let Some(from) = from {
            std::fs::copy(from, &dest).map_err(|e| slugstore::Error::io(&dest, e))?;
        }
    }
    std::thread::sleep(SETTLE);
    Ok(())
}

/// Longer than slugstore's racy margin ([`slugstore::compress::seen::RACY_MARGIN`]).
const SETTLE: std::time::Duration = std::time::Duration::from_millis(100);

/// The files that differ between `base` and `churned`: (relative path, the file in `churned`, `None`
/// when it was deleted there).
fn changes(base: &Path, churned: &Path) -> Result<Vec<(PathBuf, Option<PathBuf>)>> {
    let read = |p: &Path| std::fs::read(p).map_err(|e| slugstore::Error::io(p, e));
    let mut out = Vec::new();
    let new_files = walk(churned)?;
    for e in new_files.iter().filter(|e| e.meta.is_file()) {
        let (old, new) = (base.join(&e.rel), churned.join(&e.rel));
        if !old.is_file() || read(&old)? != read(&new)? {
            out.push((e.rel.clone(), Some(new)));
        }
    }
    for e in walk(base)?.iter().filter(|e| e.meta.is_file()) {
        if !churned.join(&e.rel).exists() {
            out.push((e.rel.clone(), None));
        }
    }
    Ok(out)
}
