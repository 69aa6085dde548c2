//! The path rules of import: which member names and link targets are accepted, and in what form.
//!
//! Archives made by common tools name members `./a/b` or `a/b/` (directories); those spellings are
//! accepted and reduced to the manifest's canonical `a/b`. Everything that could reach outside the tree
//! is refused: absolute paths, `..` components, and anything ambiguous (empty or `.` components inside a
//! path, NUL bytes). The rules for what symlinks may point at live in [`super::tree`], because they
//! depend on the other members.

/// Reduces a member path to the canonical relative form; `None` is the archive's root (`.` or `./`).
/// The error says what is wrong, for the caller to attach to the member's name.
pub fn member_path(raw: &[u8]) -> Result<Option<Vec<u8>>, String> {
    if raw.is_empty() {
        return Err("empty path".into());
    }
    if raw.contains(&0) {
        return Err("path contains a NUL byte".into());
    }
    if raw.starts_with(b"/") {
        return Err("absolute path".into());
    }
    let trimmed = raw.strip_suffix(b"/").unwrap_or(raw);
    let mut comps = trimmed.split(|&c| c == b'/').peekable();
    // Leading `.` components (`./a`, `././a`) are how `tar -C dir .` names members.
    while comps.peek() == Some(&&b"."[..]) {
        comps.next();
    }
    let mut out = Vec::with_capacity(trimmed.len());
    for c in comps {
        match c {
            b".." => return Err("path climbs out of the tree with a `..` component".into()),
            b"" => return Err("path has an empty component (`//`)".into()),
            b"." => return Err("path has a `.` component inside it".into()),
            _ => {
                if !out.is_empty() {
                    out.push(b'/');
                }
                out.extend_from_slice(c);
            }
        }
    }
    Ok((!out.is_empty()).then_some(out))
}

/// Checks a symlink target on its own: not empty, no NUL. Whether it stays inside the tree is checked
/// once the whole archive is known.
pub fn link_target(raw: &[u8]) -> Result<(), String> {
    if raw.is_empty() {
        return Err("symlink with an empty target".into());
    }
    if raw.contains(&0) {
        return Err("symlink target contains a NUL byte".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms() {
        let ok = |raw: &str, want: Option<&str>| {
            assert_eq!(
                member_path(raw.as_bytes()).unwrap().as_deref(),
                want.map(str::as_bytes),
                "{raw}"
            )
        };
        ok("a/b", Some("a/b"));
        ok("./a/b/", Some("a/b"));
        ok("././a", Some("a"));
        ok("./", None);
        ok(".", None);
        for bad in [
            "",
            "/etc/passwd",
            "a/../b",
            "..",
            "../x",
            "a//b",
            "a/./b",
            "a\0b",
            "//",
        ] {
            assert!(member_path(bad.as_bytes()).is_err(), "{bad:?} accepted");
        }
    }
}
