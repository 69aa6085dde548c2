//! Turning a parser's complaint into something a person can act on.
//!
//! A YAML parser reports where it *gave up*, which is often not where the mistake is: a missing closing
//! quote on line 3 is reported at line 5 ("invalid indentation in multiline quoted scalar"), because a
//! double-quoted scalar may legally span lines. This module reads the source text around the failure to
//! point at the real defect (the unclosed quote, the first occurrence of a duplicated key) and to name the
//! key path, using the indentation of block YAML. It only refines messages; when the text does not match
//! what it looks for, the parser's own position and words are kept.

use super::yaml::SyntaxError;
use crate::diagnostic::{KeyPath, Pos};

/// The [`SyntaxError`] for a parser failure at `pos` with the parser's `message`.
pub(crate) fn explain(src: &str, pos: Option<Pos>, message: &str) -> SyntaxError {
    let lines: Vec<&str> = src.lines().collect();
    let path_at = |line: u32| key_path_at(&lines, line);
    let stopped = match pos {
        Some(p) => format!(
            "the parser stopped at line {}, column {}: {message}",
            p.line, p.column
        ),
        None => message.to_owned(),
    };

    if let Some(key) = message.strip_prefix("duplicate mapping key: ") {
        let key = key
            .split(", set DuplicateKeyPolicy")
            .next()
            .unwrap_or(key)
            .trim();
        let first = pos.and_then(|p| earlier_sibling(&lines, p.line, key));
        let message = match first {
            Some(line) => format!("duplicate key `{key}` (first defined at line {line})"),
            None => format!("duplicate key `{key}`"),
        };
        return SyntaxError {
            pos,
            path: pos.map(|p| path_at(p.line)).unwrap_or_default(),
            message,
        };
    }
    if message.contains("alias") || message.contains("budget") {
        return SyntaxError {
            pos,
            path: KeyPath::root(),
            message: format!(
                "refusing to expand this file's aliases: it grows beyond what a configuration needs \
                 (an alias bomb?): {message}"
            ),
        };
    }
    if message.contains("quoted scalar") {
        if let Some(open) = pos.and_then(|p| unclosed_quote(src, p)) {
            return SyntaxError {
                pos: Some(open),
                path: path_at(open.line),
                message: format!("YAML syntax error: unterminated quoted scalar ({stopped})"),
            };
        }
    }
    SyntaxError {
        pos,
        path: pos.map(|p| path_at(p.line)).unwrap_or_default(),
        message: format!("YAML syntax error: {message}"),
    }
}

/// The key defined on a block-YAML line: its indentation and text. `None` for blank lines, comments and
/// lines that are not `key: ...`.
fn line_key(line: &str) -> Option<(usize, String)> {
    let mut indent = line.len() - line.trim_start_matches(' ').len();
    let mut rest = &line[indent..];
    while let Some(after) = rest.strip_prefix("- ") {
        let trimmed = after.trim_start_matches(' ');
        indent += rest.len() - trimmed.len();
        rest = trimmed;
    }
    if rest.is_empty() || rest.starts_with('#') {
        return None;
    }
    let (key, after) = match rest.chars().next() {
        Some(quote @ ('"' | '\'')) => {
            let close = rest[1..].find(quote)? + 1;
            (rest[1..close].to_owned(), &rest[close + 1..])
        }
        _ => {
            let colon = rest
                .find(": ")
                .or_else(|| rest.strip_suffix(':').map(str::len))?;
            let key = rest[..colon].trim_end();
            if key.contains(" #") || key.starts_with(['{', '[', '&', '*', '!', '|', '>']) {
                return None;
            }
            (key.to_owned(), &rest[colon..])
        }
    };
    after.starts_with(':').then_some((indent, key))
}

/// The key path of the key on line `line` (from 1), following indentation back to the top level.
fn key_path_at(lines: &[&str], line: u32) -> KeyPath {
    let Some(index) = (line as usize).checked_sub(1).filter(|&i| i < lines.len()) else {
        return KeyPath::root();
    };
    let mut keys = Vec::new();
    let mut indent = match line_key(lines[index]) {
        Some((indent, key)) => {
            keys.push(key);
            indent
        }
        None => lines[index].len() - lines[index].trim_start().len(),
    };
    for text in lines[..index].iter().rev() {
        if indent == 0 {
            break;
        }
        if let Some((parent_indent, key)) = line_key(text).filter(|(i, _)| *i < indent) {
            keys.push(key);
            indent = parent_indent;
        }
    }
    keys.iter()
        .rev()
        .fold(KeyPath::root(), |path, key| path.child(key))
}

/// The line (from 1) where `key` was defined before line `line`, at the same indentation and under the
/// same parent.
fn earlier_sibling(lines: &[&str], line: u32, key: &str) -> Option<u32> {
    let index = (line as usize)
        .checked_sub(1)
        .filter(|&i| i < lines.len())?;
    let (indent, _) = line_key(lines[index])?;
    for (i, text) in lines[..index].iter().enumerate().rev() {
        match line_key(text) {
            Some((other, ref k)) if other == indent && k == key => {
                return u32::try_from(i + 1).ok()
            }
            Some((other, _)) if other < indent => return None,
            _ => {}
        }
    }
    None
}

/// Scanner state for [`unclosed_quote`].
enum Scan {
    Plain,
    Double(Pos),
    Single(Pos),
}

/// Where the quoted scalar that is still open at `stop` begins, if one is.
///
/// Walks the text as block YAML does: comments, block scalars (`|`, `>`) and quotes inside plain scalars
/// (`don't`) do not open anything.
fn unclosed_quote(src: &str, stop: Pos) -> Option<Pos> {
    let mut state = Scan::Plain;
    // Indentation of the key that introduced the block scalar being skipped.
    let mut block_parent: Option<usize> = None;
    for (index, line) in src.lines().enumerate() {
        let line_no = u32::try_from(index + 1).ok()?;
        if line_no > stop.line {
            break;
        }
        let indent = line.len() - line.trim_start_matches(' ').len();
        if let (Scan::Plain, Some(parent)) = (&state, block_parent) {
            if line.trim().is_empty() || indent > parent {
                continue;
            }
            block_parent = None;
        }
        let mut prev = ' ';
        let mut chars = line.chars().enumerate().peekable();
        let mut content_end = line.len();
        while let Some((col, c)) = chars.next() {
            let column = u32::try_from(col + 1).ok()?;
            if line_no == stop.line && column >= stop.column {
                break;
            }
            match state {
                Scan::Plain => {
                    let opens = prev.is_whitespace() || "[{,:".contains(prev);
                    match c {
                        '#' if prev.is_whitespace() => {
                            content_end =
                                line.char_indices().nth(col).map_or(line.len(), |(b, _)| b);
                            break;
                        }
                        '"' if opens => {
                            state = Scan::Double(Pos {
                                line: line_no,
                                column,
                            })
                        }
                        '\'' if opens => {
                            state = Scan::Single(Pos {
                                line: line_no,
                                column,
                            })
                        }
                        _ => {}
                    }
                }
                Scan::Double(_) => match c {
                    '\\' => {
                        chars.next();
                    }
                    '"' => state = Scan::Plain,
                    _ => {}
                },
                Scan::Single(_) => {
                    if c == '\'' {
                        if chars.peek().map(|&(_, n)| n) == Some('\'') {
                            chars.next();
                        } else {
                            state = Scan::Plain;
                        }
                    }
                }
            }
            prev = c;
        }
        if matches!(state, Scan::Plain) && opens_block_scalar(&line[..content_end]) {
            block_parent = Some(indent);
        }
    }
    match state {
        Scan::Double(open) | Scan::Single(open) => Some(open),
        Scan::Plain => None,
    }
}

/// Whether a line (comment removed) ends with a block scalar indicator: `key: |`, `- >-`, `key: |2+`.
fn opens_block_scalar(line: &str) -> bool {
    let trimmed = line.trim_end();
    let head = trimmed.trim_end_matches(|c: char| c == '-' || c == '+' || c.is_ascii_digit());
    let Some(before) = head.strip_suffix(['|', '>']) else {
        return false;
    };
    before.is_empty() || before.ends_with(' ')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unclosed_quote_is_found_where_it_opens() {
        let src = "name: app\ntype: \"php:8.3\n\nbuild:\n  flavor: none\n";
        assert_eq!(
            unclosed_quote(src, Pos { line: 4, column: 1 }),
            Some(Pos { line: 2, column: 7 })
        );
    }

    #[test]
    fn quotes_in_comments_block_scalars_and_words_open_nothing() {
        let src = "# don't \"worry\n\
                   hooks:\n  build: |\n    echo \"unbalanced\n    echo 'also\n\
                   name: it's fine\n\
                   type: 'it''s' # \"\n\
                   broken: \"here\n";
        assert_eq!(
            unclosed_quote(src, Pos { line: 9, column: 1 }),
            Some(Pos { line: 8, column: 9 })
        );
        assert_eq!(unclosed_quote(src, Pos { line: 8, column: 1 }), None);
    }

    #[test]
    fn key_paths_follow_indentation() {
        let lines = [
            "mounts:",
            "  \"pub/media\":",
            "    source: shared",
            "hooks:",
            "  - build: x",
        ];
        assert_eq!(
            key_path_at(&lines, 3).to_string(),
            r#"mounts."pub/media".source"#
        );
        assert_eq!(key_path_at(&lines, 4).to_string(), "hooks");
        assert_eq!(key_path_at(&lines, 5).to_string(), "hooks.build");
    }

    #[test]
    fn earlier_siblings_are_found_under_the_same_parent_only() {
        let lines = ["a:", "  db: 1", "b:", "  x: 1", "  db: 2", "  db: 3"];
        assert_eq!(earlier_sibling(&lines, 6, "db"), Some(5));
        assert_eq!(earlier_sibling(&lines, 5, "db"), None);
    }

    #[test]
    fn block_scalar_indicators() {
        assert!(opens_block_scalar("  build: |"));
        assert!(opens_block_scalar("  - >-"));
        assert!(opens_block_scalar("key: |2+"));
        assert!(!opens_block_scalar("key: a|"));
        assert!(!opens_block_scalar("key: value"));
    }
}
