//! The build-relevant part of the configuration, as canonical bytes.
//!
//! A build is reused when the source tree and the configuration that shapes the build are unchanged
//! (the platform's "Reusing existing build for this tree ID"). Hashing the YAML text would miss that
//! reordered keys, a new comment or an edited deploy hook do not change the build; so the fields that
//! do (`type`, `build`, `dependencies`, `hooks.build`, `variables`) are written as JSON with sorted keys
//! and no whitespace, which is the same bytes for the same meaning.

use std::collections::BTreeMap;

use super::project::Project;
use super::yaml::{Node, Value};

/// Changes whenever the encoding below changes, so old and new keys never collide.
const FORMAT: &str = "slugstore-build-config/1\n";

/// The canonical bytes of the build-relevant configuration of `project`: deterministic (sorted keys),
/// independent of formatting, comments and of everything that only matters at deploy.
pub fn build_key_material(project: &Project) -> Vec<u8> {
    let app = &project.app;
    let dependencies = app
        .dependencies
        .iter()
        .map(|(language, packages)| {
            let packages = packages
                .iter()
                .map(|(p, v)| (p.clone(), Canon::Str(v.clone())))
                .collect();
            (language.clone(), Canon::Map(packages))
        })
        .collect();
    let optional = |s: Option<&str>| s.map_or(Canon::Null, |s| Canon::Str(s.to_owned()));
    let material = Canon::Map(BTreeMap::from([
        ("type".to_owned(), Canon::Str(app.runtime.to_string())),
        (
            "build".to_owned(),
            Canon::Map(BTreeMap::from([(
                "flavor".to_owned(),
                optional(app.build_flavor.map(|f| f.as_str())),
            )])),
        ),
        ("dependencies".to_owned(), Canon::Map(dependencies)),
        (
            "hooks".to_owned(),
            Canon::Map(BTreeMap::from([(
                "build".to_owned(),
                optional(app.hooks.build.as_deref()),
            )])),
        ),
        (
            "variables".to_owned(),
            app.variables.as_ref().map_or(Canon::Null, Canon::from_node),
        ),
    ]));
    let mut out = String::from(FORMAT);
    material.write(&mut out);
    out.into_bytes()
}

/// A JSON value whose maps are always sorted.
enum Canon {
    Null,
    /// A number or boolean, as its literal text.
    Literal(String),
    Str(String),
    List(Vec<Canon>),
    Map(BTreeMap<String, Canon>),
}

impl Canon {
    fn from_node(node: &Node) -> Canon {
        match &node.value {
            Value::Null => Canon::Null,
            Value::Bool(b) => Canon::Literal(b.to_string()),
            Value::Int(i) => Canon::Literal(i.to_string()),
            // A float's written form may not be valid JSON (`.5`, `1e3`): keep it as a string.
            Value::Float(text) | Value::Str(text) => Canon::Str(text.clone()),
            Value::Seq(items) => Canon::List(items.iter().map(Canon::from_node).collect()),
            Value::Map(entries) => Canon::Map(
                entries
                    .iter()
                    .map(|e| (e.key.clone(), Canon::from_node(&e.value)))
                    .collect(),
            ),
        }
    }

    fn write(&self, out: &mut String) {
        match self {
            Canon::Null => out.push_str("null"),
            Canon::Literal(text) => out.push_str(text),
            Canon::Str(s) => write_str(s, out),
            Canon::List(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Canon::Map(entries) => {
                out.push('{');
                for (i, (key, value)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_str(key, out);
                    out.push(':');
                    value.write(out);
                }
                out.push('}');
            }
        }
    }
}

/// A JSON string literal.
fn write_str(s: &str, out: &mut String) {
    // Serializing a `str` to JSON cannot fail.
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}
