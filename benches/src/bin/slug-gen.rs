//! `slug-gen`: writes a synthetic build tree of the measured shape, or churns one.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};
use slugstore_benches::churn::{churn, Scope};
use slugstore_benches::gen::generate;
use slugstore_benches::plan::MOUNTS;
use slugstore_benches::shape::Size;
use slugstore_benches::walk::stats;

/// Generate or churn a synthetic build tree.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Write a new tree into DIR (which must not exist or be empty).
    Tree {
        /// Target directory.
        dir: PathBuf,
        /// How big a tree.
        #[arg(long, value_enum, default_value = "small")]
        size: Size,
        /// Seed: the same seed gives the same tree, byte for byte.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Change PERCENT % of the files of DIR like a code change does.
    Churn {
        /// The tree to change.
        dir: PathBuf,
        /// Percentage of files to change.
        #[arg(long, default_value_t = 1.0)]
        percent: f64,
        /// Seed of the change.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Change only deployed static assets (`pub/static`).
        #[arg(long)]
        static_only: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Tree { dir, size, seed } => {
            let t = Instant::now();
            generate(&dir, size, seed).and_then(|r| {
                let secs = t.elapsed().as_secs_f64();
                let slug = stats(&dir, MOUNTS)?;
                println!(
                    "{} files, {} dirs, {} symlinks, {} bytes in {secs:.1} s; without mounts: {} files, {} dirs, {} bytes",
                    r.files, r.dirs, r.links, r.bytes, slug.files, slug.dirs, slug.bytes
                );
                Ok(())
            })
        }
        Cmd::Churn {
            dir,
            percent,
            seed,
            static_only,
        } => {
            let scope = if static_only {
                Scope::Static
            } else {
                Scope::Tree
            };
            churn(&dir, percent, seed, scope).map(|r| {
                println!(
                    "{} of {} files: {} edited, {} added, {} deleted",
                    r.changed(),
                    r.considered,
                    r.edited,
                    r.added,
                    r.deleted
                )
            })
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("slug-gen: {e}");
            ExitCode::FAILURE
        }
    }
}
