//! A deploy after a one-file change, end to end (validate to switch), with the build steps cached,
//! against `cp -al` of the tree in the same run.
//!
//! The project is the tree without its mounts, `vendor/` and `generated/` (hard-linked, outside the
//! clock), with the three Magento configuration files. Its build hook runs three cached steps that
//! produce what a Magento build produces, by copying it from the tree: `composer` (`vendor/`, keyed
//! on `composer.lock`), `di` (`generated/`, keyed on `app/` and `vendor/`) and `static`
//! (`pub/static`, keyed on `app/`, `vendor/` and `CONFIG__*`). A first deploy (outside the clock)
//! records the steps; each timed run then rewrites one file of `lib/` (outside the steps' inputs) and
//! deploys: the steps hit, the build directory
//! is synced, the slug phase rehashes only what changed, the release hard-links from its
//! predecessor. The phases' own times are kept as figures (`validate_s`, `build_s`, `slug_s`,
//! `release_s`, `deploy_s`, `post_deploy_s`: the switch, which flushes the new release) to say where
//! the time goes.
//!
//! The runs measure the steady state of a target deployed to again and again: before the clock,
//! [`WARM_UP_DEPLOYS`] more deploys (one edit each) fill the target up to its retention count, so that
//! every timed deploy also removes the oldest release. `slug deploy` leaves the deletion of that
//! release's files to a background process once the new release is live; each run's preparation waits
//! (at most [`TRASH_DEADLINE`]) until no `releases/.trash-*` is left, so that a deletion never overlaps
//! a measured run (or the `cp -al` runs). The deploys and the `cp -al` runs are interleaved.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use slugstore::checkout::target::TRASH_PREFIX;
use slugstore::checkout::DEFAULT_KEEP;
use slugstore::error::Error;

use slugstore::error::IoResultExt;
use slugstore::Result;

use super::backends::slug_command;
use super::exec::{remove_tree, run};
use super::results::Row;
use super::targets::{Figure, Goal, Target};
use super::timing::{interleaved, Contender};
use super::two_builds::slug_with;
use super::{slug_part, Env};

/// Scenario name.
pub const DEPLOY: &str = "deploy (one file changed, steps cached)";
/// slugstore.
pub const SLUG: &str = "slugstore";
/// Hard-linked copy of the tree.
pub const CP: &str = "cp -al";

/// The goal of the scenario (issue #27).
pub const TARGETS: &[Target] = &[Target {
    subject: Figure::wall(DEPLOY, SLUG),
    goal: Goal::FractionOf(Figure::wall(DEPLOY, CP), 1.0),
}];

/// Deploys after the first, outside the clock: one more than the releases retention keeps, so that
/// every timed deploy removes one.
pub const WARM_UP_DEPLOYS: usize = DEFAULT_KEEP + 1;

/// How long a run's preparation waits for the background deletion of the previous run's old release.
pub const TRASH_DEADLINE: Duration = Duration::from_secs(120);

/// The build outputs the steps make, as (step, output, where the copy comes from under the tree).
const OUTPUTS: &[(&str, &str, &str)] = &[
    ("composer", "vendor", "vendor"),
    ("di", "generated", "generated"),
    ("static", "pub/static", "pub/static"),
];

/// Measures the deploy and `cp -al` of the tree.
pub fn measure(env: &Env, skipped: &mut Vec<String>) -> Result<Vec<Row>> {
    let Some(bin) = slug_with(env, "deploy-cached", "deploy", skipped) else {
        return Ok(Vec::new());
    };
    let root = env.ws.root.join("deploy-cached");
    remove_tree(&root)?;
    fs::create_dir_all(&root).at(&root)?;
    let src = root.join("src");
    run(Command::new("cp")
        .arg("-al")
        .arg(slug_part(env.ws)?)
        .arg(&src))?;
    for (_, out, _) in OUTPUTS {
        remove_tree(&src.join(out))?;
    }
    write_project(&src, bin, &env.ws.base)?;
    // Outside every step's inputs: the steps hit.
    let edited = src.join("lib/edited-by-bench.php");
    replace(&edited, "<?php\n")?;
    let (store, target) = (root.join("store"), root.join("target"));
    let deploy = || {
        let mut c = slug_command(bin, &store);
        c.args(["--json", "deploy"])
            .arg(&src)
            .arg("--target")
            .arg(&target);
        c
    };
    run(slug_command(bin, &store).arg("init"))?;
    run(&mut deploy())?;
    for i in 0..WARM_UP_DEPLOYS {
        replace(&edited, &format!("<?php // warm-up {i}\n"))?;
        run(&mut deploy())?;
    }

    let copy = root.join("copy");
    let files = slug_part(env.ws)?;
    // Interleaved, and each run waits for the background deletion of the last deploy's old release:
    // a deletion or the last run's writeback never falls on one tool only.
    let contenders = vec![
        Contender::new(
            SLUG,
            |i| {
                wait_for_no_trash(&target)?;
                replace(&edited, &format!("<?php // edit {i}\n"))
            },
            |_| deploy(),
        ),
        Contender::new(
            CP,
            |_| {
                wait_for_no_trash(&target)?;
                remove_tree(&copy)
            },
            |_| {
                let mut c = Command::new("cp");
                c.arg("-al").arg(&files).arg(&copy);
                c
            },
        ),
    ];
    let mut rows = interleaved(DEPLOY, env.runs, contenders).into_iter();
    let (mut slug, cp) = (rows.next().expect("slug"), rows.next().expect("cp"));
    wait_for_no_trash(&target)?;
    // The record's phases, in order: validate, build, slug, release, deploy, post_deploy.
    for (i, phase) in [
        "validate",
        "build",
        "slug",
        "release",
        "deploy",
        "post_deploy",
    ]
    .iter()
    .enumerate()
    {
        slug.json_figure(&format!("{phase}_s"), &format!("/phases/{i}/seconds"));
    }
    remove_tree(&root)?;
    Ok(vec![slug.row, cp.row])
}

/// The configuration files, and `composer.lock`; the hook copies the outputs from `tree`.
fn write_project(src: &Path, bin: &Path, tree: &Path) -> Result<()> {
    let slug = bin.display();
    let from = |rel: &str| tree.join(rel).display().to_string();
    // A missing directory of the tree (a small tree may lack one) makes an empty output.
    let copy = r#"sh -c 'mkdir -p "$2" && { [ ! -d "$1" ] || cp -a "$1/." "$2/"; }' copy"#;
    let hook = format!(
        "    set -e\n\
         \x20   {slug} cache run composer --file composer.lock --output vendor -- {copy} '{}' vendor\n\
         \x20   {slug} cache run di --tree app --tree vendor --output generated -- {copy} '{}' generated\n\
         \x20   {slug} cache run static --tree app --tree vendor --env 'CONFIG__*' --output pub/static -- \
         {copy} '{}' pub/static\n",
        from(OUTPUTS[0].2),
        from(OUTPUTS[1].2),
        from(OUTPUTS[2].2),
    );
    let app = format!(
        "name: bench\ntype: php:8.3\ndisk: 2048\n\
         mounts:\n  var: shared:files/var\n  app/etc: shared:files/etc\n  \
         pub/media: shared:files/media\n  pub/static: shared:files/static\n\
         hooks:\n  build: |\n{hook}"
    );
    let files: [(&str, &str); 4] = [
        (".magento.app.yaml", &app),
        (".magento/services.yaml", ""),
        (
            ".magento/routes.yaml",
            "\"https://{default}/\":\n  type: upstream\n  upstream: bench:http\n",
        ),
        ("composer.lock", "{}\n"),
    ];
    for (rel, text) in files {
        replace(&src.join(rel), text)?;
    }
    Ok(())
}

/// Waits until `TARGET/releases` holds no `.trash-*` (a release being deleted), for at most
/// [`TRASH_DEADLINE`].
fn wait_for_no_trash(target: &Path) -> Result<()> {
    let releases = target.join("releases");
    let deadline = Instant::now() + TRASH_DEADLINE;
    loop {
        let mut trash = false;
        for e in fs::read_dir(&releases).at(&releases)? {
            let name = e.at(&releases)?.file_name();
            trash |= name.to_string_lossy().starts_with(TRASH_PREFIX);
        }
        if !trash {
            return Ok(());
        }
        if Instant::now() >= deadline {
            let late = std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("old releases still being deleted after {TRASH_DEADLINE:?}"),
            );
            return Err(Error::io(&releases, late));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Writes `text` to a new file renamed over `path` (which may be a hard link into the tree).
fn replace(path: &Path, text: &str) -> Result<()> {
    let dir = path.parent().expect("in the project");
    fs::create_dir_all(dir).at(dir)?;
    let tmp = path.with_extension("bench-tmp");
    fs::write(&tmp, text).at(&tmp)?;
    fs::rename(&tmp, path).at(path)
}
