//! Changing an environment: variables, service endpoints and domain, as `slug env add` and
//! `slug env set` give them.
//!
//! Endpoints come one by one (`--service database=mysql://...`) or from a file of `NAME=URL` lines,
//! which keeps passwords out of shell history and process listings. Errors name the file and line,
//! never the password.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::environment::{parse_assignment, Endpoint, Environment};
use crate::error::{Error, IoResultExt, Result};

/// The largest services file read.
const MAX_SERVICES_FILE: u64 = 1 << 20;

/// What to change in an environment. Empty fields change nothing.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Settings {
    /// Variables of every hook, build included (`NAME=VALUE`).
    pub vars: Vec<String>,
    /// Variables of the deploy and post-deploy hooks (`NAME=VALUE`).
    pub runtime_vars: Vec<String>,
    /// Service endpoints, `NAME=URL` (NAME: a relationship or a service).
    #[serde(skip)]
    pub services: Vec<String>,
    /// Files of `NAME=URL` lines (`#` starts a comment).
    pub services_files: Vec<PathBuf>,
    /// The domain `{default}` expands to.
    pub domain: Option<String>,
    /// Variables to remove (either kind).
    pub unset_vars: Vec<String>,
    /// Endpoints to remove.
    pub unset_services: Vec<String>,
}

impl Settings {
    /// Applies the changes to `env`; nothing is changed when any of them is invalid.
    pub fn apply(&self, env: &mut Environment) -> Result<()> {
        let mut next = env.clone();
        for name in &self.unset_vars {
            let had = next.variables.remove(name).is_some()
                | next.runtime_variables.remove(name).is_some();
            if !had {
                return Err(Error::UnknownVariable {
                    environment: env.name.clone(),
                    name: name.to_string(),
                });
            }
        }
        for name in &self.unset_services {
            if next.services.remove(name).is_none() {
                return Err(Error::UnknownEndpoint {
                    environment: env.name.clone(),
                    name: name.to_string(),
                });
            }
        }
        for s in &self.vars {
            let (k, v) = parse_assignment(s)?;
            next.runtime_variables.remove(&k);
            next.variables.insert(k, v);
        }
        for s in &self.runtime_vars {
            let (k, v) = parse_assignment(s)?;
            next.variables.remove(&k);
            next.runtime_variables.insert(k, v);
        }
        for file in &self.services_files {
            next.services.extend(read_services_file(file)?);
        }
        for s in &self.services {
            let (k, v) = parse_service(s)?;
            next.services.insert(k, v);
        }
        if let Some(d) = &self.domain {
            check_domain(d)?;
            next.domain = Some(d.clone());
        }
        *env = next;
        Ok(())
    }
}

/// Parses `NAME=URL`.
pub fn parse_service(s: &str) -> Result<(String, Endpoint)> {
    let Some((name, url)) = s.split_once('=') else {
        return Err(Error::NotAnEndpoint);
    };
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-');
    if !ok {
        return Err(Error::InvalidEndpointName(name.to_owned()));
    }
    Ok((name.to_owned(), Endpoint::parse(url)?))
}

/// Reads a file of `NAME=URL` lines; blank lines and `#` comments are skipped.
pub fn read_services_file(path: &Path) -> Result<BTreeMap<String, Endpoint>> {
    let meta = std::fs::metadata(path).at(path)?;
    if !meta.is_file() || meta.len() > MAX_SERVICES_FILE {
        return Err(Error::ServicesFile {
            path: path.to_path_buf(),
            max: MAX_SERVICES_FILE,
        });
    }
    let text = std::fs::read_to_string(path).at(path)?;
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (k, v) = parse_service(line).map_err(|e| Error::ServicesLine {
            path: path.to_path_buf(),
            line: i + 1,
            source: Box::new(e),
        })?;
        out.insert(k, v);
    }
    Ok(out)
}

/// A host name: letters, digits, `-` and `.`.
fn check_domain(d: &str) -> Result<()> {
    let ok = !d.is_empty()
        && d.len() <= 253
        && d.bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidDomain(d.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_all_or_nothing() {
        let mut env = Environment::new("prod", "/srv/prod");
        let s = Settings {
            vars: vec!["A=1".into()],
            services: vec!["database=mysql://u:pw@db:3306/main".into()],
            domain: Some("shop.example.com".into()),
            ..Settings::default()
        };
        s.apply(&mut env).unwrap();
        assert_eq!(env.variables["A"], "1");
        assert_eq!(env.services["database"].host, "db");
        assert_eq!(env.domain(), "shop.example.com");
        let bad = Settings {
            vars: vec!["B=2".into()],
            services: vec!["cache=nope".into()],
            ..Settings::default()
        };
        assert!(bad.apply(&mut env).is_err());
        assert!(
            !env.variables.contains_key("B"),
            "a failed change changed something"
        );
    }

    #[test]
    fn services_file_errors_name_the_line_not_the_password() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("services");
        std::fs::write(
            &f,
            "# endpoints\ndatabase=mysql://u:s3cret@db:3306/main\n\ncache=redis://u:s3cret@cache:xx\n",
        )
        .unwrap();
        let err = read_services_file(&f).unwrap_err().to_string();
        assert!(err.contains(":4:"), "{err}");
        assert!(!err.contains("s3cret"), "{err}");
    }
}
