//! slugstore through its command-line interface, as an operator would run it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use slugstore::{Error, Result};

use crate::suite::backend::{Backend, Restored};
use crate::suite::exec::{run, Sample};
use crate::suite::tools::Requirement;

/// `slug snapshot` / `slug restore` with a store of its own.
///
/// The [`Slug::watching`] variant keeps a `slug watch` running on each tree it snapshots, started
/// before the tree's first snapshot (not timed: the watcher runs beside the build, as a long-lived
/// process would), so that the snapshots after it take the changed paths from its journal. The
/// [`Slug::uncompressed`] variant stores contents as they are (`--compression off`): what a snapshot
/// costs without zstd, and how much larger the store is.
#[derive(Debug)]
pub struct Slug {
    binary: PathBuf,
    store: PathBuf,
    slugs: Vec<String>,
    watch: bool,
    /// `--compression off`.
    uncompressed: bool,
    watcher: Option<(PathBuf, Child)>,
}

impl Slug {
    /// A backend running the `slug` binary at `binary`.
    pub fn new(binary: PathBuf) -> Self {
        Slug {
            binary,
            store: PathBuf::new(),
            slugs: Vec::new(),
            watch: false,
            uncompressed: false,
            watcher: None,
        }
    }

    /// The same, storing contents uncompressed.
    pub fn uncompressed(binary: PathBuf) -> Self {
        let mut s = Slug::new(binary);
        s.uncompressed = true;
        s
    }

    /// The same, with a `slug watch` on each tree it snapshots.
    pub fn watching(binary: PathBuf) -> Self {
        let mut s = Slug::new(binary);
        s.watch = true;
        s
    }

    /// Starts `slug watch tree` unless it runs already; waits until it watches the whole tree.
    fn ensure_watcher(&mut self, tree: &Path) -> Result<()> {
        if self.watcher.as_ref().is_some_and(|(t, _)| t == tree) {
            return Ok(());
        }
        self.stop_watcher();
        let mut child = Command::new(&self.binary)
            .arg("--json")
            .arg("watch")
            .arg(tree)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| Error::external(format!("cannot run slug watch: {e}")))?;
        let mut line = String::new();
        let stdout = child.stdout.take().expect("piped stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(|e| Error::external(format!("slug watch: {e}")))?;
        if !line.contains("\"ready\"") {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::external(format!(
                "slug watch {} did not get ready: {line}",
                tree.display()
            )));
        }
        self.watcher = Some((tree.to_path_buf(), child));
        Ok(())
    }

    fn stop_watcher(&mut self) {
        if let Some((tree, mut child)) = self.watcher.take() {
            let _ = Command::new(&self.binary)
                .args(["--quiet", "watch", "--stop"])
                .arg(&tree)
                .output();
            let _ = child.wait();
        }
    }

    fn cmd(&self) -> Command {
        let mut c = slug_command(&self.binary, &self.store);
        if self.uncompressed {
            c.args(["--compression", "off"]);
        }
        c
    }

    /// Ids of the slugs snapshotted since [`Backend::init`], oldest first.
    pub fn slugs(&self) -> &[String] {
        &self.slugs
    }
}

/// `binary --store store`: a `slug` command on the store at `store`, to which arguments are added.
pub fn slug_command(binary: &Path, store: &Path) -> Command {
    let mut c = Command::new(binary);
    c.arg("--store").arg(store);
    c
}

/// The slug id printed by `slug snapshot --json` (`{"slug": "..."}`), or the last word printed.
fn slug_id(stdout: &str) -> Option<String> {
    serde_json::from_str::<serde_json::Value>(stdout.trim())
        .ok()
        .and_then(|v| v.get("slug").and_then(|s| s.as_str()).map(str::to_string))
        .or_else(|| stdout.split_whitespace().last().map(str::to_string))
}

impl Backend for Slug {
    fn name(&self) -> &'static str {
        if self.watch {
            WATCHING
        } else if self.uncompressed {
            UNCOMPRESSED
        } else {
            "slugstore"
        }
    }

    fn snapshot_only(&self) -> bool {
        self.watch || self.uncompressed
    }

    fn end_run(&mut self) {
        self.stop_watcher();
    }

    fn requires(&self) -> Vec<Requirement> {
        // The binary is found or built by the suite; a path that is not there is reported like a program.
        vec![Requirement {
            program: self.binary.to_string_lossy().into_owned(),
            install: "cargo build --release -p slugstore-cli".into(),
        }]
    }

    fn init(&mut self, dir: &Path) -> Result<()> {
        self.stop_watcher();
        self.store = dir.to_path_buf();
        self.slugs.clear();
        run(self.cmd().arg("init")).map(drop)
    }

    fn snapshot(&mut self, tree: &Path) -> Result<Option<Sample>> {
        if self.watch {
            self.ensure_watcher(tree)?;
        }
        let done = run(self.cmd().arg("snapshot").arg(tree).arg("--json"))?;
        let id = slug_id(&done.stdout).ok_or_else(|| {
            Error::external(format!(
                "slug snapshot {} printed no slug id",
                tree.display()
            ))
        })?;
        self.slugs.push(id);
        Ok(Some(done.sample))
    }

    fn restore(&mut self, _source: &Path, out: &Path) -> Result<Option<Restored>> {
        let id = self
            .slugs
            .first()
            .ok_or_else(|| Error::external("slugstore: nothing to restore"))?;
        let done = run(self.cmd().arg("restore").arg(id).arg(out))?;
        Ok(Some(Restored {
            sample: done.sample,
            root: out.to_path_buf(),
        }))
    }

    fn store(&self) -> Option<&Path> {
        Some(&self.store)
    }
}

impl Drop for Slug {
    fn drop(&mut self) {
        self.stop_watcher();
    }
}

/// Table name of the [`Slug::watching`] variant.
pub const WATCHING: &str = "slugstore (watch)";

/// Table name of the [`Slug::uncompressed`] variant.
pub const UNCOMPRESSED: &str = "slugstore (compression off)";

#[cfg(test)]
mod tests {
    use super::slug_id;

    #[test]
    fn slug_id_from_json_or_plain_output() {
        assert_eq!(
            slug_id("{\"slug\": \"ab12\", \"files\": 3}\n").as_deref(),
            Some("ab12")
        );
        assert_eq!(slug_id("created slug cd34\n").as_deref(), Some("cd34"));
        assert_eq!(slug_id(""), None);
    }
}
