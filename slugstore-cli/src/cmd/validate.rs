//! `slug validate`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use slugstore_deploy::config::{load_project, Diagnostic, Project};

use crate::cmd::{CmdResult, EXIT_ERROR};
use crate::context::Context;

/// Check a project's configuration (.magento.app.yaml, .magento/services.yaml, .magento/routes.yaml).
///
/// Prints every defect at once, as `FILE:LINE:COLUMN: KEY.PATH: what is wrong`. Exit status 1 when
/// there is any.
#[derive(clap::Args)]
pub struct Args {
    /// The project directory.
    #[arg(default_value = ".", value_name = "DIR")]
    pub dir: PathBuf,
}

pub fn run(ctx: &Context, a: Args) -> CmdResult {
    match load_project(&a.dir) {
        Ok(project) => {
            let warnings: Vec<Diagnostic> = project
                .warnings()
                .into_iter()
                .map(|d| under(&a.dir, d))
                .collect();
            if ctx.global.json {
                ctx.print_json(&serde_json::json!({
                    "valid": true,
                    "summary": summary(&project),
                    "warnings": warnings,
                }));
            } else {
                out!("{}: valid: {}", a.dir.display(), summary(&project));
                for w in &warnings {
                    ctx.note(&format!("warning: {w}"));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(diagnostics) => {
            let diagnostics: Vec<Diagnostic> =
                diagnostics.into_iter().map(|d| under(&a.dir, d)).collect();
            if ctx.global.json {
                ctx.print_json(&serde_json::json!({ "valid": false, "diagnostics": diagnostics }));
            } else {
                for d in &diagnostics {
                    out!("{d}");
                }
                let n = diagnostics.len();
                ctx.note(&format!(
                    "slug: {n} error{} in the configuration",
                    if n == 1 { "" } else { "s" }
                ));
            }
            Ok(ExitCode::from(EXIT_ERROR))
        }
    }
}

/// Names the diagnostic's file from the working directory, so editors can open it.
fn under(dir: &Path, mut d: Diagnostic) -> Diagnostic {
    if dir != Path::new(".") {
        d.file = dir.join(&d.file).display().to_string();
    }
    d
}

/// `app storefront (php:8.3), 3 services, 4 mounts, 3 routes`.
fn summary(p: &Project) -> String {
    format!(
        "app {} ({}), {} services, {} mounts, {} routes",
        p.app.name,
        p.app.runtime,
        p.services.len(),
        p.app.mounts.len(),
        p.routes.len()
    )
}
