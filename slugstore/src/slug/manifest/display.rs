//! Raw path bytes for people: names need not be UTF-8, so a manifest keeps bytes and renders them
//! here, escaped for display and JSON, or as hex where the exact bytes must survive.

use std::borrow::Cow;

/// Renders raw bytes for humans: as-is when UTF-8, with `\xNN` escapes otherwise.
pub fn display_bytes(b: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(b) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(b.escape_ascii().to_string()),
    }
}

/// Raw bytes as lowercase hex, two digits a byte: the exact form of a name that is not UTF-8.
pub fn hex_bytes(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Serializes bytes as their display form (a symlink target in JSON).
pub(super) fn serialize_display<S: serde::Serializer>(
    b: &[u8],
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&display_bytes(b))
}
