//! `slug serve`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::builder::TypedValueParser as _;
use slugstore::checkout::{CheckoutOptions, SwitchOptions};
use slugstore_deploy::deploy::DeployOptions;
use slugstore_serve::{Limits, ServeOptions, Server, Token, ACTION_LOCK_WAIT, DEFAULT_LISTEN};

use crate::cmd::CmdResult;
use crate::context::Context;

/// Serve a live status page of the environments: deploys phase by phase, logs, rollback and promote.
///
/// The page (http://127.0.0.1:7878/ by default) shows each environment's live release, the releases on
/// disk and the newest deploys with their phases (pending, in progress, success, failed), updating as
/// deploys run without a reload, and the log of the deploy picked (the newest by default), tailed
/// live. It reads only the files deploys write, so it never waits on the store's lock or slows a
/// deploy down.
///
/// Rollback and promote buttons need a token: taken from SLUG_SERVE_TOKEN or --token-file (at least
/// 16 characters), else generated and printed once as a link (`…/#token=…`) that unlocks them. A wrong
/// token is refused with HTTP 401 and changes nothing; --read-only refuses every action (403). An
/// action waits at most --lock-timeout (default here: 2 seconds) for a running command to release the
/// store, then answers 409.
///
/// Prints `serving URL` (with --json, one line `{"url": …, "token": …}`) once listening; runs until
/// interrupted.
#[derive(clap::Args)]
pub struct Args {
    /// Address to listen on (port 0: any free port). Keep it on loopback and put a reverse proxy with
    /// TLS in front to reach it from elsewhere.
    #[arg(long, value_name = "ADDR", default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// Read the action token from this file (first line) instead of SLUG_SERVE_TOKEN.
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Also answer requests for this Host (HOST:PORT) on a loopback address, e.g. `localhost:8080`
    /// behind `ssh -L 8080:127.0.0.1:7878`; others get 403 (a defence against DNS rebinding).
    #[arg(long, value_name = "HOST:PORT")]
    pub allow_host: Vec<String>,
    /// Offer no actions: the page is for watching only.
    #[arg(long)]
    pub read_only: bool,
    /// Deploys shown per environment (the newest).
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub deploys: usize,
    /// How often the page's data is re-read while someone watches, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 250, value_parser = clap::value_parser!(u64).range(20..))]
    pub poll_ms: u64,
    /// Requests read or answered at once (open pages' event streams not counted); more get 503.
    #[arg(long, value_name = "N", default_value_t = Limits::default().connections,
          value_parser = clap::value_parser!(u64).range(1..=4096).map(|n| n as usize))]
    pub max_connections: usize,
    /// Event streams (open pages) at once; more get 503 and their pages retry every second.
    #[arg(long, value_name = "N", default_value_t = Limits::default().streams,
          value_parser = clap::value_parser!(u64).range(1..=4096).map(|n| n as usize))]
    pub max_streams: usize,
    /// How rollbacks and promotions from the page check out releases.
    #[command(flatten)]
    pub checkout: CheckoutOptions,
    /// How they switch releases.
    #[command(flatten)]
    pub switch: SwitchOptions,
}

pub fn run(ctx: &Context, a: Args) -> CmdResult {
    let (token, generated) = Token::load(a.token_file.as_deref())?;
    let opts = ServeOptions {
        listen: a.listen,
        token: token.clone(),
        read_only: a.read_only,
        poll: Duration::from_millis(a.poll_ms),
        deploys: a.deploys.max(1),
        lock_timeout: ctx.global.lock_timeout.unwrap_or(ACTION_LOCK_WAIT),
        deploy: DeployOptions {
            checkout: a.checkout,
            switch: a.switch,
            ..DeployOptions::default()
        },
        allowed_hosts: a.allow_host,
        limits: Limits {
            connections: a.max_connections,
            streams: a.max_streams,
            ..Limits::default()
        },
    };
    let server = Server::bind(&ctx.store_path().0, opts)?;
    let url = server.url();
    if ctx.global.json {
        let token = generated.then(|| token.expose().to_owned());
        out!("{}", serde_json::json!({ "url": url, "token": token }));
    } else {
        out!("serving {url}");
        if a.read_only {
            ctx.note("read-only: the page offers no actions");
        } else if generated {
            // The fragment stays in the browser: the token never reaches a log line of a proxy.
            ctx.note(&format!(
                "actions unlocked by this link: {url}#token={}",
                token.expose()
            ));
        } else {
            ctx.note("actions need the token given (Authorization: Bearer …)");
        }
    }
    server.run();
    Ok(ExitCode::SUCCESS)
}
