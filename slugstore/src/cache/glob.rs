//! `--glob` patterns: `*` and `?` within one path component, `**` for any number of components.
//!
//! A few lines instead of a dependency: patterns are matched against the `/`-separated relative
//! paths the scanner already produces, and only the components before the first wildcard decide
//! where the walk starts, so `app/etc/*.php` never walks `vendor/`.

/// The literal directory a pattern starts in (`""` for the working directory itself).
pub fn base(pattern: &str) -> String {
    let parts: Vec<&str> = pattern.split('/').collect();
    let literal = parts[..parts.len().saturating_sub(1)]
        .iter()
        .take_while(|c| !c.contains(['*', '?']))
        .copied()
        .collect::<Vec<_>>();
    literal.join("/")
}

/// True when `path` (relative, `/`-separated) matches `pattern`.
pub fn matches(pattern: &str, path: &str) -> bool {
    let pat: Vec<&str> = pattern.split('/').collect();
    let parts: Vec<&str> = path.split('/').collect();
    match_parts(&pat, &parts)
}

fn match_parts(pat: &[&str], parts: &[&str]) -> bool {
    match pat.split_first() {
        None => parts.is_empty(),
        Some((&"**", rest)) => (0..=parts.len()).any(|i| match_parts(rest, &parts[i..])),
        Some((p, rest)) => match parts.split_first() {
            Some((c, more)) => {
                match_component(p.as_bytes(), c.as_bytes()) && match_parts(rest, more)
            }
            None => false,
        },
    }
}

fn match_component(p: &[u8], s: &[u8]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some((b'*', rest)) => (0..=s.len()).any(|i| match_component(rest, &s[i..])),
        Some((b'?', rest)) => !s.is_empty() && match_component(rest, &s[1..]),
        Some((c, rest)) => s.first() == Some(c) && match_component(rest, &s[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stars_stay_within_a_component_and_double_stars_cross_them() {
        assert!(matches("app/etc/*.php", "app/etc/config.php"));
        assert!(!matches("app/etc/*.php", "app/etc/sub/config.php"));
        assert!(matches("app/**/*.xml", "app/code/A/etc/di.xml"));
        assert!(matches("app/**/*.xml", "app/di.xml"));
        assert!(matches("?.txt", "a.txt"));
        assert!(!matches("?.txt", "ab.txt"));
        assert_eq!(base("app/etc/*.php"), "app/etc");
        assert_eq!(base("**/*.xml"), "");
        assert_eq!(base("composer.lock"), "");
    }
}
