//! `slug`: the command-line shell over the slugstore crate.
//!
//! Each subcommand lives in `cmd/` and is a thin translation from arguments to one library call and from
//! its report to text or JSON; the work itself is done by the `slugstore` crate.

#[macro_use]
mod output;
mod cmd;
mod context;
mod hint;
mod progress;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::context::{Context, Global};

/// Content-addressed, deduplicated, instantly reversible slugs of a build tree.
///
/// A slug is an immutable snapshot of a build directory (minus its writable mounts), stored once per
/// distinct file content in a local store (`.slugstore/` in the working directory by default).
#[derive(Parser)]
#[command(name = "slug", version, propagate_version = true, max_term_width = 100)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Init(cmd::init::Args),
    Snapshot(cmd::snapshot::Args),
    Watch(cmd::watch::Args),
    Ls(cmd::ls::Args),
    Show(cmd::show::Args),
    Diff(cmd::diff::Args),
    Restore(cmd::restore::Args),
    Verify(cmd::verify::Args),
    Refs(cmd::refs::Args),
    Validate(cmd::validate::Args),
    Checkout(cmd::checkout::Args),
    Activate(cmd::activate::Args),
    Rollback(cmd::rollback::Args),
    Releases(cmd::releases::Args),
    CompressStatic(cmd::compress_static::Args),
    Deploy(cmd::deploy::Args),
    Env(cmd::env::Args),
    Cron(cmd::cron::Args),
    Promote(cmd::promote::Args),
    Status(cmd::status::Args),
    Log(cmd::log::Args),
    Serve(cmd::serve::Args),
    Export(cmd::export::Args),
    Import(cmd::import::Args),
    Remote(cmd::remote::Args),
    Push(cmd::push::Args),
    Pull(cmd::pull::Args),
    Prune(cmd::prune::Args),
    Gc(cmd::gc::Args),
    Cache(cmd::cache::Args),
    #[command(hide = true)]
    Internal(cmd::internal::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Hooks and cron jobs run in process groups of their own: Ctrl-C must reach them through us.
    slugstore::process::forward_termination_signals();
    let ctx = Context::new(cli.global);
    let result = match cli.command {
        Command::Init(a) => cmd::init::run(&ctx, a),
        Command::Snapshot(a) => cmd::snapshot::run(&ctx, a),
        Command::Watch(a) => cmd::watch::run(&ctx, a),
        Command::Ls(a) => cmd::ls::run(&ctx, a),
        Command::Show(a) => cmd::show::run(&ctx, a),
        Command::Diff(a) => cmd::diff::run(&ctx, a),
        Command::Restore(a) => cmd::restore::run(&ctx, a),
        Command::Verify(a) => cmd::verify::run(&ctx, a),
        Command::Refs(a) => cmd::refs::run(&ctx, a),
        Command::Validate(a) => cmd::validate::run(&ctx, a),
        Command::Checkout(a) => cmd::checkout::run(&ctx, a),
        Command::Activate(a) => cmd::activate::run(&ctx, a),
        Command::Rollback(a) => cmd::rollback::run(&ctx, a),
        Command::Releases(a) => cmd::releases::run(&ctx, a),
        Command::CompressStatic(a) => cmd::compress_static::run(&ctx, a),
        Command::Deploy(a) => cmd::deploy::run(&ctx, a),
        Command::Env(a) => cmd::env::run(&ctx, a),
        Command::Cron(a) => cmd::cron::run(&ctx, a),
        Command::Promote(a) => cmd::promote::run(&ctx, a),
        Command::Status(a) => cmd::status::run(&ctx, a),
        Command::Log(a) => cmd::log::run(&ctx, a),
        Command::Serve(a) => cmd::serve::run(&ctx, a),
        Command::Export(a) => cmd::export::run(&ctx, a),
        Command::Import(a) => cmd::import::run(&ctx, a),
        Command::Remote(a) => cmd::remote::run(&ctx, a),
        Command::Push(a) => cmd::push::run(&ctx, a),
        Command::Pull(a) => cmd::pull::run(&ctx, a),
        Command::Prune(a) => cmd::prune::run(&ctx, a),
        Command::Gc(a) => cmd::gc::run(&ctx, a),
        Command::Cache(a) => cmd::cache::run(&ctx, a),
        Command::Internal(a) => cmd::internal::run(&ctx, a),
    };
    let code = match result {
        Ok(code) => code,
        Err(e) => {
            ctx.report_error(&e);
            ExitCode::from(cmd::EXIT_ERROR)
        }
    };
    // Interrupted while a hook ran: the command wound down (and said why); now end as interrupted.
    slugstore::process::exit_if_interrupted();
    code
}
