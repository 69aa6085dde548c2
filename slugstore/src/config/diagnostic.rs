//! Diagnostics: one defect in a configuration file, located precisely.
//!
//! The platform reports `- services.mysql.type: 'mysql:5.6' is not a valid service type.` and leaves the
//! user to find the line. Every [`Diagnostic`] here carries the file, line, column and key path, and reads
//! like a compiler error (`.magento.app.yaml:22:7: disk: must be at least 128 (MB), found 64`), so editors
//! and terminals can jump straight to it. Validation collects all of them before refusing, so one run shows
//! every defect instead of one per attempt.

use std::fmt;

use serde::Serialize;

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
    /// A diagnostic on `file` at `pos` (if known) for the value at `path`.
    pub fn new(
        file: impl Into<String>,
        pos: Option<Pos>,
        path: &KeyPath,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            file: file.into(),
            pos,
            path: path.to_string(),
            message: message.into(),
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
}
