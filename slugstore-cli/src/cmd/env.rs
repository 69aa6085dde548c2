//! `slug env add|set|ls|show|rm|which|log`.

use std::path::PathBuf;
use std::process::ExitCode;

use slugstore_deploy::environment::{manage, HistoryKind, Settings};

use crate::cmd::CmdResult;
use crate::context::Context;

/// Manage environments: named deploy targets that promote to one another.
///
/// An environment names a deploy target (`slug deploy --env NAME`, `slug rollback --env NAME`, ...),
/// the git branch whose pushes deploy to it (the repository's post-receive hook), and its variables.
/// `--var` variables reach every hook, the build's included, so they are part of the build key: a slug
/// built with other values is not promoted to the environment without --force. `--runtime-var`
/// variables reach only the deploy and post-deploy hooks (credentials, hosts). `--service` tells where
/// the services of the relationships are (slugstore provisions none): the deploy hooks get them as
/// PLATFORM_RELATIONSHIPS, and a deploy whose relationship has none fails before building. Passwords
/// are shown as `***`. Environments are kept in STORE/environments.json, readable by its owner only.
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
        #[command(flatten)]
        settings: SettingsArgs,
    },
    /// Change an environment: variables, service endpoints, domain.
    Set {
        /// The environment.
        name: String,
        #[command(flatten)]
        settings: SettingsArgs,
        /// Remove a variable (either kind). Repeatable.
        #[arg(long = "unset-var", value_name = "NAME")]
        unset_vars: Vec<String>,
        /// Remove a service endpoint. Repeatable.
        #[arg(long = "unset-service", value_name = "NAME")]
        unset_services: Vec<String>,
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

/// What `add` and `set` may give an environment.
#[derive(clap::Args)]
pub struct SettingsArgs {
    /// A variable of every hook, build included (part of the build key). Repeatable.
    #[arg(long = "var", value_name = "NAME=VALUE")]
    vars: Vec<String>,
    /// A variable of the deploy and post-deploy hooks only. Repeatable.
    #[arg(long = "runtime-var", value_name = "NAME=VALUE")]
    runtime_vars: Vec<String>,
    /// Where a relationship's service is, e.g. `database=mysql://user:password@host:3306/main`
    /// (NAME: a relationship, or a service for every relationship to it). Repeatable.
    #[arg(long = "service", value_name = "NAME=URL")]
    services: Vec<String>,
    /// A file of NAME=URL lines (`#` comments): endpoints kept out of shell history. Repeatable.
    #[arg(long = "services-file", value_name = "FILE")]
    services_files: Vec<PathBuf>,
    /// The domain `{default}` stands for in routes.yaml (default: NAME.localhost).
    #[arg(long, value_name = "DOMAIN")]
    domain: Option<String>,
}

impl SettingsArgs {
    fn settings(self, unset_vars: Vec<String>, unset_services: Vec<String>) -> Settings {
        Settings {
            vars: self.vars,
            runtime_vars: self.runtime_vars,
            services: self.services,
            services_files: self.services_files,
            domain: self.domain,
            unset_vars,
            unset_services,
        }
    }
}

pub fn run(ctx: &Context, a: Args) -> CmdResult {
    match a.action {
        Action::Add {
            name,
            target,
            branch,
            settings,
        } => {
            let store = ctx.open_or_init()?;
            let settings = settings.settings(Vec::new(), Vec::new());
            let env = manage::add(&store, &name, &target, branch, &settings)?;
            if ctx.global.json {
                ctx.print_json(&env.redacted());
            } else {
                ctx.note(&format!(
                    "added environment {} (target {}, branch {})",
                    env.name,
                    env.target.display(),
                    env.branch()
                ));
            }
        }
        Action::Set {
            name,
            settings,
            unset_vars,
            unset_services,
        } => {
            let store = ctx.open()?;
            let settings = settings.settings(unset_vars, unset_services);
            let env = manage::update(&store, &name, &settings)?;
            if ctx.global.json {
                ctx.print_json(&env.redacted());
            } else {
                ctx.note(&format!("updated environment {name}"));
            }
        }
        Action::Ls => {
            let rows = manage::list_live(&ctx.store_path().0)?;
            if ctx.global.json {
                let json: Vec<_> = rows
                    .iter()
                    .map(|(e, live)| serde_json::json!({ "environment": e.redacted(), "live": live }))
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
            let (e, live) = manage::get_live(&ctx.store_path().0, &name)?;
            if ctx.global.json {
                ctx.print_json(&serde_json::json!({ "environment": e.redacted(), "live": live }));
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
                for (k, v) in &e.services {
                    out!("service     {k}={v}");
                }
                out!("domain      {}", e.domain());
            }
        }
        Action::Rm { name } => {
            let e = manage::remove(&ctx.open()?, &name)?;
            if ctx.global.json {
                ctx.print_json(&e.redacted());
            } else {
                ctx.note(&format!(
                    "removed environment {} ({} left as it is)",
                    e.name,
                    e.target.display()
                ));
            }
        }
        Action::Which { branch } => {
            let e = manage::for_branch(&ctx.store_path().0, &branch)?;
            if ctx.global.json {
                ctx.print_json(&e.redacted());
            } else {
                out!("{}", e.name);
            }
        }
        Action::Log { name } => {
            let entries = manage::history_of(&ctx.store_path().0, &name)?;
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
