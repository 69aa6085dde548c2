//! Text from untrusted sources (archive member names, configuration files), made safe to print.
//!
//! Error messages go to terminals, and a terminal obeys the escape sequences in what it prints: a
//! member name or a YAML value holding `ESC [ 2 J` clears the screen, and other sequences retitle the
//! window or, on some terminals, write to the clipboard. So every name or value that an error quotes
//! from an archive or a configuration file passes through here first: control characters (C0, DEL,
//! C1) and the invisible bidirectional overrides become escapes (`\x1b`, `\n`, `\u{202e}`), everything
//! else is kept, and bytes that are not UTF-8 are shown escaped.
//!
//! JSON output does not need this (its strings are escaped by the encoder) and keeps the exact text.

use std::borrow::Cow;
use std::fmt::Write;

/// `text` with every character a terminal could act on escaped.
pub fn text(text: &str) -> Cow<'_, str> {
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `bytes` as printable text: UTF-8 with [`text`]'s escapes, and each byte of an invalid sequence as
/// `\xNN`.
pub fn bytes(bytes: &[u8]) -> Cow<'_, str> {
    if let Ok(s) = std::str::from_utf8(bytes) {
        return text(s);
    }
    let mut out = String::with_capacity(bytes.len() + 8);
    for chunk in bytes.utf8_chunks() {
        out.push_str(&text(chunk.valid()));
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    Cow::Owned(out)
}

/// At most `max` characters of `text`, escaped, with `…` when it was cut: for quoting a value whose
/// length the file decides.
pub fn excerpt(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", self::text(&text[..end])),
        None => self::text(text).into_owned(),
    }
}

/// Whether `c` is a control character or an invisible override of the text's direction.
fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if (c as u32) < 0x80 => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_overrides_are_escaped_the_rest_kept() {
        assert_eq!(text("plain/é/path"), "plain/é/path");
        assert!(matches!(text("plain"), Cow::Borrowed(_)));
        assert_eq!(text("a\x1b[2Jb\n\t\x7f"), "a\\x1b[2Jb\\n\\t\\x7f");
        assert_eq!(text("\u{9b}31m \u{202e}gpj"), "\\u{9b}31m \\u{202e}gpj");
        assert_eq!(bytes(b"ok\xff\x1b"), "ok\\xff\\x1b");
        assert_eq!(bytes(b"\xe2\x80"), "\\xe2\\x80");
    }

    #[test]
    fn excerpts_are_cut_on_characters() {
        assert_eq!(excerpt("héllo", 10), "héllo");
        assert_eq!(excerpt("héllo", 2), "hé…");
        assert_eq!(excerpt("\x1b\x1b\x1b", 2), "\\x1b\\x1b…");
    }
}
