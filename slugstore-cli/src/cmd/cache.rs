//! `slug cache run|explain|ls|rm|keygen|trust|untrust`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use slugstore::cache::{self, sign, Outcome, RunIo, RunOptions};
use slugstore::store::OpenOptions;
use slugstore::Store;

use crate::cmd::{human_bytes, CmdResult};
use crate::context::Context;

/// A step-level build cache: restore a build step's outputs when nothing it depends on changed.
///
/// `slug cache run NAME --file composer.lock --output vendor -- composer install` runs from the
/// build directory. Its key is the command, NAME, the declared inputs (--file, --glob, --tree, --env,
/// --tool) and the working directory's place in the build root; a key seen before restores the
/// outputs in place (bit-exact, as private writable files) and replays the step's output, a new key
/// runs the step and records its outputs in the store.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(clap::Subcommand)]
pub enum Action {
    /// Run a step, or restore its outputs when its key was recorded before.
    ///
    /// Exits with the command's status when it ran and failed (nothing is recorded then).
    Run(Box<RunOptions>),
    /// Say which inputs made the last run of a step miss.
    Explain {
        /// The step's name.
        name: String,
    },
    /// List the cache entries.
    Ls,
    /// Remove the entries of a step, or one entry by key (prefix of 4+ hex digits).
    Rm {
        /// A step's name or a key prefix.
        what: String,
    },
    /// Make a key to sign the entries this machine pushes; prints the public key.
    Keygen {
        /// Where to write the private key (mode 0600; never replaced).
        file: PathBuf,
    },
    /// Trust entries signed by PUBKEY when fetched from a remote; lists the trusted keys without one.
    Trust {
        /// A public key, as `slug cache keygen` printed it.
        pubkey: Option<String>,
        /// A note kept with the key (whose it is).
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Stop trusting a public key.
    Untrust {
        /// The public key.
        pubkey: String,
    },
}

/// How long a cache command waits for the store lock when --lock-timeout is not given: a build
/// step must not hang for ever behind another process.
const STORE_WAIT: Duration = Duration::from_secs(600);

pub fn run(ctx: &Context, a: Args) -> CmdResult {
    match a.action {
        Action::Run(opts) => run_step(ctx, &opts),
        Action::Explain { name } => {
            let r = cache::explain(&open(ctx)?, &name)?;
            if ctx.global.json {
                ctx.print_json(&r);
            } else if r.base.is_none() {
                out!("{name}: no entry of this step was recorded before its last miss");
            } else {
                out!("{name} missed (key {}):", r.key.short(12));
                for c in &r.changes {
                    out!("  {c}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Action::Ls => {
            let all = cache::list(&open(ctx)?)?;
            if ctx.global.json {
                ctx.print_json(&all);
            } else {
                for e in all {
                    out!(
                        "{}  {}  {} files  {}",
                        e.key.short(12),
                        e.name,
                        e.files,
                        human_bytes(e.bytes)
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Action::Rm { what } => {
            let gone = cache::remove(&open(ctx)?, &what)?;
            if ctx.global.json {
                ctx.print_json(&gone);
            } else {
                for e in gone {
                    out!("removed {}  {}", e.key.short(12), e.name);
                }
                ctx.note("run `slug gc` to free their objects");
            }
            Ok(ExitCode::SUCCESS)
        }
        Action::Keygen { file } => {
            let public = sign::keygen(&file)?;
            if ctx.global.json {
                ctx.print_json(&serde_json::json!({ "public_key": public, "file": file }));
            } else {
                out!("{public}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Action::Trust { pubkey, note } => {
            let store = open(ctx)?;
            if let Some(k) = pubkey {
                sign::trust(&store, &k, &note)?;
            }
            let keys = sign::trusted(&store)?;
            if ctx.global.json {
                let v: Vec<_> = keys
                    .iter()
                    .map(|(k, n)| serde_json::json!({ "public_key": k, "note": n }))
                    .collect();
                ctx.print_json(&v);
            } else {
                for (k, n) in keys {
                    out!("{k}  {n}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Action::Untrust { pubkey } => {
            let was = sign::untrust(&open(ctx)?, &pubkey)?;
            if ctx.global.json {
                ctx.print_json(&serde_json::json!({ "public_key": pubkey, "was_trusted": was }));
            } else if !was {
                ctx.note(&format!("{pubkey} was not trusted"));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn open(ctx: &Context) -> slugstore::Result<Store> {
    let timeout = ctx.global.lock_timeout.unwrap_or(STORE_WAIT);
    let opts = OpenOptions {
        lock_timeout: Some(timeout),
        compression: ctx.global.compression.unwrap_or_default(),
        ..OpenOptions::default()
    };
    Store::open(&ctx.store_path().0, &opts)
}

fn run_step(ctx: &Context, opts: &RunOptions) -> CmdResult {
    let quiet = ctx.global.quiet;
    let note = |m: &str| {
        if !quiet {
            eprintln!("{m}");
        }
    };
    // With --json, stdout carries the report: the step's standard output goes to stderr.
    let mut out: Box<dyn std::io::Write + Send> = match ctx.global.json {
        true => Box::new(std::io::stderr()),
        false => Box::new(std::io::stdout()),
    };
    let mut err = std::io::stderr();
    let mut io = RunIo {
        out: &mut *out,
        err: &mut err,
        note: &note,
    };
    let r = cache::run(&|| open(ctx), opts, &mut io)?;
    if ctx.global.json {
        ctx.print_json(&r);
    } else {
        let what = match r.outcome {
            Outcome::Hit => "cache hit",
            Outcome::RemoteHit => "cache hit (remote)",
            Outcome::Recorded => "cache recorded",
            Outcome::NotRecorded => "cache not recorded",
            Outcome::Failed => "cache step failed",
        };
        ctx.note(&format!(
            "{what} {} {} ({} files, {:.2}s)",
            r.name,
            r.key.short(12),
            r.files,
            r.seconds
        ));
    }
    Ok(ExitCode::from(r.exit_code().clamp(0, 255) as u8))
}
