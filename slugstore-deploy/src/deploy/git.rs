//! Deploying a commit of a git repository, without a working copy.
//!
//! The platform builds what was pushed, not what some checkout happens to hold, and names the build by
//! the commit's *tree* id: two commits with the same tree (a revert, a merge that changes nothing, the
//! same code on another branch) are the same build ("Reusing existing build for this tree ID"). So a git
//! deploy resolves the revision to its commit and tree with `git rev-parse`, reads the configuration
//! straight from the commit (`git ls-tree`, `git cat-file`), keys the build by the tree id, and only
//! when no build of that key is stored streams the tree out with `git archive` into the store's
//! archive import, which treats it as any untrusted tar (nothing is extracted; the build directory is
//! then restored from the resulting slug like any other source).
//!
//! Git runs as a child process with the repository given explicitly: a `post-receive` hook runs with
//! `GIT_DIR` and friends set for its own repository, and they must not leak into ours.

use crate::status::GitCommit;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use crate::config::{too_large, MAX_FILE_BYTES};
use crate::error::{Error, Result};
use slugstore::archive::{import, ImportOptions};
use slugstore::id::SlugId;
use slugstore::progress::ProgressBars;
use slugstore::store::Store;

/// Variables git sets for hooks that would redirect a child `git` to another repository.
const GIT_ENV: &[&str] = &[
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_QUARANTINE_PATH",
    "GIT_PREFIX",
];

/// A revision of a repository, as the user named it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitSource {
    /// The repository (bare or not).
    pub repo: PathBuf,
    /// The revision: a branch, tag, commit id or any `git rev-parse` expression.
    pub rev: String,
}

impl GitSource {
    /// Revision `rev` of `repo`; without one, the head of `branch` when given, else `HEAD`.
    pub fn new(repo: impl Into<PathBuf>, rev: Option<String>, branch: Option<&str>) -> GitSource {
        GitSource {
            repo: repo.into(),
            rev: rev
                .or_else(|| branch.map(|b| format!("refs/heads/{b}")))
                .unwrap_or_else(|| "HEAD".to_owned()),
        }
    }

    /// Resolves the revision to its commit and tree, with an error naming the repository and the
    /// revision when either does not exist.
    pub fn resolve(&self) -> Result<GitCommit> {
        let repo = self.repo.canonicalize().map_err(|source| Error::GitRepo {
            repo: self.repo.clone(),
            source,
        })?;
        if self.rev.starts_with('-') || self.rev.is_empty() {
            return Err(Error::BadRevision(self.rev.clone()));
        }
        let git_dir = git(&repo, &["rev-parse", "--git-dir"]).output_text();
        if git_dir.is_err() {
            return Err(Error::NotAGitRepo(repo));
        }
        let commit = git(
            &repo,
            &[
                "rev-parse",
                "--verify",
                "--quiet",
                &format!("{}^{{commit}}", self.rev),
            ],
        )
        .output_text()
        .map_err(|_| Error::UnknownRevision {
            rev: self.rev.clone(),
            repo: repo.clone(),
        })?;
        let tree = git(
            &repo,
            &["rev-parse", "--verify", &format!("{commit}^{{tree}}")],
        )
        .output_text()?;
        Ok(GitCommit {
            repo,
            rev: self.rev.clone(),
            commit,
            tree,
        })
    }
}

impl GitCommit {
    /// `REPO@REV`, for messages.
    pub fn describe(&self) -> String {
        format!("{}@{}", self.repo.display(), self.rev)
    }

    /// The bytes of the file at `path` in the commit, `None` when the commit has no such file. Like a
    /// file of a slug, it must be a regular file (a symlink, a directory or a submodule is refused by
    /// name) within the configuration size limit, both checked before its bytes are read.
    pub fn read_file(&self, path: &str) -> std::result::Result<Option<Vec<u8>>, String> {
        let cannot = |e: Error| format!("cannot read: {e}");
        // `<mode> <type> <id> <size>\t<path>`, or nothing when the commit has no such path.
        let listing = git(
            &self.repo,
            &["ls-tree", "-l", "--full-tree", &self.commit, "--", path],
        )
        .output_text()
        .map_err(cannot)?;
        let Some((fields, _)) = listing.split_once('\t') else {
            return Ok(None);
        };
        let unexpected = || format!("cannot read: unexpected `git ls-tree` output `{listing}`");
        let [mode, _, id, size] = fields.split_whitespace().collect::<Vec<_>>()[..] else {
            return Err(unexpected());
        };
        let what = match mode {
            "100644" | "100755" => None,
            "120000" => Some("a symlink"),
            "040000" => Some("a directory"),
            "160000" => Some("a submodule"),
            _ => Some("an unknown kind of entry"),
        };
        if let Some(what) = what {
            return Err(format!(
                "is {what} in commit {}; a configuration file must be a regular file",
                self.commit
            ));
        }
        let size: u64 = size.parse().map_err(|_| unexpected())?;
        if size > MAX_FILE_BYTES {
            return Err(too_large(size));
        }
        git(&self.repo, &["cat-file", "blob", id])
            .output()
            .map(Some)
            .map_err(cannot)
    }

    /// Streams the commit's tree into `store` as a slug (`git archive` into the archive import) and
    /// returns its id.
    pub fn export(&self, store: &Store, bars: &dyn ProgressBars) -> Result<SlugId> {
        let mut child = git(&self.repo, &["archive", "--format=tar", &self.commit])
            .cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| Error::Spawn {
                program: "git".into(),
                cwd: None,
                source,
            })?;
        let mut stdout = child.stdout.take().expect("piped");
        let mut stderr = child.stderr.take().expect("piped");
        let opts = ImportOptions {
            message: Some(format!(
                "git tree {} (commit {} of {})",
                self.tree,
                self.commit,
                self.repo.display()
            )),
            ..ImportOptions::default()
        };
        let (imported, err_text) = std::thread::scope(|s| {
            let err = s.spawn(move || {
                let mut text = String::new();
                let _ = stderr.read_to_string(&mut text);
                text
            });
            let imported = import(store, &mut stdout, &self.describe(), None, &opts, bars);
            // Unblock git if the import stopped early, so the wait below returns.
            drop(stdout);
            (imported, err.join().unwrap_or_default())
        });
        let status = child.wait().map_err(|source| Error::Wait {
            program: "git archive".into(),
            source,
        })?;
        // An import that stopped early made git fail on a closed pipe: the import's error is the cause.
        let imported = imported?;
        if !status.success() {
            return Err(Error::GitArchiveFailed {
                commit: self.describe(),
                status,
                stderr: err_text.trim().to_owned(),
            });
        }
        Ok(imported.slug)
    }
}

/// A `git` command on `repo`, with the hook variables of any enclosing git removed.
struct Git {
    cmd: Command,
    what: String,
}

fn git(repo: &Path, args: &[&str]) -> Git {
    let mut cmd = Command::new("git");
    cmd.arg("-C").arg(repo).args(args).stdin(Stdio::null());
    for v in GIT_ENV {
        cmd.env_remove(v);
    }
    Git {
        cmd,
        what: format!("git {}", args.join(" ")),
    }
}

impl Git {
    /// Runs the command, returning its stdout; an error with its stderr when it fails.
    fn output(mut self) -> Result<Vec<u8>> {
        let out = self.cmd.output().map_err(|source| Error::Spawn {
            program: "git".into(),
            cwd: None,
            source,
        })?;
        if !out.status.success() {
            return Err(Error::GitFailed {
                command: self.what,
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            });
        }
        Ok(out.stdout)
    }

    /// As [`Git::output`], the output as one trimmed line of text.
    fn output_text(self) -> Result<String> {
        let out = self.output()?;
        Ok(String::from_utf8_lossy(&out).trim().to_owned())
    }
}
