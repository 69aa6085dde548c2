//! Writes a planned tree to disk.
//!
//! Directories are made first (sequentially, parents before children), then files are written in
//! parallel with rayon: a tree of 100,000 small files is bound by per-file system calls, so spreading
//! them over threads matters more than anything done within a file.

use std::fs;
use std::io::{BufWriter, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use rayon::prelude::*;
use slugstore::error::IoResultExt;
use slugstore::{Error, Result};

use crate::content::write_content;
use crate::plan::{plan, FileSpec, TreePlan};
use crate::shape::Size;

/// The `.magento.app.yaml` written at the root of every generated tree.
pub const APP_YAML: &str = "\
name: storefront
type: php:8.3
build:
  flavor: none
disk: 5120
mounts:
  \"var\": \"shared:files/var\"
  \"app/etc\": \"shared:files/etc\"
  \"pub/media\": \"shared:files/media\"
  \"pub/static\": \"shared:files/static\"
hooks:
  build: |
    set -e
    php ./vendor/bin/ece-tools run scenario/build/generate.xml
  deploy: |
    php ./vendor/bin/ece-tools run scenario/deploy.xml
";

/// What was written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct GenReport {
    /// Regular files written (including `.magento.app.yaml`).
    pub files: u64,
    /// Directories made.
    pub dirs: u64,
    /// Symlinks made.
    pub links: u64,
    /// Bytes written.
    pub bytes: u64,
}

/// Generates the tree of `size` for `seed` into `root`, which must not exist or be empty.
pub fn generate(root: &Path, size: Size, seed: u64) -> Result<GenReport> {
    write_plan(root, &plan(size, seed))
}

/// Writes `plan` into `root`, which must not exist or be empty.
pub fn write_plan(root: &Path, plan: &TreePlan) -> Result<GenReport> {
    if root.exists() && fs::read_dir(root).at(root)?.next().is_some() {
        return Err(Error::external(format!(
            "{}: not empty, refusing to generate a tree into it",
            root.display()
        )));
    }
    fs::create_dir_all(root).at(root)?;
    for d in &plan.dirs {
        let p = root.join(d);
        fs::create_dir(&p).at(&p)?;
    }
    let bytes = plan
        .files
        .par_iter()
        .with_min_len(32)
        .map(|f| write_file(root, f).map(|()| f.size))
        .try_reduce(|| 0, |a, b| Ok(a + b))?;
    for l in &plan.links {
        let p = root.join(&l.path);
        std::os::unix::fs::symlink(&l.target, &p).at(&p)?;
    }
    let yaml = root.join(".magento.app.yaml");
    fs::write(&yaml, APP_YAML).at(&yaml)?;
    Ok(GenReport {
        files: plan.files.len() as u64 + 1,
        dirs: plan.dirs.len() as u64,
        links: plan.links.len() as u64,
        bytes: bytes + APP_YAML.len() as u64,
    })
}

/// Writes one planned file (create or truncate), with its mode.
pub fn write_file(root: &Path, f: &FileSpec) -> Result<()> {
    let p = root.join(&f.path);
    let file = fs::File::create(&p).at(&p)?;
    let mut w = BufWriter::with_capacity(64 * 1024, file);
    write_content(&mut w, f.kind, f.size, f.seed).at(&p)?;
    w.flush().at(&p)?;
    if f.executable {
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).at(&p)?;
    }
    Ok(())
}
