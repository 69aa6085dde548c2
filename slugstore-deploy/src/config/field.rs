//! Reading typed values out of a [`Node`] tree while recording every mismatch.
//!
//! Each accessor either returns the value or records a [`Diagnostic`] and returns `None`, so the schema
//! code in `app.rs`, `services.rs` and `routes.rs` reads as a list of rules and keeps going after a
//! defect. A value is reported at its own position when it is a scalar, and at its key when it is a
//! block collection, because a block sequence starts on the line *after* the key the user wrote.

use super::yaml::{Node, Value};
use crate::diagnostic::{Diagnostic, KeyPath, Pos};

/// Where diagnostics for one file are collected.
pub(crate) struct Sink<'a> {
    file: &'a str,
    out: &'a mut Vec<Diagnostic>,
}

impl<'a> Sink<'a> {
    /// A sink for `file` (its name relative to the project root) appending to `out`.
    pub fn new(file: &'a str, out: &'a mut Vec<Diagnostic>) -> Self {
        Sink { file, out }
    }

    /// Records a defect at `pos` for the value at `path`.
    pub fn error(&mut self, pos: Option<Pos>, path: &KeyPath, message: impl Into<String>) {
        self.out
            .push(Diagnostic::new(self.file, pos, path, message));
    }
}

/// A value in the tree together with its key and key path.
#[derive(Clone)]
pub(crate) struct Field<'n> {
    /// The value.
    pub node: &'n Node,
    /// The key of the value in its mapping (empty for the document root).
    pub key: &'n str,
    key_pos: Option<Pos>,
    path: KeyPath,
}

impl<'n> Field<'n> {
    /// The document root.
    pub fn root(node: &'n Node) -> Self {
        Field {
            node,
            key: "",
            key_pos: None,
            path: KeyPath::root(),
        }
    }

    fn child(&self, key: &'n str, key_pos: Pos, node: &'n Node) -> Self {
        Field {
            node,
            key,
            key_pos: Some(key_pos),
            path: self.path.child(key),
        }
    }

    /// The key path of this value.
    pub fn path(&self) -> &KeyPath {
        &self.path
    }

    /// Where to point a user at this value: the value itself for scalars, its key for collections.
    pub fn pos(&self) -> Pos {
        match self.key_pos {
            Some(key) if self.node.value.is_collection() => key,
            _ => self.node.pos,
        }
    }

    /// Where the key of this value is (the value's own position for the root).
    pub fn key_pos(&self) -> Pos {
        self.key_pos.unwrap_or(self.node.pos)
    }

    /// Records `message` about this value.
    pub fn error(&self, sink: &mut Sink<'_>, message: impl Into<String>) {
        sink.error(Some(self.pos()), &self.path, message);
    }

    /// Records that this value should be `expected` ("a string (a shell script)") and what it is.
    pub fn wrong_type(&self, sink: &mut Sink<'_>, expected: &str) {
        self.error(
            sink,
            format!("must be {expected}, found {}", describe(&self.node.value)),
        );
    }

    /// Whether the value is null (`key:` with nothing, or `~`).
    pub fn is_null(&self) -> bool {
        matches!(self.node.value, Value::Null)
    }

    /// The entries of a mapping; a null value is an empty mapping. Anything else is recorded as an error.
    pub fn entries(&self, sink: &mut Sink<'_>) -> Option<Vec<Field<'n>>> {
        match &self.node.value {
            Value::Map(entries) => Some(
                entries
                    .iter()
                    .map(|e| self.child(&e.key, e.key_pos, &e.value))
                    .collect(),
            ),
            Value::Null => Some(Vec::new()),
            _ => {
                self.wrong_type(sink, "a mapping");
                None
            }
        }
    }

    /// The value of `key` when this is a mapping (`None` when absent, or when this is not a mapping).
    pub fn get(&self, key: &str) -> Option<Field<'n>> {
        let Value::Map(entries) = &self.node.value else {
            return None;
        };
        entries
            .iter()
            .find(|e| e.key == key)
            .map(|e| self.child(&e.key, e.key_pos, &e.value))
    }

    /// The value as a string; `what` describes what it should be ("a string (a shell script)").
    pub fn string(&self, sink: &mut Sink<'_>, what: &str) -> Option<&'n str> {
        match &self.node.value {
            Value::Str(s) => Some(s),
            _ => {
                self.wrong_type(sink, what);
                None
            }
        }
    }

    /// The value as text when it is any scalar (`2`, `true` and `"2"` all read as text).
    pub fn scalar(&self, sink: &mut Sink<'_>, what: &str) -> Option<String> {
        let text = self.node.value.scalar_text();
        if text.is_none() {
            self.wrong_type(sink, what);
        }
        text
    }

    /// The value as a non-negative integer.
    pub fn unsigned(&self, sink: &mut Sink<'_>, what: &str) -> Option<u64> {
        match self.node.value {
            Value::Int(i) if i >= 0 => match u64::try_from(i) {
                Ok(n) => Some(n),
                Err(_) => {
                    self.error(
                        sink,
                        format!("must be {what}, found {i}, which is too large"),
                    );
                    None
                }
            },
            _ => {
                self.wrong_type(sink, what);
                None
            }
        }
    }
}

/// A value as messages show it: scalars by their text, collections by their kind.
pub(crate) fn describe(value: &Value) -> String {
    match value {
        Value::Str(s) => format!("`{s}`"),
        Value::Int(_) | Value::Float(_) | Value::Bool(_) => value.scalar_text().unwrap_or_default(),
        Value::Null | Value::Seq(_) | Value::Map(_) => value.kind().to_owned(),
    }
}

/// Requires a `key` in `parent`: records `message` at the parent's key (at no line for the document root)
/// when it is absent.
pub(crate) fn required<'n>(
    parent: &Field<'n>,
    key: &str,
    sink: &mut Sink<'_>,
    message: &str,
) -> Option<Field<'n>> {
    let child = parent.get(key);
    if child.is_none() {
        sink.error(parent.key_pos, &parent.path.child(key), message);
    }
    child
}
