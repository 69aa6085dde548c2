//! slugstore through its command-line interface, as an operator would run it.

use std::path::{Path, PathBuf};
use std::process::Command;

use slugstore::{Error, Result};

use crate::suite::backend::{Backend, Restored};
use crate::suite::exec::{run, Sample};
use crate::suite::tools::Requirement;

/// `slug snapshot` / `slug restore` with a store of its own.
#[derive(Debug)]
pub struct Slug {
    binary: PathBuf,
    store: PathBuf,
    slugs: Vec<String>,
}

impl Slug {
    /// A backend running the `slug` binary at `binary`.
    pub fn new(binary: PathBuf) -> Self {
        Slug {
            binary,
            store: PathBuf::new(),
            slugs: Vec::new(),
        }
    }

    fn cmd(&self) -> Command {
        slug_command(&self.binary, &self.store)
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
        "slugstore"
    }

    fn requires(&self) -> Vec<Requirement> {
        // The binary is found or built by the suite; a path that is not there is reported like a program.
        vec![Requirement {
            program: self.binary.to_string_lossy().into_owned(),
            install: "cargo build --release -p slugstore-cli".into(),
        }]
    }

    fn init(&mut self, dir: &Path) -> Result<()> {
        self.store = dir.to_path_buf();
        self.slugs.clear();
        run(self.cmd().arg("init")).map(drop)
    }

    fn snapshot(&mut self, tree: &Path) -> Result<Option<Sample>> {
        let done = run(self.cmd().arg("snapshot").arg(tree).arg("--json"))?;
        let id = slug_id(&done.stdout).ok_or_else(|| {
            Error::Invalid(format!(
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
            .ok_or_else(|| Error::Invalid("slugstore: nothing to restore".into()))?;
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
