//! `slug-bench`: generates a build tree and times slugstore against tar+zstd, OSTree, restic and
//! `cp -al` on it, and its static gzip, push/pull and checkout against the commands they replace;
//! prints Markdown tables and the goals met or missed, writes every figure as JSON and draws a PNG
//! chart.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use clap::Parser;
use slugstore_benches::shape::Size;
use slugstore_benches::suite::{self, chart, exec, report, Config, Scenario};

/// End-to-end benchmark suite (warm cache).
#[derive(Parser)]
#[command(version)]
struct Cli {
    /// Size of the generated tree.
    #[arg(long, value_enum, default_value = "full")]
    size: Size,
    /// Seed of the tree and the churn.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Runs per measurement; the median is reported.
    #[arg(long, default_value_t = 3)]
    runs: u32,
    /// Builds kept in the store-size scenario (each a 1 % change from the one before).
    #[arg(long, default_value_t = 10)]
    builds: u32,
    /// Scenarios to run (default: all; at --size full all but push-pull).
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Vec<Scenario>,
    /// Tools of the snapshot, restore and store-size scenarios, by name: slugstore, "slugstore
    /// (watch)" (snapshots with `slug watch` running; snapshot scenario only), tar+zstd, ostree,
    /// restic, "cp -al" (default: all installed; at --size full all but ostree).
    #[arg(long, value_delimiter = ',')]
    tools: Vec<String>,
    /// Scratch directory for the tree and repositories (default: under the system temp dir).
    #[arg(long)]
    workdir: Option<PathBuf>,
    /// The `slug` binary (default: next to this binary, built with cargo if absent).
    #[arg(long)]
    slug: Option<PathBuf>,
    /// Leave slugstore out (measure the peer tools only).
    #[arg(long)]
    no_slug: bool,
    /// JSON file with every figure.
    #[arg(long, default_value = "slug-bench-results.json")]
    out: PathBuf,
    /// PNG chart (default: the JSON file's name with `.png`).
    #[arg(long)]
    chart: Option<PathBuf>,
    /// TrueType font for the chart (default: DejaVu Sans from fonts-dejavu-core).
    #[arg(long)]
    font: Option<PathBuf>,
    /// Keep the scratch directory.
    #[arg(long)]
    keep: bool,
}

/// The `slug` binary: given, else beside this executable, else built with cargo.
fn find_slug(given: Option<PathBuf>) -> Option<PathBuf> {
    if given.is_some() {
        return given;
    }
    let beside = std::env::current_exe().ok()?.parent()?.join("slug");
    if beside.is_file() {
        return Some(beside);
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent()?;
    eprintln!("building slug: cargo build --release -p slugstore-cli");
    let ok = Command::new("cargo")
        .args(["build", "--release", "-p", "slugstore-cli"])
        .current_dir(workspace)
        .status()
        .is_ok_and(|s| s.success());
    // A failed build leaves the path absent; the suite then reports slugstore as not installed.
    if !ok {
        eprintln!("building slug failed");
    }
    Some(beside)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let workdir = cli
        .workdir
        .clone()
        .unwrap_or_else(std::env::temp_dir)
        .join(format!("slug-bench-{}", std::process::id()));
    let cfg = Config {
        size: cli.size,
        seed: cli.seed,
        runs: cli.runs.max(1),
        builds: cli.builds.max(1),
        scenarios: cli.only.clone(),
        workdir: workdir.clone(),
        tools: cli.tools.clone(),
        slug: if cli.no_slug {
            None
        } else {
            find_slug(cli.slug.clone())
        },
    };
    let result = suite::run(&cfg);
    if !cli.keep {
        if let Err(e) = exec::remove_tree(&workdir) {
            eprintln!("slug-bench: cleaning up: {e}");
        }
    }
    let res = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("slug-bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("{}", report::markdown(&res));
    let json = serde_json::to_string_pretty(&res).expect("results serialise");
    if let Err(e) = std::fs::write(&cli.out, json + "\n") {
        eprintln!("slug-bench: {}: {e}", cli.out.display());
        return ExitCode::FAILURE;
    }
    eprintln!("figures written to {}", cli.out.display());
    let png = cli.chart.unwrap_or_else(|| cli.out.with_extension("png"));
    match chart::find_font(cli.font.as_deref()) {
        Some(font) => match chart::draw(&res, &png, &font) {
            Ok(()) => eprintln!("chart written to {}", png.display()),
            Err(e) => eprintln!("slug-bench: chart not drawn: {e}"),
        },
        None => eprintln!("chart not drawn: no TrueType font found (apt-get install fonts-dejavu-core, or --font)"),
    }
    ExitCode::SUCCESS
}
