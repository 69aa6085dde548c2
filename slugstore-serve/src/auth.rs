//! The token that actions (rollback, promote) need.
//!
//! Reading the page is open to whoever reaches the address (loopback by default); changing what is
//! live is not. Actions carry `Authorization: Bearer TOKEN`: a header a cross-site form or image cannot
//! send, so a page elsewhere cannot trigger a rollback through the operator's browser. The comparison
//! takes the same time wherever the first wrong byte is, so the token cannot be guessed byte by byte.

use std::fmt;
use std::path::Path;

use slugstore::Error;

/// The environment variable [`Token::load`] reads a token from.
pub const TOKEN_VAR: &str = "SLUG_SERVE_TOKEN";

/// The shortest token accepted from the user (a generated one has 32 hex digits).
pub const MIN_LEN: usize = 16;

/// A secret that unlocks actions.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    /// A random token: 128 bits from the operating system, as 32 hex digits.
    pub fn generate() -> std::io::Result<Token> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok(Token(bytes.iter().map(|b| format!("{b:02x}")).collect()))
    }

    /// A token chosen by the user: at least 16 characters, printable ASCII without spaces (it
    /// travels in an HTTP header and a URL fragment). `what` names where it came from, for the error.
    pub fn parse(text: &str, what: &str) -> Result<Token, String> {
        let text = text.trim_end_matches(['\n', '\r']);
        if text.len() < MIN_LEN {
            return Err(format!(
                "{what}: the token is too short ({} characters; at least {MIN_LEN})",
                text.len()
            ));
        }
        if !text.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(format!(
                "{what}: the token must be printable ASCII without spaces"
            ));
        }
        Ok(Token(text.to_owned()))
    }

    /// A server's token: the first line of `file` when given, else `SLUG_SERVE_TOKEN` ([`TOKEN_VAR`])
    /// when set and not empty, else a new one ([`Token::generate`]). Says whether it was generated:
    /// then only this process knows it, and the operator must be shown it once.
    pub fn load(file: Option<&Path>) -> slugstore::Result<(Token, bool)> {
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
            let first = text.lines().next().unwrap_or_default();
            return Token::parse(first, &path.display().to_string())
                .map(|t| (t, false))
                .map_err(Error::external);
        }
        match std::env::var(TOKEN_VAR) {
            Ok(v) if !v.is_empty() => Token::parse(&v, TOKEN_VAR)
                .map(|t| (t, false))
                .map_err(Error::external),
            _ => Token::generate()
                .map(|t| (t, true))
                .map_err(|e| Error::external(format!("cannot generate a token: {e}"))),
        }
    }

    /// The secret itself (to show the operator once).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when the `Authorization` header value `header` carries this token.
    pub fn accepts(&self, header: Option<&str>) -> bool {
        let Some(given) = header.and_then(|h| h.strip_prefix("Bearer ")) else {
            return false;
        };
        constant_time_eq(given.trim().as_bytes(), self.0.as_bytes())
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(…)")
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_bearer_token_is_accepted() {
        let t = Token::parse("0123456789abcdef", "test").unwrap();
        assert!(t.accepts(Some("Bearer 0123456789abcdef")));
        for wrong in [
            None,
            Some(""),
            Some("0123456789abcdef"),
            Some("Basic 0123456789abcdef"),
            Some("Bearer 0123456789abcdeF"),
            Some("Bearer 0123456789abcde"),
            Some("Bearer 0123456789abcdef0"),
        ] {
            assert!(!t.accepts(wrong), "{wrong:?}");
        }
    }

    #[test]
    fn user_tokens_are_checked_and_generated_ones_differ() {
        assert!(Token::parse("short", "SLUG_SERVE_TOKEN")
            .unwrap_err()
            .contains("SLUG_SERVE_TOKEN: the token is too short"));
        assert!(Token::parse("0123456789 abcdef", "f").is_err());
        assert_eq!(
            Token::parse("0123456789abcdef\n", "f").unwrap().expose(),
            "0123456789abcdef"
        );
        let (a, b) = (Token::generate().unwrap(), Token::generate().unwrap());
        assert_eq!(a.expose().len(), 32);
        assert_ne!(a.expose(), b.expose());
        assert_eq!(format!("{a:?}"), "Token(…)");
    }
}
