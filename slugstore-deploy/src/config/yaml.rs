//! YAML to a position-carrying tree, safely.
//!
//! Deserializing straight into `#[derive(Deserialize)]` structs stops at the first mistake, and a user
//! fixing a config one error per run is what this module exists to avoid. So each file is first read
//! into a small tree ([`Node`]) where every key and value keeps its line and column; the typed structs
//! are built from that tree by code that records every defect and carries on.
//!
//! Parsing uses `serde-saphyr`, which rejects duplicate keys (a silent last-wins `db:` would deploy the
//! wrong database) and enforces budgets. The budgets here are far below the library's defaults because
//! a deploy configuration is a few hundred nodes: an alias bomb ("billion laughs") is refused after a
//! few thousand replayed events instead of being expanded.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{Location, MessageFormatter, Spanned};

use super::recover;
use crate::diagnostic::{KeyPath, Pos};

/// Most nodes (scalars, sequences, mappings) a configuration file may have, aliases expanded.
const MAX_NODES: usize = 50_000;
/// Most parser events a configuration file may produce.
const MAX_EVENTS: usize = 100_000;
/// Most events that alias expansion may replay, across the whole file.
const MAX_REPLAYED_EVENTS: usize = 10_000;
/// Deepest nesting of sequences and mappings.
const MAX_DEPTH: usize = 32;

/// A YAML value with the position where it starts.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    /// The value.
    pub value: Value,
    /// Where the value starts (for a block mapping: its first key).
    pub pos: Pos,
}

/// The value of a [`Node`].
#[derive(Debug, Clone)]
pub(crate) enum Value {
    /// `~`, `null` or nothing.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer scalar.
    Int(i128),
    /// A floating-point scalar, as written in the file (so `1.10` stays `1.10`).
    Float(String),
    /// A string scalar.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in file order.
    Map(Vec<Entry>),
}

/// One `key: value` pair of a mapping.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// The key, as text (a non-string scalar key is written as YAML would print it).
    pub key: String,
    /// Where the key starts.
    pub key_pos: Pos,
    /// The value.
    pub value: Node,
}

impl Value {
    /// How the value is described in messages: "a string", "a sequence", ...
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a sequence",
            Value::Map(_) => "a mapping",
        }
    }

    /// The text of a scalar (`6`, `true`, `php:8.3`); `None` for null and collections.
    pub fn scalar_text(&self) -> Option<String> {
        match self {
            Value::Bool(b) => Some(b.to_string()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(text) | Value::Str(text) => Some(text.clone()),
            Value::Null | Value::Seq(_) | Value::Map(_) => None,
        }
    }

    /// Whether this is a sequence or a mapping.
    pub fn is_collection(&self) -> bool {
        matches!(self, Value::Seq(_) | Value::Map(_))
    }
}

/// Why a file could not be read as YAML at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    /// Where the defect is, when known.
    pub pos: Option<Pos>,
    /// The key path around the defect, as far as the text shows it.
    pub path: KeyPath,
    /// What is wrong.
    pub message: String,
}

/// Parses one YAML document into a [`Node`] tree. An empty document is [`Value::Null`].
pub(crate) fn parse(src: &str) -> Result<Node, SyntaxError> {
    let mut alias_limits = serde_saphyr::options!().alias_limits;
    alias_limits.max_total_replayed_events = MAX_REPLAYED_EVENTS;
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_nodes: MAX_NODES,
            max_events: MAX_EVENTS,
            max_depth: MAX_DEPTH,
        },
        alias_limits: alias_limits,
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::Error,
        non_finite_float_policy: serde_saphyr::NonFiniteFloatPolicy::AsString,
        with_snippet: false,
    };
    match serde_saphyr::from_str_with_options::<Spanned<Raw>>(src, options) {
        Ok(raw) => Ok(into_node(raw, src)),
        Err(err) => {
            let message =
                serde_saphyr::DefaultMessageFormatter.format_message(err.without_snippet());
            Err(recover::explain(
                src,
                err.location().and_then(pos_of),
                &message,
            ))
        }
    }
}

/// A location from the parser, `None` when it has none.
fn pos_of(location: Location) -> Option<Pos> {
    if location.line() == 0 {
        return None;
    }
    let clamp = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
    Some(Pos {
        line: clamp(location.line()),
        column: clamp(location.column()),
    })
}

/// The tree as serde hands it over, before keys are turned into text.
enum Raw {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<Raw>>),
    Map(Vec<(Spanned<Raw>, Spanned<Raw>)>),
}

fn into_node(raw: Spanned<Raw>, src: &str) -> Node {
    let pos = pos_of(raw.referenced).unwrap_or(Pos { line: 1, column: 1 });
    let value = match raw.value {
        Raw::Null => Value::Null,
        Raw::Bool(b) => Value::Bool(b),
        Raw::Int(i) => Value::Int(i),
        Raw::Float(f) => {
            Value::Float(source_text(&raw.referenced, src).unwrap_or_else(|| f.to_string()))
        }
        Raw::Str(s) => Value::Str(s),
        Raw::Seq(items) => Value::Seq(items.into_iter().map(|item| into_node(item, src)).collect()),
        Raw::Map(entries) => Value::Map(
            entries
                .into_iter()
                .map(|(key, value)| {
                    let key = into_node(key, src);
                    let text = key
                        .value
                        .scalar_text()
                        .unwrap_or_else(|| format!("<{}>", key.value.kind()));
                    Entry {
                        key: text,
                        key_pos: key.pos,
                        value: into_node(value, src),
                    }
                })
                .collect(),
        ),
    };
    Node { value, pos }
}

/// The exact text a location spans in `src`, when the parser recorded byte offsets.
fn source_text(location: &Location, src: &str) -> Option<String> {
    let span = location.span();
    let start = usize::try_from(span.byte_offset()?).ok()?;
    let len = usize::try_from(span.byte_len()?).ok()?;
    src.get(start..start.checked_add(len)?)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_unit<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }

    fn visit_none<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Raw, D::Error> {
        Raw::deserialize(deserializer)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Raw, E> {
        Ok(Raw::Bool(b))
    }

    fn visit_i64<E>(self, i: i64) -> Result<Raw, E> {
        Ok(Raw::Int(i.into()))
    }

    fn visit_u64<E>(self, u: u64) -> Result<Raw, E> {
        Ok(Raw::Int(u.into()))
    }

    fn visit_i128<E>(self, i: i128) -> Result<Raw, E> {
        Ok(Raw::Int(i))
    }

    fn visit_u128<E: de::Error>(self, u: u128) -> Result<Raw, E> {
        i128::try_from(u)
            .map(Raw::Int)
            .map_err(|_| E::custom("integer too large"))
    }

    fn visit_f64<E>(self, f: f64) -> Result<Raw, E> {
        Ok(Raw::Float(f))
    }

    fn visit_str<E>(self, s: &str) -> Result<Raw, E> {
        Ok(Raw::Str(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<Raw, E> {
        Ok(Raw::Str(s))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Raw::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key()? {
            entries.push((key, map.next_value()?));
        }
        Ok(Raw::Map(entries))
    }
}

impl Node {
    /// The value as JSON: mappings keep file order, floats their text as a number when it parses.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => i64::try_from(*i)
                .map(J::from)
                .unwrap_or_else(|_| J::String(i.to_string())),
            Value::Float(text) => text
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(J::Number)
                .unwrap_or_else(|| J::String(text.clone())),
            Value::Str(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|e| (e.key.clone(), e.value.to_json()))
                    .collect(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map_entries(node: &Node) -> &[Entry] {
        match &node.value {
            Value::Map(entries) => entries,
            other => panic!("expected a mapping, got {}", other.kind()),
        }
    }

    #[test]
    fn keys_and_values_keep_their_positions() {
        let node = parse("name: app\ndisk: 5120\nmounts:\n  var: {source: local}\n").unwrap();
        let entries = map_entries(&node);
        assert_eq!(entries[1].key, "disk");
        assert_eq!(entries[1].key_pos, Pos { line: 2, column: 1 });
        assert_eq!(entries[1].value.pos, Pos { line: 2, column: 7 });
        assert!(matches!(entries[1].value.value, Value::Int(5120)));
        let mounts = map_entries(&entries[2].value);
        assert_eq!(mounts[0].key_pos, Pos { line: 4, column: 3 });
        assert_eq!(
            map_entries(&mounts[0].value)[0].value.pos,
            Pos {
                line: 4,
                column: 17
            }
        );
    }

    #[test]
    fn floats_keep_their_written_form() {
        let node = parse("version: 1.10\n").unwrap();
        assert!(matches!(&map_entries(&node)[0].value.value, Value::Float(text) if text == "1.10"));
    }

    #[test]
    fn empty_and_comment_only_documents_are_null() {
        assert!(matches!(parse("").unwrap().value, Value::Null));
        assert!(matches!(
            parse("# nothing here\n").unwrap().value,
            Value::Null
        ));
    }

    #[test]
    fn duplicate_keys_are_refused_at_the_second_occurrence() {
        let err = parse(
            "db:\n  type: mysql:10.6\ncache:\n  type: redis:7.2\ndb:\n  type: postgresql:15\n",
        )
        .unwrap_err();
        assert_eq!(err.pos.map(|p| p.line), Some(5));
        assert_eq!(err.path.to_string(), "db");
        assert!(
            err.message.contains("duplicate key `db`"),
            "{}",
            err.message
        );
        assert!(
            err.message.contains("first defined at line 1"),
            "{}",
            err.message
        );
    }

    /// The classic "billion laughs": ten levels of ten aliases each would expand to 10^10 strings. A
    /// bounded input (under 1 KiB) must be refused by the replay budget, not expanded.
    #[test]
    fn alias_bombs_are_refused_not_expanded() {
        let mut yaml = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for level in 1..10 {
            let refs = vec![format!("*a{}", level - 1); 10].join(", ");
            yaml.push_str(&format!("a{level}: &a{level} [{refs}]\n"));
        }
        assert!(yaml.len() < 1024);
        let err = parse(&yaml).unwrap_err();
        assert!(err.message.contains("alias"), "{}", err.message);
        assert!(err.pos.is_some());
    }

    #[test]
    fn legitimate_aliases_still_work() {
        let node = parse("base: &b {source: local}\nmounts:\n  var: *b\n").unwrap();
        let mounts = map_entries(&map_entries(&node)[1].value);
        assert_eq!(map_entries(&mounts[0].value)[0].key, "source");
    }
}
