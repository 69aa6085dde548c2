//! `slug env add|ls|show|rm|log`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use slugstore::environment::{
    absolute_target, history, parse_assignment, Environment, HistoryKind, Registry,
};

use crate::cmd::CmdResult;
use crate::context::Context;

/// Manage environments: named deploy targets that promote to one another.
///
/// An environment names a deploy target (`slug deploy --env NAME`, `slug rollback --env NAME`, ...),
/// the git branch whose pushes deploy to it (the repository's post-receive hook), and its variables.
/// `--var` variables reach every hook, the build's included, so they are part of the build key: a slug
/// built with other values is not promoted to the environment without --force. `--runtime-var`
/// variables reach only the deploy and post-deploy hooks (credentials, hosts). Environments are kept in
/// STORE/environments.json.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(clap::Subcommand)]
pub enum Action {
    /// Add an environment.
    Add {
        /// Its name: lowercase letters, digits, `-` and `_`.
        name: String,
        /// Its deploy target directory (created at the first deploy).
        #[arg(long, value_name = "DIR")]
        target: PathBuf,
        /// The git branch whose pushes deploy here (default: the environment's name).
        #[arg(long, value_name = "BRANCH")]
        branch: Option<String>,
        /// A variable of every hook, build included (part of the build key). Repeatable.
        #[arg(long = "var", value_name = "NAME=VALUE")]
        vars: Vec<String>,
        /// A variable of the deploy and post-deploy hooks only. Repeatable.
        #[arg(long = "runtime-var", value_name = "NAME=VALUE")]
        runtime_vars: Vec<String>,
    },
    /// List the environments with their live release.
    Ls,
    /// Show one environment: target, branch, variables, live release.
    Show {
        /// The environment.
        name: String,
    },
    /// Remove an environment (its target directory and releases are left as they are).
    Rm {
        /// The environment.
        name: String,
    },
    /// Print the name of the environment a git branch deploys to (fails when none does).
    Which {
        /// The branch.
        #[arg(long, value_name = "BRANCH")]
        branch: String,
    },
    /// The environment's history: deploys, promotions and rollbacks, oldest first.
    Log {
        /// The environment.
        name: String,
    },
}

pub fn run(ctx: &Context, a: Args) -> CmdResult {
    match a.action {
        Action::Add {
            name,
            target,
            branch,
            vars,
            runtime_vars,
        } => {
            let store = ctx.open_or_init()?;
            let mut registry = Registry::load(store.root())?;
            let env = Environment {
                name,
                target: absolute_target(&target)?,
                branch,
                variables: assignments(&vars)?,
                runtime_variables: assignments(&runtime_vars)?,
            };
            registry.add(env.clone())?;
            registry.save(&store)?;
            if ctx.global.json {
                ctx.print_json(&env);
            } else {
                ctx.note(&format!(
                    "added environment {} (target {}, branch {})",
                    env.name,
                    env.target.display(),
                    env.branch()
                ));
            }
        }
        Action::Ls => {
            let registry = Registry::load(&ctx.store_path().0)?;
            let rows: Vec<_> = registry
                .environments
                .values()
                .map(|e| Ok((e, slugstore::targets::live(&e.target)?)))
                .collect::<slugstore::Result<_>>()?;
            if ctx.global.json {
                let json: Vec<_> = rows
                    .iter()
                    .map(|(e, live)| serde_json::json!({ "environment": e, "live": live }))
                    .collect();
                ctx.print_json(&json);
            } else {
                for (e, live) in rows {
                    out!(
                        "{}\t{}\t{}\t{}",
                        e.name,
                        e.branch(),
                        live.map(|l| l.short(12)).unwrap_or_else(|| "-".into()),
                        e.target.display()
                    );
                }
            }
        }
        Action::Show { name } => {
            let registry = Registry::load(&ctx.store_path().0)?;
            let e = registry.get(&name)?;
            let live = slugstore::targets::live(&e.target)?;
            if ctx.global.json {
                ctx.print_json(&serde_json::json!({ "environment": e, "live": live }));
            } else {
                out!("environment {}", e.name);
                out!("target      {}", e.target.display());
                out!("branch      {}", e.branch());
                match live {
                    Some(l) => out!("live        {l}"),
                    None => out!("live        nothing"),
                }
                for (k, v) in &e.variables {
                    out!("var         {k}={v}");
                }
                for (k, v) in &e.runtime_variables {
                    out!("runtime-var {k}={v}");
                }
            }
        }
        Action::Rm { name } => {
            let store = ctx.open()?;
            let mut registry = Registry::load(store.root())?;
            let e = registry.remove(&name)?;
            registry.save(&store)?;
            if ctx.global.json {
                ctx.print_json(&e);
            } else {
                ctx.note(&format!(
                    "removed environment {} ({} left as it is)",
                    e.name,
                    e.target.display()
                ));
            }
        }
        Action::Which { branch } => {
            let registry = Registry::load(&ctx.store_path().0)?;
            let e = registry
                .for_branch(&branch)
                .ok_or_else(|| no_branch(&branch))?;
            if ctx.global.json {
                ctx.print_json(e);
            } else {
                out!("{}", e.name);
            }
        }
        Action::Log { name } => {
            let registry = Registry::load(&ctx.store_path().0)?;
            let entries = history(registry.get(&name)?)?;
            if ctx.global.json {
                ctx.print_json(&entries);
            } else if entries.is_empty() {
                ctx.note(&format!("environment {name}: nothing deployed yet"));
            } else {
                for h in entries {
                    out!(
                        "{}  {:<8} {:<11} {:<12} {:<26} {}",
                        h.time,
                        kind_name(h.kind),
                        h.state.as_str(),
                        h.slug.map(|s| s.short(12)).unwrap_or_else(|| "-".into()),
                        h.deploy.as_deref().unwrap_or("-"),
                        h.detail
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn kind_name(k: HistoryKind) -> &'static str {
    match k {
        HistoryKind::Deploy => "deploy",
        HistoryKind::Promote => "promote",
        HistoryKind::Rollback => "rollback",
    }
}

/// The error for a branch that no environment takes.
pub fn no_branch(branch: &str) -> slugstore::Error {
    slugstore::Error::Invalid(format!(
        "no environment deploys branch `{branch}` (see `slug env add --branch`)"
    ))
}

fn assignments(list: &[String]) -> slugstore::Result<BTreeMap<String, String>> {
    list.iter().map(|s| parse_assignment(s)).collect()
}
