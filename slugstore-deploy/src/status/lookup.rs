//! Finding and reading the records of past deploys on a target, from files alone (no store, no lock):
//! a deploy in progress is read as far as its last atomic rewrite.

use std::fs;
use std::path::{Path, PathBuf};

use super::{DeployRecord, DEPLOYS};
use crate::error::{Error, IoResultExt, Result};

/// The ids of the deploys recorded on the target, oldest first.
pub fn list(target_root: &Path) -> Result<Vec<String>> {
    let dir = target_root.join(DEPLOYS);
    let rd = match fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(&dir, e)),
    };
    let mut ids = Vec::new();
    for entry in rd {
        let name = entry.at(&dir)?.file_name();
        if let Some(id) = name.to_str().and_then(|n| n.strip_suffix(".json")) {
            if !id.starts_with('.') {
                ids.push(id.to_owned());
            }
        }
    }
    ids.sort();
    Ok(ids)
}

/// Resolves a deploy id given by the user (a unique prefix), or the last deploy when `None`.
pub fn resolve(target_root: &Path, id: Option<&str>) -> Result<String> {
    let ids = list(target_root)?;
    let found: Vec<&String> = match id {
        None => ids.last().into_iter().collect(),
        Some(p) => ids.iter().filter(|i| i.starts_with(p)).collect(),
    };
    match found.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(Error::NoDeploy {
            dir: target_root.join(DEPLOYS),
            prefix: id.map(str::to_owned),
        }),
        many => Err(Error::AmbiguousDeploy {
            prefix: id.unwrap_or_default().to_owned(),
            candidates: many.iter().map(|s| s.to_string()).collect(),
        }),
    }
}

/// Reads the record of deploy `id`.
pub fn load(target_root: &Path, id: &str) -> Result<DeployRecord> {
    let path = target_root.join(DEPLOYS).join(format!("{id}.json"));
    let text = fs::read(&path).at(&path)?;
    serde_json::from_slice(&text)
        .map_err(|e| Error::format(path.display().to_string(), e.to_string()))
}

/// The log file of deploy `id`.
pub fn log_path(target_root: &Path, id: &str) -> PathBuf {
    target_root.join(DEPLOYS).join(format!("{id}.log"))
}
