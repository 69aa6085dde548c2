//! Resolving a step's declared inputs into [`Input`]s: reading files, matching globs, scanning
//! trees, reading variables, running tools.
//!
//! Trees go through the snapshot's scanner and its stat cache (`snapshot::scan_tree`), so
//! an unchanged 50k-file `vendor/` is a stat pass, and their id is the id a slug of that directory
//! would have: an earlier step's output that came out the same keys the same (early cutoff). The
//! files a tree scan reads are stored (the stat cache may only name stored objects) and so is the
//! tree's manifest, which lets `slug cache explain` say which file of a tree changed. Nothing is
//! excluded implicitly, except the store itself when it lies inside a tree.

use std::fs;
use std::io::ErrorKind;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use super::glob;
use super::key::Input;
use crate::error::{Error, IoResultExt, Result};
use crate::id::ObjectId;
use crate::scan::{self, Excludes, Found};
use crate::snapshot::scan_tree;
use crate::store::commit::MANIFEST_LEVEL;
use crate::store::Store;

/// What a step declares it depends on (paths relative to the working directory, no `..`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct InputSpec {
    /// A file, by content (an absent file is an input state too).
    #[cfg_attr(feature = "clap", arg(long = "file", value_name = "PATH"))]
    pub files: Vec<String>,
    /// The regular files matching a pattern (`*`, `?`, `**`), by path and content.
    #[cfg_attr(feature = "clap", arg(long = "glob", value_name = "PATTERN"))]
    pub globs: Vec<String>,
    /// A directory, by content (through the scanner and its stat cache).
    #[cfg_attr(feature = "clap", arg(long = "tree", value_name = "DIR"))]
    pub trees: Vec<String>,
    /// An environment variable, or every variable starting with PREFIX (`'PREFIX*'`).
    #[cfg_attr(feature = "clap", arg(long = "env", value_name = "NAME"))]
    pub envs: Vec<String>,
    /// A command (run by `sh -c`) whose standard output is part of the key, e.g. `php -v`.
    #[cfg_attr(feature = "clap", arg(long = "tool", value_name = "COMMAND"))]
    pub tools: Vec<String>,
}

/// Where a step runs: the build root and the working directory inside it, both canonical.
#[derive(Debug, Clone)]
pub struct Workdir {
    /// The build root.
    pub root: PathBuf,
    /// The working directory.
    pub cwd: PathBuf,
    /// The working directory relative to the root (`""` at the root).
    pub rel: String,
}

impl Workdir {
    /// The process's working directory inside `root` (default: the working directory itself).
    pub fn current(root: Option<&Path>) -> Result<Workdir> {
        let cwd = std::env::current_dir().at(".")?;
        let cwd = cwd.canonicalize().at(&cwd)?;
        let root = match root {
            Some(r) => r.canonicalize().at(r)?,
            None => cwd.clone(),
        };
        let rel = cwd
            .strip_prefix(&root)
            .map_err(|_| Error::OutsideBuildRoot {
                cwd: cwd.to_path_buf(),
                root: root.to_path_buf(),
            })?;
        let rel = rel.to_string_lossy().into_owned();
        Ok(Workdir { root, cwd, rel })
    }

    /// A path relative to the working directory, normalized (`..` refused).
    pub fn path(&self, rel: &str) -> Result<(String, PathBuf)> {
        let rel = scan::normalize_rel(rel)?;
        let abs = if rel.is_empty() {
            self.cwd.clone()
        } else {
            self.cwd.join(&rel)
        };
        Ok((rel, abs))
    }
}

/// Resolves `spec` in `wd`. The trees' scans (objects and stat-cache changes) are committed to
/// `store` in one batch.
pub fn resolve(store: &Store, wd: &Workdir, spec: &InputSpec) -> Result<Vec<Input>> {
    let mut inputs = Vec::new();
    for f in &spec.files {
        let (path, abs) = wd.path(f)?;
        inputs.push(Input::File {
            hash: hash_file(&abs)?,
            path,
        });
    }
    for g in &spec.globs {
        inputs.push(resolve_glob(store, wd, g)?);
    }
    for e in &spec.envs {
        inputs.extend(resolve_env(e));
    }
    for t in &spec.tools {
        inputs.push(run_tool(wd, t)?);
    }
    let writer = store.writer();
    let mut scans = Vec::new();
    for t in &spec.trees {
        let (path, abs) = wd.path(t)?;
        let tree = match fs::metadata(&abs) {
            Ok(m) if m.is_dir() => {
                let abs = abs.canonicalize().at(&abs)?;
                let ex = store_excluded(store, &abs)?;
                let scan = scan_tree(store, &writer, &abs, scan::WalkSpec::new(&ex))?;
                let (id, _) = writer.add_at_level(&scan.manifest.encode(), MANIFEST_LEVEL)?;
                scans.push(scan);
                Some(id)
            }
            Ok(_) => {
                return Err(Error::BadOption {
                    option: "--tree".into(),
                    value: t.to_string(),
                    why: "not a directory".into(),
                })
            }
            Err(e) if e.kind() == ErrorKind::NotFound => None,
            Err(e) => return Err(Error::io(&abs, e)),
        };
        inputs.push(Input::Tree { path, tree });
    }
    let staged = writer.finish()?;
    let mut batch = store.index().batch();
    staged.stage(&mut batch)?;
    for s in &scans {
        s.stage(&mut batch)?;
    }
    if !batch.is_empty() {
        batch.commit()?;
    }
    Ok(inputs)
}

/// The store's own directory when it lies inside `dir`: the only thing a scan leaves out.
pub(super) fn store_excluded(store: &Store, dir: &Path) -> Result<Excludes> {
    let mut ex = Excludes::default();
    let root = store.root().canonicalize().at(store.root())?;
    if let Ok(rel) = root.strip_prefix(dir) {
        ex.add_bytes(rel.as_os_str().as_bytes());
    }
    Ok(ex)
}

/// BLAKE3 of a regular file (following symlinks), `None` when there is none.
fn hash_file(path: &Path) -> Result<Option<ObjectId>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(ObjectId::hash(&bytes))),
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => Ok(None),
        Err(e) if e.kind() == ErrorKind::IsADirectory => Err(Error::BadOption {
            option: "--file".into(),
            value: path.display().to_string(),
            why: "a directory (use --tree)".into(),
        }),
        Err(e) => Err(Error::io(path, e)),
    }
}

fn resolve_glob(store: &Store, wd: &Workdir, pattern: &str) -> Result<Input> {
    let pattern = scan::normalize_rel(pattern)?;
    let (base, abs) = wd.path(&glob::base(&pattern))?;
    let mut files = Vec::new();
    if fs::metadata(&abs).is_ok_and(|m| m.is_dir()) {
        let ex = store_excluded(store, &abs.canonicalize().at(&abs)?)?;
        let walked = scan::walk(&abs, scan::WalkSpec::new(&ex))?;
        for w in walked.entries {
            let Found::File(_) = w.found else { continue };
            let rel = String::from_utf8_lossy(&w.rel);
            let path = if base.is_empty() {
                rel.into_owned()
            } else {
                format!("{base}/{rel}")
            };
            if glob::matches(&pattern, &path) {
                let id = hash_file(&wd.cwd.join(&path))?.expect("just walked");
                files.push((path, id));
            }
        }
    }
    Ok(Input::Glob { pattern, files })
}

fn resolve_env(spec: &str) -> Vec<Input> {
    let hash = |v: &std::ffi::OsStr| ObjectId::hash(v.as_bytes());
    match spec.strip_suffix('*') {
        Some(prefix) => {
            let mut vars: Vec<Input> = std::env::vars_os()
                .filter_map(|(k, v)| {
                    let name = k.to_str()?;
                    name.starts_with(prefix).then(|| Input::Env {
                        name: name.to_owned(),
                        hash: Some(hash(&v)),
                    })
                })
                .collect();
            vars.sort();
            vars
        }
        None => vec![Input::Env {
            name: spec.to_owned(),
            hash: std::env::var_os(spec).map(|v| hash(&v)),
        }],
    }
}

fn run_tool(wd: &Workdir, command: &str) -> Result<Input> {
    let out = Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(&wd.cwd)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|e| Error::io(format!("--tool `{command}`"), e))?;
    Ok(Input::Tool {
        command: command.to_owned(),
        hash: ObjectId::hash(&out.stdout),
        status: out.status.code().unwrap_or(-1),
    })
}
