//! Diagnostics: one defect in a configuration file, located precisely.
//!
//! The platform reports `- services.mysql.type: 'mysql:5.6' is not a valid service type.` and leaves the
//! user to find the line. Every [`Diagnostic`] here carries the file, line, column and key path, and reads
//! like a compiler error (`.magento.app.yaml:22:7: disk: must be at least 128 (MB), found 64`), so editors
//! and terminals can jump straight to it. Validation collects all of them before refusing, so one run shows
//! every defect instead of one per attempt.
//!
//! A diagnostic quotes the file (`found `...``), and the file may be hostile: what it quotes is made
//! printable (control characters escaped, so nothing reaches a terminal as an escape sequence) and
//! short (a quoted value is cut at its first line break and after [`MAX_QUOTED_CHARS`] characters),
//! so an error never replays more of a file than the start of the value at fault.

use std::fmt;

use serde::Serialize;

use slugstore::escape;

/// The most characters of one value a message quotes (between backticks) from a file.
pub const MAX_QUOTED_CHARS: usize = 80;
/// The most characters of a key path or a whole message, whatever it holds.
const MAX_TEXT_CHARS: usize = 400;

/// A line and column in a file, both counted from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Pos {
    /// Line number, from 1.
    pub line: u32,
    /// Column number in characters, from 1.
    pub column: u32,
}

/// One defect found in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// The file, relative to the project root (`.magento.app.yaml`, `.magento/services.yaml`, ...).
    pub file: String,
    /// Where the defect sits, when it sits on a line (a missing file or key has none).
    #[serde(flatten)]
    pub pos: Option<Pos>,
    /// The key path of the offending value (`mounts."pub/media".source`), empty for the whole file.
    pub path: String,
    /// What is wrong, and what was found.
    pub message: String,
}

impl Diagnostic {
    /// A diagnostic on `file` at `pos` (if known) for the value at `path`; the path and the message
    /// are made printable and bounded (see the module's documentation).
    pub fn new(
        file: impl Into<String>,
        pos: Option<Pos>,
        path: &KeyPath,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            file: file.into(),
            pos,
            path: escape::excerpt(&path.to_string(), MAX_TEXT_CHARS),
            message: printable(&message.into()),
        }
    }

    /// All `diagnostics`, one per line, in the order given.
    pub fn render_all(diagnostics: &[Diagnostic]) -> String {
        let lines: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
        lines.join("\n")
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(pos) = self.pos {
            write!(f, ":{}:{}", pos.line, pos.column)?;
        }
        if !self.path.is_empty() {
            write!(f, ": {}", self.path)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// `message` with control characters escaped, each quoted (backticked) value cut to its first line and
/// [`MAX_QUOTED_CHARS`], and the whole after [`MAX_TEXT_CHARS`].
fn printable(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for (i, part) in message.split('`').enumerate() {
        if i > 0 {
            out.push('`');
        }
        if i % 2 == 1 {
            out.push_str(&quoted(part));
        } else {
            out.push_str(&escape::text(part));
        }
    }
    escape::excerpt(&out, MAX_TEXT_CHARS)
}

/// A value quoted from a file: its first line (a block scalar holds several), at most
/// [`MAX_QUOTED_CHARS`] of it, escaped; `…` says something was left out.
fn quoted(value: &str) -> String {
    let (first, more) = match value.split_once('\n') {
        Some((first, _)) => (first, true),
        None => (value, false),
    };
    let mut shown = escape::excerpt(first, MAX_QUOTED_CHARS);
    if more && !shown.ends_with('…') {
        shown.push('…');
    }
    shown
}

/// The path of keys leading to a value, displayed the way a user would type it: `hooks.deploy`,
/// `mounts."pub/media".source`, `"https://{default}/".upstream`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPath(Vec<String>);

impl KeyPath {
    /// The empty path (the document itself).
    pub fn root() -> Self {
        KeyPath(Vec::new())
    }

    /// This path extended by `key`.
    pub fn child(&self, key: &str) -> Self {
        let mut segments = self.0.clone();
        segments.push(key.to_owned());
        KeyPath(segments)
    }

    /// The last key of the path, if any.
    pub fn last(&self) -> Option<&str> {
        self.0.last().map(String::as_str)
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            let bare = !segment.is_empty()
                && segment
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if bare {
                f.write_str(segment)?;
            } else {
                write!(f, "{segment:?}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_paths_quote_segments_that_are_not_plain_words() {
        let path = KeyPath::root()
            .child("mounts")
            .child("pub/media")
            .child("source");
        assert_eq!(path.to_string(), r#"mounts."pub/media".source"#);
        let route = KeyPath::root()
            .child("https://{default}/")
            .child("upstream");
        assert_eq!(route.to_string(), r#""https://{default}/".upstream"#);
        assert_eq!(KeyPath::root().to_string(), "");
    }

    #[test]
    fn display_reads_like_a_compiler_error() {
        let at = Some(Pos {
            line: 22,
            column: 7,
        });
        let d = Diagnostic::new(
            ".magento.app.yaml",
            at,
            &KeyPath::root().child("disk"),
            "must be at least 128 (MB), found 64",
        );
        assert_eq!(
            d.to_string(),
            ".magento.app.yaml:22:7: disk: must be at least 128 (MB), found 64"
        );
        let missing = Diagnostic::new(
            ".magento/services.yaml",
            None,
            &KeyPath::root(),
            "the file is missing",
        );
        assert_eq!(
            missing.to_string(),
            ".magento/services.yaml: the file is missing"
        );
    }

    #[test]
    fn quoted_values_are_escaped_and_cut() {
        let long = "x".repeat(500);
        let d = Diagnostic::new(
            "f",
            None,
            &KeyPath::root().child("na\x1bme"),
            format!("must be a word, found `\x1b]0;owned\x07{long}` after `\x1b[2J`"),
        );
        let shown = d.to_string();
        assert!(
            !shown.contains('\x1b') && !shown.contains('\x07'),
            "{shown:?}"
        );
        let cut = format!(
            "found `\\x1b]0;owned\\x07{}…` after `\\x1b[2J`",
            &long[..70]
        );
        assert!(shown.ends_with(&cut), "{shown}");
        let block = Diagnostic::new("f", None, &KeyPath::root(), "found `first\nSECRET`");
        assert_eq!(block.message, "found `first…`");
    }
}
