//! Static gzip: compressing the deployed assets of `pub/static`, as every Magento Cloud build does.
//!
//! The platform shells out to `find | xargs -P16 gzip`; it refuses to overwrite an existing `.gz`, so
//! every contender gets a fresh copy of the directory before each run (copied outside the clock).
//! `pigz` is fed the same selection and parallelises within each file. slugstore runs twice: cold (an
//! empty cache of compressed assets) and warm (the cache the cold run left, on a fresh copy of the
//! assets with 1 % of them changed, as the next build would see). The platform's command is timed on
//! that changed copy too: it has no cache, so this is what it costs on every build.

use std::path::{Path, PathBuf};
use std::process::Command;

use slugstore::Result;

use super::backends::slug_command;
use super::exec::{quote, remove_tree, run, shell};
use super::results::Row;
use super::targets::{Figure, Goal, Target};
use super::timing::{timed, Timed};
use super::tools::{missing, Requirement};
use super::Env;
use crate::churn::{churn, Scope};
use crate::plan::STATIC_DIR;
use crate::rng::derive;
use crate::walk::walk;

/// Scenario name: slugstore with an empty cache, against the platform's command and pigz.
pub const COLD: &str = "static gzip (cold)";
/// Scenario name: slugstore with the cold run's cache, on assets 1 % changed.
pub const WARM: &str = "static gzip (warm, 1% of assets changed)";
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
    let d = Dirs {
        base: env.ws.base.join(STATIC_DIR),
        churned: root.join("next").join(STATIC_DIR),
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
        (WARM, PLATFORM, &d.churned, &platform, &gzip_reqs),
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
            env.runs,
            |_| {
                copy(&d.cold_cache, &d.cache)?;
                copy(&d.churned, &d.work)
            },
            command,
        );
        rows.push(finish(warm, d)?);
    }
    Ok(rows)
}
