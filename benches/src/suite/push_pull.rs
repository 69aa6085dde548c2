//! Push and pull: sending the build's slug to an S3 object store and fetching it on a web node,
//! against `rclone copy` of the same files to the same server.
//!
//! Needs a server: `AWS_ENDPOINT_URL` or `SLUGSTORE_S3_ENDPOINT`, `SLUGSTORE_S3_BUCKET` (an existing
//! bucket) and the AWS credential variables, e.g. the project's local Ceph RGW
//! (`scripts/rgw.sh start; eval "$(scripts/rgw.sh env)"`). Without one the scenario is skipped and says
//! so. Every run pushes into a bucket of its own (`slug-bench-<unique>`, made with `rclone mkdir` and
//! removed with `rclone purge` at the end), or, when the server refuses to make one, under a prefix of
//! its own in `SLUGSTORE_S3_BUCKET` (deleted with `rclone delete` at the end).
//!
//! rclone is given the files a slug holds (the tree without its mounts), so both move the same
//! content; it uses its default parallelism. It takes minutes on the full tree (about 90 s per
//! 20,000 files on the local RGW), so at `--size full` it runs once, whatever `--runs` says.

use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use slugstore::{Error, Result};

use super::backend::Backend;
use super::backends::{slug_command, Slug};
use super::exec::{remove_tree, run};
use super::results::Row;
use super::targets::{Figure, Goal, Target};
use super::timing::{short_runs, skip, timed};
use super::tools::{missing, Requirement};
use super::{slug_part, Env};
use crate::shape::Size;

/// Scenario name: the first push of the build tree's slug to an empty remote prefix.
pub const FIRST: &str = "push (first)";
/// Scenario name: pull of that slug into an empty store.
pub const PULL: &str = "pull (into an empty store)";
/// Scenario name: push of the next build (1 % churn) after the first.
pub const CHURN: &str = "push (after 1% churn)";
/// slugstore.
pub const SLUG: &str = "slugstore";
/// rclone copy of the raw files.
pub const RCLONE: &str = "rclone copy";

/// The goals of the scenario (issue: slug archives and remotes).
pub const TARGETS: &[Target] = &[
    Target {
        subject: Figure::wall(FIRST, SLUG),
        goal: Goal::FasterThan(Figure::wall(FIRST, RCLONE), 3.0),
    },
    Target {
        subject: Figure::wall(CHURN, SLUG),
        goal: Goal::FractionOf(Figure::wall(FIRST, SLUG), 0.05),
    },
];

/// The S3 server to use, from the environment.
#[derive(Debug, Clone)]
pub struct Server {
    /// Endpoint URL, e.g. `http://127.0.0.1:7480`.
    pub endpoint: String,
    /// An existing bucket.
    pub bucket: String,
    access_key: String,
    secret_key: String,
}

impl Server {
    /// The server the environment names, or why there is none.
    pub fn from_env() -> std::result::Result<Server, String> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let endpoint = var("AWS_ENDPOINT_URL")
            .or_else(|| var("SLUGSTORE_S3_ENDPOINT"))
            .ok_or("no S3 endpoint: set AWS_ENDPOINT_URL or SLUGSTORE_S3_ENDPOINT")?;
        let need = |k: &str| var(k).ok_or(format!("{k} is not set"));
        Ok(Server {
            endpoint,
            bucket: need("SLUGSTORE_S3_BUCKET")?,
            access_key: need("AWS_ACCESS_KEY_ID")?,
            secret_key: need("AWS_SECRET_ACCESS_KEY")?,
        })
    }

    /// An `rclone` command with remote `rgw:` configured from the environment (no config file).
    fn rclone(&self) -> Command {
        let mut c = Command::new("rclone");
        c.env_remove("AWS_CA_BUNDLE")
            .env("RCLONE_CONFIG_RGW_TYPE", "s3")
            .env("RCLONE_CONFIG_RGW_PROVIDER", "Ceph")
            .env("RCLONE_CONFIG_RGW_ENDPOINT", &self.endpoint)
            .env("RCLONE_CONFIG_RGW_ACCESS_KEY_ID", &self.access_key)
            .env("RCLONE_CONFIG_RGW_SECRET_ACCESS_KEY", &self.secret_key)
            .env("RCLONE_CONFIG_RGW_REGION", "us-east-1")
            .env("RCLONE_CONFIG_RGW_FORCE_PATH_STYLE", "true");
        c
    }

    /// A `slug` command on `store`, pointed at the server.
    fn slug(&self, bin: &Path, store: &Path) -> Command {
        let mut c = slug_command(bin, store);
        c.env("AWS_ENDPOINT_URL", &self.endpoint);
        c
    }
}

/// Measures push, pull and churn push of slugstore, and rclone copy, against the server.
pub fn measure(env: &Env, skipped: &mut Vec<String>) -> Result<Vec<Row>> {
    const HOWTO: &str =
        "start the local server: scripts/rgw.sh start; eval \"$(scripts/rgw.sh env)\"";
    let server = match Server::from_env() {
        Ok(s) => s,
        Err(why) => return Ok(skip(skipped, "push-pull", format!("{why} ({HOWTO})"))),
    };
    let Some(bin) = &env.slug else {
        return Ok(skip(skipped, "push-pull", "no slug binary"));
    };
    if let Some(msg) = missing(&[Requirement::apt("rclone", "rclone")]) {
        return Ok(skip(skipped, "push-pull", msg));
    }
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let prefix = format!("slug-bench-{}-{nanos}", std::process::id());
    // A bucket of its own when the server lets us make one: listing a prefix of a bucket that has seen
    // many writes and deletions is slower on RGW (seen: a push after churn took 0.22-0.28 s in the
    // shared test bucket after earlier runs, 0.15-0.19 s in a new one), and a run should not pay for
    // the runs before it. Otherwise a prefix of its own in the configured bucket.
    let own_bucket = run(server.rclone().arg("mkdir").arg(format!("rgw:{prefix}"))).is_ok();
    let server = if own_bucket {
        Server {
            bucket: prefix.clone(),
            ..server
        }
    } else {
        server
    };
    eprintln!(
        "  remote prefix s3://{}/{prefix} at {}",
        server.bucket, server.endpoint
    );
    let rows = measure_on(env, &server, bin, &prefix);
    // What the run wrote goes whatever happened; a failure to delete it is reported, not fatal.
    let (verb, what) = if own_bucket {
        ("purge", format!("rgw:{}", server.bucket))
    } else {
        ("delete", format!("rgw:{}/{prefix}", server.bucket))
    };
    if let Err(e) = run(server.rclone().arg(verb).arg(&what)) {
        eprintln!("push-pull: could not {verb} {what}: {e}");
    }
    rows
}

fn measure_on(env: &Env, server: &Server, bin: &Path, prefix: &str) -> Result<Vec<Row>> {
    let root = env.ws.root.join("push-pull");
    remove_tree(&root)?;
    // The slugs of the build and of the next one, in a store of their own (not timed).
    let mut source = Slug::new(bin.to_path_buf());
    let store_dir = root.join("store");
    let store = store_dir.as_path();
    source.init(store)?;
    source.snapshot(&env.ws.base)?;
    source.snapshot(&env.ws.churned)?;
    let [first, next] = source.slugs() else {
        return Err(Error::external("push-pull: expected two slugs"));
    };
    let remote = |i: u32| format!("rgw{i}");
    let url = |i: u32| format!("s3://{}/{prefix}/slug-{i}", server.bucket);
    let add_remote = |store: &Path, i: u32| {
        run(server
            .slug(bin, store)
            .args(["remote", "add", &remote(i), &url(i)]))
        .map(drop)
    };
    let push = |slug: &str, i: u32| {
        let mut c = server.slug(bin, store);
        c.args(["--json", "push", slug, &remote(i)]);
        c
    };

    let mut push_first = timed(
        FIRST,
        SLUG,
        env.runs,
        |i| add_remote(store, i),
        |i| push(first, i),
    );
    push_first.json_figure("objects_uploaded", "/objects_uploaded");
    push_first.json_figure("packs_uploaded", "/packs_uploaded");
    if !push_first.ok() {
        return Ok(vec![push_first.row]);
    }
    let pulled = |i: u32| root.join(format!("pulled-{i}"));
    let mut pull = timed(
        PULL,
        SLUG,
        env.runs,
        |i| {
            if i > 0 {
                remove_tree(&pulled(i - 1))?;
            }
            run(server.slug(bin, &pulled(i)).arg("init"))?;
            add_remote(&pulled(i), i)
        },
        |i| {
            let mut c = server.slug(bin, &pulled(i));
            c.args(["--json", "pull", &remote(i), first]);
            c
        },
    );
    pull.json_figure("objects_fetched", "/objects_fetched");
    // Runs past the first pushes' get a remote of their own holding the first slug (not timed).
    let mut push_next = timed(
        CHURN,
        SLUG,
        short_runs(env.runs),
        |i| {
            if i >= env.runs {
                add_remote(store, i)?;
                run(&mut push(first, i))?;
            }
            Ok(())
        },
        |i| push(next, i),
    );
    push_next.json_figure("objects_uploaded", "/objects_uploaded");

    let rclone_runs = if env.size == Size::Full { 1 } else { env.runs };
    let files = slug_part(env.ws)?;
    let rclone = timed(
        FIRST,
        RCLONE,
        rclone_runs,
        |_| Ok(()),
        |i| {
            let mut c = server.rclone();
            c.arg("copy")
                .arg(&files)
                .arg(format!("rgw:{}/{prefix}/rclone-{i}", server.bucket));
            c
        },
    );
    remove_tree(&root)?;
    Ok(vec![push_first.row, rclone.row, pull.row, push_next.row])
}
