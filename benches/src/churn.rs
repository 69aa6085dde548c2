//! Simulated code changes between two builds.
//!
//! A code change edits a few lines in most touched files, adds a few files and deletes a few. Each
//! changed file is written to a temporary name and renamed over the original, so a tree made with
//! hard links to another (`cp -al`) can be churned without changing the other one.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use slugstore::error::IoResultExt;
use slugstore::{Error, Result};

use crate::content::{fresh_lines, write_content, ContentKind};
use crate::plan::STATIC_DIR;
use crate::rng::{derive, hash_str, Rng};
use crate::walk::{is_under_any, walk};

/// Which files a churn may touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every file of the slug: all but the writable mounts `var`, `app/etc`, `pub/media`.
    Tree,
    /// Deployed static assets under `pub/static` only.
    Static,
}

/// What a churn did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ChurnReport {
    /// Files in scope before the churn.
    pub considered: u64,
    /// Files whose content changed.
    pub edited: u64,
    /// Files created.
    pub added: u64,
    /// Files removed.
    pub deleted: u64,
}

impl ChurnReport {
    /// Edited + added + deleted.
    pub fn changed(&self) -> u64 {
        self.edited + self.added + self.deleted
    }
}

const WRITABLE_MOUNTS: &[&str] = &["var", "app/etc", "pub/media"];

/// Changes `percent` % of the files in `scope` below `root`, deterministically from `seed`:
/// 85 % of the changes are edits, 10 % additions, 5 % deletions.
pub fn churn(root: &Path, percent: f64, seed: u64, scope: Scope) -> Result<ChurnReport> {
    if !(0.0..=100.0).contains(&percent) {
        return Err(Error::external(format!(
            "churn percentage {percent} is not within 0-100"
        )));
    }
    let scan_root = match scope {
        Scope::Tree => root.to_path_buf(),
        Scope::Static => root.join(STATIC_DIR),
    };
    let mut files: Vec<PathBuf> = walk(&scan_root)?
        .into_iter()
        .filter(|e| e.meta.is_file())
        .filter(|e| scope == Scope::Static || !is_under_any(&e.rel, WRITABLE_MOUNTS))
        .filter(|e| e.rel != Path::new(".magento.app.yaml"))
        .map(|e| scan_root.join(e.rel))
        .collect();
    let considered = files.len() as u64;
    let total =
        ((considered as f64 * percent / 100.0).round() as u64).max(u64::from(percent > 0.0));
    let added = total / 10;
    let deleted = total / 20;
    let edited = total - added - deleted;
    let mut rng = Rng::new(seed);
    rng.shuffle(&mut files);
    let (to_edit, rest) = files.split_at((edited as usize).min(files.len()));
    let (to_delete, rest) = rest.split_at((deleted as usize).min(rest.len()));
    for path in to_edit {
        // Seeded by the path within the tree, so churning two copies of a tree gives the same result.
        let rel = path.strip_prefix(root).unwrap_or(path);
        edit(path, derive(seed, hash_str(&rel.to_string_lossy())))?;
    }
    for path in to_delete {
        fs::remove_file(path).at(path)?;
    }
    let mut made = 0;
    for i in 0..added {
        // New files appear beside existing ones (a new class in a module, a new template).
        let Some(beside) = rest.get(i as usize).or_else(|| to_edit.get(i as usize)) else {
            break;
        };
        add_beside(beside, derive(seed, 0x0add_0000 + i))?;
        made += 1;
    }
    Ok(ChurnReport {
        considered,
        edited: to_edit.len() as u64,
        added: made,
        deleted: to_delete.len() as u64,
    })
}

fn ext_of(path: &Path) -> String {
    path.extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default()
}

/// Replaces `path` by a temporary sibling filled by `fill`, keeping its mode.
fn replace(path: &Path, fill: impl FnOnce(&mut fs::File) -> std::io::Result<()>) -> Result<()> {
    let mode = fs::metadata(path).at(path)?.permissions().mode();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.churn-tmp"));
    let mut f = fs::File::create(&tmp).at(&tmp)?;
    fill(&mut f).at(&tmp)?;
    drop(f);
    fs::set_permissions(&tmp, fs::Permissions::from_mode(mode)).at(&tmp)?;
    fs::rename(&tmp, path).at(path)
}

/// Edits one file: a text file gets about one line in twenty replaced (at least one) and sometimes a
/// line added; a binary file (an image re-exported) is rewritten whole at the same size.
fn edit(path: &Path, seed: u64) -> Result<()> {
    let kind = ContentKind::for_extension(&ext_of(path));
    let mut rng = Rng::new(seed);
    if !kind.is_text() {
        let size = fs::metadata(path).at(path)?.len();
        return replace(path, |f| write_content(f, kind, size, seed));
    }
    let old = fs::read(path).at(path)?;
    let mut lines: Vec<&[u8]> = old.split_inclusive(|&b| b == b'\n').collect();
    let count = (lines.len() / 20).max(1);
    let fresh = fresh_lines(kind, &mut rng, count + 1);
    for l in fresh.iter().take(count) {
        if lines.is_empty() {
            lines.push(l);
        } else {
            let at = rng.below(lines.len());
            lines[at] = l;
        }
    }
    if rng.chance(0.5) {
        let at = rng.below(lines.len() + 1);
        lines.insert(at, &fresh[count]);
    }
    replace(path, |f| {
        for l in &lines {
            f.write_all(l)?;
        }
        Ok(())
    })
}

/// Adds a new file next to `beside`, of the same extension and a similar size.
fn add_beside(beside: &Path, seed: u64) -> Result<()> {
    let ext = ext_of(beside);
    let stem = beside
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let size = fs::metadata(beside).map(|m| m.len()).unwrap_or(2048);
    let mut n = 1;
    let path = loop {
        let p = beside.with_file_name(format!("{stem}New{n}{ext}"));
        if !p.exists() {
            break p;
        }
        n += 1;
    };
    let mut f = fs::File::create(&path).at(&path)?;
    write_content(&mut f, ContentKind::for_extension(&ext), size, seed).at(&path)
}
