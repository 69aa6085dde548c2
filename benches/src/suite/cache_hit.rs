//! The build cache's hits: a vendor-shaped output restored into an empty directory, the same hit on
//! outputs already in place, and a hit from a remote on a fresh store.
//!
//! The output is vendor-shaped: the first [`VENDOR_FILES`] files of the tree (without its mounts, in
//! path order, scaled with the tree's size: 50,000 at full size, as in a real Magento `vendor/`),
//! hard-linked at their paths into one directory outside the clock, and produced by a step whose
//! command copies it (`cp -a`), so the entry holds exactly that directory. Three measurements:
//! - a **cold hit**: `vendor/` removed before each run (outside the clock), then `slug cache run`
//!   restores it; beside it `tar -x` of a zstd tarball of the same directory (`zstd -dc | tar -x`,
//!   what the CI caches of the usual CI services do), made beforehand; the two tools' runs
//!   interleaved, since each run deletes and creates tens of thousands of files;
//! - a **warm hit**: the same command with the outputs in place and equal (a stat pass), reported
//!   as seconds per 10,000 files (`s_per_10k_files`);
//! - a **remote hit**: a fresh store with the file:// remote the entry was pushed to (signed, the
//!   writer's key trusted); `bytes_ratio` is the bytes the hit fetched (record and pack bytes, from
//!   the run's report) over the compressed size of the entry's objects (the remote's pack files,
//!   which hold only this entry).

use std::fs;
use std::path::Path;
use std::process::Command;

use slugstore::error::IoResultExt;
use slugstore::Result;

use super::backends::slug_command;
use super::exec::{quote, remove_tree, run, shell};
use super::results::Row;
use super::targets::{Figure, Goal, Target};
use super::timing::{interleaved, short_runs, timed, Contender};
use super::two_builds::slug_with;
use super::{slug_part, Env};

/// Scenario name: a hit restoring the output into an empty directory.
pub const COLD: &str = "cache hit (vendor/, empty dir)";
/// Scenario name: a hit with the output in place.
pub const WARM: &str = "cache hit (vendor/, in place)";
/// Scenario name: a hit from a remote on a fresh store.
pub const REMOTE: &str = "cache hit (remote, fresh store)";
/// slugstore.
pub const SLUG: &str = "slugstore";
/// Extraction of a zstd tarball of the output.
pub const TAR: &str = "zstd -dc | tar -x";

/// The goals of the scenario (issue #27).
pub const TARGETS: &[Target] = &[
    Target {
        subject: Figure::wall(COLD, SLUG),
        goal: Goal::FractionOf(Figure::wall(COLD, TAR), 1.0),
    },
    Target {
        subject: Figure {
            scenario: WARM,
            tool: SLUG,
            figure: Some("s_per_10k_files"),
        },
        goal: Goal::Below(0.1, "s per 10k files"),
    },
    Target {
        subject: Figure {
            scenario: REMOTE,
            tool: SLUG,
            figure: Some("bytes_ratio"),
        },
        goal: Goal::Below(1.05, "x"),
    },
];

/// The step every run repeats (same argv, same inputs, so the same key), with the options `extra`.
fn step(bin: &Path, store: &Path, work: &Path, vendor: &Path, extra: &[&str]) -> Command {
    let mut c = slug_command(bin, store);
    c.current_dir(work)
        .args([
            "--json",
            "cache",
            "run",
            "vendor",
            "--file",
            "composer.lock",
        ])
        .args(extra)
        .args(["--output", "vendor", "--", "cp", "-a"])
        .arg(vendor)
        .arg("vendor");
    c
}

/// Measures the cold, warm and remote hits, and `tar -x` of a zstd tarball.
pub fn measure(env: &Env, skipped: &mut Vec<String>) -> Result<Vec<Row>> {
    let Some(bin) = slug_with(env, "cache-hit", "cache", skipped) else {
        return Ok(Vec::new());
    };
    let root = env.ws.root.join("cache-hit");
    remove_tree(&root)?;
    let vendor = vendor_shaped(env, &root.join("vendor-src"))?;
    let (store, work, remote) = (root.join("store"), root.join("work"), root.join("remote"));
    fs::create_dir_all(&work).at(&work)?;
    fs::write(work.join("composer.lock"), "{}\n").at(&work)?;
    let slug = |args: &[&str]| {
        let mut c = slug_command(bin, &store);
        c.args(args);
        c
    };
    run(&mut slug(&["init"]))?;
    let url = format!("file://{}", remote.display());
    run(&mut slug(&["remote", "add", "shared", &url]))?;
    let key = root.join("writer.key");
    let public = run(&mut slug(&["cache", "keygen", &key.to_string_lossy()]))?.stdout;
    let key_arg = key.to_string_lossy();
    let mut record = step(
        bin,
        &store,
        &work,
        &vendor,
        &["--remote", "shared", "--signing-key", &key_arg],
    );
    let recorded: serde_json::Value =
        serde_json::from_str(run(&mut record)?.stdout.trim()).unwrap_or_default();
    let files = recorded["files"].as_f64().unwrap_or(0.0);

    let mut rows = Vec::new();
    let (tarball, untarred) = (root.join("vendor.tar.zst"), root.join("untarred"));
    make_tarball(&vendor, &tarball)?;
    let untar = format!(
        "zstd -dc {} | tar -xf - -C {}",
        quote(&tarball),
        quote(&untarred)
    );
    let contenders = vec![
        Contender::new(
            SLUG,
            |_| remove_tree(&work.join("vendor")),
            |_| step(bin, &store, &work, &vendor, &[]),
        ),
        Contender::new(
            TAR,
            |_| {
                remove_tree(&untarred)?;
                fs::create_dir(&untarred).at(&untarred)
            },
            |_| shell(&untar),
        ),
    ];
    let mut cold = interleaved(COLD, env.runs, contenders).into_iter();
    let (mut slug_cold, tar_cold) = (cold.next().expect("slug"), cold.next().expect("tar"));
    slug_cold.figure("files", files);
    rows.push(slug_cold.row);
    rows.push(tar_cold.row);
    remove_tree(&untarred)?;
    let mut warm = timed(
        WARM,
        SLUG,
        short_runs(env.runs),
        |_| Ok(()),
        |_| step(bin, &store, &work, &vendor, &[]),
    );
    if let Some(s) = warm.row.median_wall().filter(|_| files > 0.0) {
        warm.figure("s_per_10k_files", s / (files / 1e4));
    }
    warm.figure("files", files);
    rows.push(warm.row);

    let (fresh, work2) = (root.join("fresh"), root.join("work2"));
    let packs = pack_bytes(&remote.join("packs"))?;
    let prepare_fresh = |_| -> Result<()> {
        remove_tree(&fresh)?;
        remove_tree(&work2)?;
        fs::create_dir_all(&work2).at(&work2)?;
        fs::write(work2.join("composer.lock"), "{}\n").at(&work2)?;
        let s = |args: &[&str]| {
            let mut c = slug_command(bin, &fresh);
            c.args(args);
            c
        };
        run(&mut s(&["init"]))?;
        run(&mut s(&["remote", "add", "shared", &url]))?;
        run(&mut s(&["cache", "trust", public.trim()])).map(drop)
    };
    let mut hit = timed(REMOTE, SLUG, env.runs, prepare_fresh, |_| {
        step(bin, &fresh, &work2, &vendor, &["--remote", "shared"])
    });
    hit.json_figure("fetched_bytes", "/fetched_bytes");
    if let Some(f) = hit.row.figures.get("fetched_bytes").copied() {
        hit.figure("entry_pack_bytes", packs as f64);
        hit.figure("bytes_ratio", f / packs.max(1) as f64);
    }
    rows.push(hit.row);
    remove_tree(&root)?;
    Ok(rows)
}

/// Files of the vendor-shaped output at full size.
pub const VENDOR_FILES: f64 = 50_000.0;

/// Hard-links the first [`VENDOR_FILES`] files (scaled by the tree's size) of the tree without its
/// mounts, in path order, at their relative paths under `dest/vendor`; returns that directory.
fn vendor_shaped(env: &Env, dest: &Path) -> Result<std::path::PathBuf> {
    let tree = slug_part(env.ws)?;
    let want = (VENDOR_FILES * env.size.factor()).round() as usize;
    let vendor = dest.join("vendor");
    let mut taken = 0;
    for e in crate::walk::walk(&tree)? {
        if taken == want {
            break;
        }
        if !e.meta.is_file() {
            continue;
        }
        let to = vendor.join(&e.rel);
        let parent = to.parent().expect("under vendor");
        fs::create_dir_all(parent).at(parent)?;
        fs::hard_link(tree.join(&e.rel), &to).at(&to)?;
        taken += 1;
    }
    Ok(vendor)
}

/// A zstd tarball (level 3, two threads) of the directory `vendor`, as a CI cache would keep it.
fn make_tarball(vendor: &Path, tarball: &Path) -> Result<()> {
    let parent = vendor.parent().expect("vendor is in a directory");
    run(&mut shell(&format!(
        "tar -C {} -cf - vendor | zstd -q -3 -T2 -o {}",
        quote(parent),
        quote(tarball)
    )))
    .map(drop)
}

/// Total size of the pack files in `dir`.
fn pack_bytes(dir: &Path) -> Result<u64> {
    let mut total = 0;
    for e in fs::read_dir(dir).at(dir)? {
        let e = e.at(dir)?;
        if e.path().extension().is_some_and(|x| x == "pack") {
            total += e.metadata().at(e.path())?.len();
        }
    }
    Ok(total)
}
