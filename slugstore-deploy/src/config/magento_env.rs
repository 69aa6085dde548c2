//! `.magento.env.yaml`: ece-tools' settings of each stage.
//!
//! ```yaml
//! stage:
//!   global:      { SCD_ON_DEMAND: false }        # every stage
//!   build:       { SCD_COMPRESSION_LEVEL: 4 }    # hooks.build and the static compression
//!   deploy:      { MYSQL_USE_SLAVE_CONNECTION: true }
//!   post-deploy: { WARM_UP_PAGES: ["/"] }
//! log: { ... }                                   # read by ece-tools only
//! ```
//!
//! Each stage's variables are exported to that stage's hook (a stage inherits `global`; scalars as
//! written, `true`/`false` for booleans, collections as JSON). slugstore itself honours
//! `SCD_COMPRESSION_LEVEL` (0 disables) and `SCD_COMPRESSION_TIMEOUT` of the build stage for the static
//! compression it does at the end of the build: they win over `variables.env` of `.magento.app.yaml`.
//! The file is part of the source tree, so it is part of the build key like every source file.

use std::collections::BTreeMap;

use super::app::Env;
use super::field::{describe, Field, Sink};
use super::yaml::{Node, Value};

/// The file, at the project root.
pub const ENV_FILE: &str = ".magento.env.yaml";

/// Top-level sections ece-tools reads; slugstore reads only `stage`.
const SECTIONS: &[&str] = &["stage", "log", "notification"];

/// A stage of `.magento.env.yaml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// `global`: inherited by every other stage.
    Global,
    /// `build`.
    Build,
    /// `deploy`.
    Deploy,
    /// `post-deploy`.
    PostDeploy,
}

impl Stage {
    /// Every stage, as spelled in the file.
    pub const ALL: [(Stage, &'static str); 4] = [
        (Stage::Global, "global"),
        (Stage::Build, "build"),
        (Stage::Deploy, "deploy"),
        (Stage::PostDeploy, "post-deploy"),
    ];
}

/// The stages of `.magento.env.yaml` (empty when the file is absent).
#[derive(Debug, Clone, Default)]
pub struct MagentoEnv {
    stages: BTreeMap<Stage, Env>,
}

impl MagentoEnv {
    /// The variables a hook of `stage` sees: `global`'s, overridden by the stage's own.
    pub fn variables(&self, stage: Stage) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for s in [Stage::Global, stage] {
            if let Some(env) = self.stages.get(&s) {
                out.extend(env.values.clone());
            }
        }
        out
    }

    /// `SCD_COMPRESSION_LEVEL` of the build stage (or global), when set.
    pub fn compression_level(&self) -> Option<u32> {
        self.build_setting(|e| e.compression_level)
    }

    /// `SCD_COMPRESSION_TIMEOUT` of the build stage (or global), in seconds, when set.
    pub fn compression_timeout(&self) -> Option<u64> {
        self.build_setting(|e| e.compression_timeout)
    }

    fn build_setting<T>(&self, get: impl Fn(&Env) -> Option<T>) -> Option<T> {
        [Stage::Build, Stage::Global]
            .iter()
            .find_map(|s| self.stages.get(s).and_then(&get))
    }
}

/// Reads the file's tree, recording a diagnostic for each defect.
pub(crate) fn parse(root: &Node, sink: &mut Sink<'_>) -> Option<MagentoEnv> {
    let root = Field::root(root);
    let mut out = MagentoEnv::default();
    for section in root.entries(sink)? {
        if !SECTIONS.contains(&section.key) {
            section.error(
                sink,
                format!(
                    "unknown section `{}` (known: {})",
                    section.key,
                    SECTIONS.join(", ")
                ),
            );
        }
    }
    let Some(stages) = root.get("stage") else {
        return Some(out);
    };
    for f in stages.entries(sink).unwrap_or_default() {
        let Some(&(stage, _)) = Stage::ALL.iter().find(|(_, name)| *name == f.key) else {
            let known: Vec<&str> = Stage::ALL.iter().map(|(_, n)| *n).collect();
            f.error(
                sink,
                format!("unknown stage `{}` (known: {})", f.key, known.join(", ")),
            );
            continue;
        };
        let mut env = Env::default();
        for var in f.entries(sink).unwrap_or_default() {
            if let Some(text) = value_text(&var, sink) {
                env.set(&var, text, sink);
            }
        }
        out.stages.insert(stage, env);
    }
    Some(out)
}

/// A stage variable as the hook's environment gets it: scalars as text, collections as JSON.
fn value_text(f: &Field<'_>, sink: &mut Sink<'_>) -> Option<String> {
    match &f.node.value {
        Value::Null => {
            f.error(
                sink,
                format!(
                    "must be a scalar, a list or a mapping, found {}",
                    describe(&f.node.value)
                ),
            );
            None
        }
        Value::Seq(_) | Value::Map(_) => Some(f.node.to_json().to_string()),
        v => v.scalar_text(),
    }
}
