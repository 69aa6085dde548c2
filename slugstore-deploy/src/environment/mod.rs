//! Environments: named deploy targets, and promoting a built slug from one to the next.
//!
//! The platform's workflow builds once and promotes the *same* build integration → staging →
//! production; it never rebuilds for a later environment, because a rebuild could produce different
//! bytes from the same commit (a dependency resolved again, a clock, a network fetch). An environment
//! here is a name for a deploy target directory, with what distinguishes one environment from another:
//!
//! - `variables`: environment variables every hook of the environment sees, the build's included.
//!   Because the build sees them they are part of the build key, and a slug built with other values is
//!   not what this environment would build: [`promote()`](crate::deploy::promote::promote()) refuses it unless forced.
//! - `runtime_variables`: seen by the deploy and post-deploy hooks only (database credentials, hosts),
//!   so they may differ between environments that promote to one another.
//! - `branch`: the git branch whose pushes deploy here (see the `post-receive` hook of the
//!   repository), the environment's name when not set.
//! - `services`: where each relationship's service is ([`Endpoint`]), for `PLATFORM_RELATIONSHIPS`;
//!   `domain`: what `{default}` of routes.yaml expands to in `PLATFORM_ROUTES`. Endpoints hold
//!   credentials: the registry is written readable by its owner only, and they are shown redacted.
//!
//! The registry is one JSON file in the store directory, `environments.json`, replaced atomically. It is
//! read without the store's lock (a status page reads it while a deploy holds the store) and changed
//! only by commands holding the store open, so two changes never interleave. [`manage`] holds the
//! operations on it as whole steps (load, change, save) and the deploy destinations it names.

pub mod destination;
pub mod endpoint;
pub mod history;
pub mod manage;
pub mod resolve;
pub mod settings;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, IoResultExt, Result};
use slugstore::fsutil;
use slugstore::store::Store;

pub use destination::Destination;
pub use endpoint::Endpoint;
pub use history::{history, HistoryEntry, HistoryKind};
pub use manage::{destination, destination_for_branch, for_branch};
pub use resolve::resolve;
pub use settings::Settings;

/// The registry's file name in the store directory.
pub const FILE: &str = "environments.json";

/// One environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Environment {
    /// Its name (`staging`).
    pub name: String,
    /// The deploy target directory (absolute).
    pub target: PathBuf,
    /// The git branch that deploys here; the environment's name when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Variables of every hook, the build's included (part of the build key).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub variables: BTreeMap<String, String>,
    /// Variables of the deploy and post-deploy hooks only.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub runtime_variables: BTreeMap<String, String>,
    /// Where the services are, by relationship name (or service name, for every relationship to it).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub services: BTreeMap<String, Endpoint>,
    /// The domain `{default}` stands for in routes.yaml (`<name>.localhost` when not set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
}

impl Environment {
    /// A new environment called `name` deploying to `target`, with nothing else set.
    pub fn new(name: impl Into<String>, target: impl Into<PathBuf>) -> Environment {
        Environment {
            name: name.into(),
            target: target.into(),
            branch: None,
            variables: BTreeMap::new(),
            runtime_variables: BTreeMap::new(),
            services: BTreeMap::new(),
            domain: None,
        }
    }

    /// The branch whose pushes deploy to this environment.
    pub fn branch(&self) -> &str {
        self.branch.as_deref().unwrap_or(&self.name)
    }

    /// The domain `{default}` expands to in its routes.
    pub fn domain(&self) -> String {
        self.domain
            .clone()
            .unwrap_or_else(|| format!("{}.localhost", self.name))
    }

    /// What may be shown of it: the services' passwords replaced by `***`, as text.
    pub fn redacted(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).expect("an environment serializes");
        if let Some(services) = v.get_mut("services").and_then(|s| s.as_object_mut()) {
            for (name, url) in services.iter_mut() {
                *url = serde_json::Value::String(self.services[name].redacted());
            }
        }
        v
    }
}

/// The environments of a store, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registry {
    /// Format version of the file.
    pub version: u32,
    /// Every environment, by name.
    pub environments: BTreeMap<String, Environment>,
}

const VERSION: u32 = 1;

impl Registry {
    /// Path of the registry of the store at `store_root`.
    pub fn path(store_root: &Path) -> PathBuf {
        store_root.join(FILE)
    }

    /// Reads the registry of the store at `store_root` (empty when the file does not exist). Takes no
    /// lock: the file is only ever replaced whole.
    pub fn load(store_root: &Path) -> Result<Registry> {
        let path = Registry::path(store_root);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Registry {
                    version: VERSION,
                    ..Registry::default()
                })
            }
            Err(e) => return Err(Error::io(&path, e)),
        };
        let reg: Registry = serde_json::from_slice(&bytes)
            .map_err(|e| Error::format(path.display().to_string(), e.to_string()))?;
        if reg.version != VERSION {
            return Err(Error::format(
                path.display().to_string(),
                format!(
                    "version {} (this slug reads version {VERSION})",
                    reg.version
                ),
            ));
        }
        Ok(reg)
    }

    /// Writes the registry of `store` (atomically: a reader sees the old or the new file).
    pub fn save(&self, store: &Store) -> Result<()> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("registry serializes");
        bytes.push(b'\n');
        // Owner-only: the services' endpoints hold credentials.
        Ok(fsutil::write_atomic_private(
            &Registry::path(store.root()),
            &bytes,
        )?)
    }

    /// The environment called `name`, or an error listing the known ones.
    pub fn get(&self, name: &str) -> Result<&Environment> {
        self.environments
            .get(name)
            .ok_or_else(|| Error::UnknownEnvironment {
                name: name.to_owned(),
                known: self.environments.keys().cloned().collect(),
            })
    }

    /// The environment called `name`, to change it (then [`Registry::save`]).
    pub fn get_mut(&mut self, name: &str) -> Result<&mut Environment> {
        self.get(name)?;
        Ok(self.environments.get_mut(name).expect("checked above"))
    }

    /// The environment deployed by pushes to `branch`, if any.
    pub fn for_branch(&self, branch: &str) -> Option<&Environment> {
        self.environments.values().find(|e| e.branch() == branch)
    }

    /// Adds `env`, refusing a name or a target already used by another environment.
    pub fn add(&mut self, env: Environment) -> Result<()> {
        check_name(&env.name)?;
        if let Some(b) = &env.branch {
            check_branch(b)?;
        }
        for k in env.variables.keys().chain(env.runtime_variables.keys()) {
            check_variable(k)?;
        }
        if self.environments.contains_key(&env.name) {
            return Err(Error::EnvironmentExists(env.name.clone()));
        }
        if let Some(other) = self.environments.values().find(|e| e.target == env.target) {
            return Err(Error::TargetTaken {
                target: env.target.clone(),
                environment: other.name.clone(),
            });
        }
        if let Some(other) = self.for_branch(env.branch()) {
            return Err(Error::BranchTaken {
                branch: env.branch().to_string(),
                environment: other.name.clone(),
            });
        }
        self.environments.insert(env.name.clone(), env);
        Ok(())
    }

    /// Removes the environment `name` (its target directory is left as it is).
    pub fn remove(&mut self, name: &str) -> Result<Environment> {
        self.get(name)?;
        Ok(self.environments.remove(name).expect("checked above"))
    }
}

/// Environment names: what a URL path segment, a branch and a file name all accept unquoted.
pub fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'_')
        && name.as_bytes()[0].is_ascii_alphanumeric();
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidEnvironmentName(name.to_owned()))
    }
}

/// A branch name as git accepts it, roughly: no spaces, control characters or `..`.
fn check_branch(branch: &str) -> Result<()> {
    let ok = !branch.is_empty()
        && !branch.contains("..")
        && !branch.starts_with(['-', '/'])
        && branch
            .chars()
            .all(|c| !c.is_control() && !" ~^:?*[\\".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidBranchName(branch.to_owned()))
    }
}

fn check_variable(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
        && !name.as_bytes()[0].is_ascii_digit();
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidVariableName(name.to_owned()))
    }
}

/// Parses `NAME=VALUE` (a command-line `--var`).
pub fn parse_assignment(s: &str) -> Result<(String, String)> {
    match s.split_once('=') {
        Some((k, v)) => {
            check_variable(k)?;
            Ok((k.to_owned(), v.to_owned()))
        }
        None => Err(Error::NotAnAssignment(s.to_owned())),
    }
}

/// Makes `target` absolute (without requiring it to exist), as environments record it.
pub fn absolute_target(target: &Path) -> Result<PathBuf> {
    let abs = if target.is_absolute() {
        target.to_path_buf()
    } else {
        std::env::current_dir().at(".")?.join(target)
    };
    Ok(match abs.canonicalize() {
        Ok(p) => p,
        Err(_) => abs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str, target: &str) -> Environment {
        Environment::new(name, target)
    }

    #[test]
    fn add_refuses_duplicates_of_name_target_and_branch() {
        let mut r = Registry::default();
        r.add(env("staging", "/srv/staging")).unwrap();
        let e = r.add(env("staging", "/srv/other")).unwrap_err();
        assert!(e.to_string().contains("exists already"), "{e}");
        let e = r.add(env("prod", "/srv/staging")).unwrap_err();
        assert!(
            e.to_string()
                .contains("already the target of environment `staging`"),
            "{e}"
        );
        let mut b = env("prod", "/srv/prod");
        b.branch = Some("staging".into());
        let e = r.add(b).unwrap_err();
        assert!(
            e.to_string().contains("branch `staging` already deploys"),
            "{e}"
        );
        r.add(env("production", "/srv/prod")).unwrap();
        assert_eq!(r.for_branch("production").unwrap().name, "production");
        assert!(r.for_branch("feature").is_none());
    }

    #[test]
    fn unknown_environment_names_the_known_ones() {
        let mut r = Registry::default();
        let e = r.get("prod").unwrap_err().to_string();
        assert!(e.contains("no environment is defined"), "{e}");
        r.add(env("staging", "/a")).unwrap();
        r.add(env("production", "/b")).unwrap();
        let e = r.get("prod").unwrap_err().to_string();
        assert_eq!(e, "unknown environment `prod` (known: production, staging)");
    }

    #[test]
    fn names_and_assignments_are_checked() {
        for bad in ["", "Prod", "-x", "a b", "a/b", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        check_name("prod-2_eu").unwrap();
        assert_eq!(
            parse_assignment("A_1=x=y").unwrap(),
            ("A_1".to_owned(), "x=y".to_owned())
        );
        assert!(parse_assignment("novalue").is_err());
        assert!(parse_assignment("1A=x").is_err());
        assert!(check_branch("feature/x").is_ok());
        assert!(check_branch("a..b").is_err());
    }
}
