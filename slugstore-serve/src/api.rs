//! The JSON API behind the page: what it reads, and the two actions it offers.
//!
//! Reads go to the files deploys write (no store lock, see the crate doc). The actions are the
//! library's own [`rollback`](slugstore::checkout::rollback()) and
//! [`promote`](slugstore_deploy::deploy::promote::promote()), with the deploy options `slug serve` was started
//! with: a request chooses only *what* to roll back or promote, never a command to run. Their
//! progress shows on the page like any deploy's, from the records they write.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use serde::Deserialize;
use slugstore::checkout::{rollback as rollback_target, RollbackOptions, RollbackTo};
use slugstore::store::OpenOptions;
use slugstore::{NoProgress, Store};
use slugstore_deploy::deploy::promote::{promote as promote_slug, PromoteOptions};
use slugstore_deploy::environment::{Environment, Registry};
use slugstore_deploy::layout::MagentoLayout;
use slugstore_deploy::status::{list, load, log_path};

use crate::reply::{bytes, json, ApiError, Reply};
use crate::Shared;

/// The most log bytes one request returns; the page asks again from where it stopped.
const LOG_CHUNK: u64 = 256 * 1024;

/// `GET /api/status`.
pub fn status(shared: &Shared) -> Reply {
    bytes(200, "application/json", shared.feed.current().into_bytes())
}

/// `GET /api/envs/ENV/deploys/ID`: the deploy's record.
pub fn deploy(shared: &Shared, env: &str, id: &str) -> Result<Reply, ApiError> {
    let env = environment(shared, env)?;
    let id = deploy_id(&env, id)?;
    Ok(json(200, &load(&env.target, &id)?))
}

/// `GET /api/envs/ENV/deploys/ID/log?offset=N`: the log from byte N (at most 256 KiB, cut
/// at a character boundary). `X-Log-Offset` is where to ask next, `X-Log-Size` the log's size now.
pub fn log(shared: &Shared, env: &str, id: &str, offset: Option<&str>) -> Result<Reply, ApiError> {
    let env = environment(shared, env)?;
    let id = deploy_id(&env, id)?;
    let offset: u64 = match offset {
        None => 0,
        Some(o) => o
            .parse()
            .map_err(|_| ApiError::bad_request(format!("offset `{o}` is not a byte count")))?,
    };
    let path = log_path(&env.target, &id);
    let mut file = File::open(&path).map_err(|e| slugstore::Error::io(&path, e))?;
    let size = file
        .metadata()
        .map_err(|e| slugstore::Error::io(&path, e))?
        .len();
    let start = offset.min(size);
    let mut chunk = Vec::new();
    file.seek(SeekFrom::Start(start))
        .and_then(|_| file.take(LOG_CHUNK).read_to_end(&mut chunk))
        .map_err(|e| slugstore::Error::io(&path, e))?;
    // A line being written may end mid-character: send the whole characters, the rest next time.
    if let Err(e) = std::str::from_utf8(&chunk) {
        if e.error_len().is_none() {
            chunk.truncate(e.valid_up_to());
        }
    }
    let next = start + chunk.len() as u64;
    Ok(bytes(200, "text/plain; charset=utf-8", chunk)
        .with_header("X-Log-Offset", next.to_string())
        .with_header("X-Log-Size", size.to_string()))
}

/// Refuses an action without the right token (401), or any action on a read-only server (403).
pub fn authorize(shared: &Shared, authorization: Option<&str>) -> Result<(), ApiError> {
    if shared.opts.read_only {
        return Err(ApiError::new(
            403,
            "this server is read-only (started with --read-only)",
        ));
    }
    if !shared.opts.token.accepts(authorization) {
        return Err(ApiError::new(
            401,
            "a valid token is required (Authorization: Bearer TOKEN; `slug serve` printed it at start)",
        ));
    }
    Ok(())
}

/// The body of a rollback: where to (the previous deploy when empty).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RollbackRequest {
    to: Option<String>,
    steps: Option<usize>,
}

/// `POST /api/envs/ENV/rollback` with `{}`, `{"to": SLUG}` or `{"steps": N}`.
pub fn rollback(shared: &Shared, env: &str, body: &[u8]) -> Result<Reply, ApiError> {
    let env = environment(shared, env)?;
    let req: RollbackRequest = parse_body(body)?;
    let opts = RollbackOptions {
        to: RollbackTo {
            to: req.to,
            steps: req.steps,
        },
        switch: shared.opts.deploy.switch.clone(),
        checkout: shared.opts.deploy.checkout.clone(),
    };
    let report = rollback_target(
        &env.target,
        &opts,
        &|| open_store(shared),
        &MagentoLayout,
        &NoProgress,
    )?;
    eprintln!(
        "slug serve: rolled back environment {} to {}",
        env.name, report.switch.slug
    );
    Ok(json(200, &serde_json::json!({ "rollback": report })))
}

/// The body of a promotion: what to promote (an environment or a slug name) and whether to force it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PromoteRequest {
    from: String,
    #[serde(default)]
    force: bool,
}

/// `POST /api/envs/ENV/promote` with `{"from": ENV|SLUG, "force": false}`: answers when the deploy
/// is done; the page follows its phases meanwhile.
pub fn promote(shared: &Shared, env: &str, body: &[u8]) -> Result<Reply, ApiError> {
    let env = environment(shared, env)?;
    let req: PromoteRequest = parse_body(body)?;
    let store = open_store(shared)?;
    let opts = PromoteOptions {
        force: req.force,
        deploy: shared.opts.deploy.clone(),
    };
    let (promotion, record) =
        promote_slug(&store, &req.from, &env.name, &opts, &|_| {}, &NoProgress)?;
    eprintln!(
        "slug serve: promoted {} ({}) to environment {}",
        promotion.slug, promotion.from, env.name
    );
    Ok(json(
        200,
        &serde_json::json!({ "promotion": promotion, "deploy": record }),
    ))
}

/// The environment named in the URL (404 when there is none of that name).
fn environment(shared: &Shared, name: &str) -> Result<Environment, ApiError> {
    let registry = Registry::load(&shared.store)?;
    registry
        .get(name)
        .cloned()
        .map_err(|e| ApiError::not_found(e.to_string()))
}

/// A deploy id of `env`, exactly as listed (404 otherwise; never a path outside `deploys/`).
fn deploy_id(env: &Environment, id: &str) -> Result<String, ApiError> {
    if list(&env.target)?.iter().any(|i| i == id) {
        Ok(id.to_owned())
    } else {
        Err(ApiError::not_found(format!(
            "environment `{}` has no deploy `{id}`",
            env.name
        )))
    }
}

/// The JSON body of an action; an empty body is `{}`.
fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        &b"{}"[..]
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("request body: {e}")))
}

/// Opens the store for an action, waiting at most the configured time for a running command.
fn open_store(shared: &Shared) -> slugstore::Result<Store> {
    let opts = OpenOptions {
        lock_timeout: Some(shared.opts.lock_timeout),
        ..OpenOptions::default()
    };
    Store::open(&shared.store, &opts)
}
