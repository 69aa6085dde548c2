//! Service endpoints: where an environment's database, cache or search service really is.
//!
//! slugstore provisions no services. The operator says where each one is, per environment, as a URL
//! (`mysql://user:secret@db.internal:3306/main`), and the deploy hands the application the platform's
//! `PLATFORM_RELATIONSHIPS` built from it. An endpoint holds credentials, so it is shown redacted
//! everywhere but in that variable: [`Endpoint::redacted`] is what `Display`, the CLI's `--json` and the
//! logs use; only [`Endpoint::password`] gives the secret back, and the registry file that stores it is
//! readable by its owner only.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

/// What a redacted password reads as.
pub const REDACTED: &str = "***";

/// One service endpoint, parsed from `scheme://[user[:password]@]host[:port][/path][?query]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `mysql`, `redis`, `http`, ...
    pub scheme: String,
    /// The user name, percent-decoded (empty when none).
    pub username: String,
    password: String,
    /// Host name or address.
    pub host: String,
    /// The port, when given.
    pub port: Option<u16>,
    /// The path without its leading `/` (a database name), percent-decoded.
    pub path: String,
    /// The query string, without `?`.
    pub query: String,
}

impl Endpoint {
    /// Parses an endpoint URL; errors name the part that is wrong, never the password.
    pub fn parse(url: &str) -> Result<Endpoint> {
        let bad = |why: &str| Error::BadEndpoint {
            url: redact_text(url).to_string(),
            why: why.to_owned(),
        };
        let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("no `scheme://`"))?;
        let scheme_ok = scheme
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
        if !scheme_ok {
            return Err(bad("the scheme must be letters, digits, `+`, `-` or `.`"));
        }
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (username, password) = match userinfo {
            Some(u) => match u.split_once(':') {
                Some((user, pw)) => (decode(user), decode(pw)),
                None => (decode(u), String::new()),
            },
            None => (String::new(), String::new()),
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || hostport.starts_with('[') => {
                let port = p
                    .parse::<u16>()
                    .map_err(|_| bad(&format!("port `{p}` is not a number from 0 to 65535")))?;
                (h, Some(port))
            }
            _ => (hostport, None),
        };
        if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("no host"));
        }
        Ok(Endpoint {
            scheme: scheme.to_ascii_lowercase(),
            username,
            password,
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port,
            path: decode(path),
            query: query.to_owned(),
        })
    }

    /// The password (empty when none). Only the relationships handed to the hooks use it.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// The URL with its password replaced by [`REDACTED`]: what is shown and logged.
    pub fn redacted(&self) -> String {
        self.url(true)
    }

    /// The URL, the password included or redacted.
    fn url(&self, redact: bool) -> String {
        let mut s = format!("{}://", self.scheme);
        if !self.username.is_empty() || !self.password.is_empty() {
            s.push_str(&encode(&self.username, false));
            if !self.password.is_empty() {
                s.push(':');
                if redact {
                    s.push_str(REDACTED);
                } else {
                    s.push_str(&encode(&self.password, false));
                }
            }
            s.push('@');
        }
        if self.host.contains(':') {
            s.push_str(&format!("[{}]", self.host));
        } else {
            s.push_str(&self.host);
        }
        if let Some(p) = self.port {
            s.push_str(&format!(":{p}"));
        }
        if !self.path.is_empty() {
            s.push('/');
            s.push_str(&encode(&self.path, true));
        }
        if !self.query.is_empty() {
            s.push('?');
            s.push_str(&self.query);
        }
        s
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Endpoint({})", self.redacted())
    }
}

/// Stored as the whole URL, the password included: only the registry file (owner-readable) holds
/// it. Everything shown to people goes through [`Endpoint::redacted`].
impl Serialize for Endpoint {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.url(false))
    }
}

impl<'de> Deserialize<'de> for Endpoint {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Endpoint::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// `url` with anything between `://user:` and `@` replaced, for error messages about a URL that
/// did not parse.
fn redact_text(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return match url.rsplit_once('@') {
            Some((_, host)) => format!("{REDACTED}@{host}"),
            None => url.to_owned(),
        };
    };
    match rest.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:{REDACTED}@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// Percent-decodes `s` (bytes that do not form a valid escape are kept as written).
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).and_then(|&c| hex(c)),
            b.get(i + 2).and_then(|&c| hex(c)),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes what cannot stand in a URL's user or password (`path: false`: `/` is escaped too,
/// parsing splits the path off at the first one) or path as written.
fn encode(s: &str, path: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.bytes() {
        if c.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=".contains(&c) || (path && c == b'/') {
            out.push(c as char);
        } else {
            out.push_str(&format!("%{c:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_part() {
        let e = Endpoint::parse("mysql://user:p%40ss:w@db.internal:3306/main?ssl=1").unwrap();
        assert_eq!(e.scheme, "mysql");
        assert_eq!(e.username, "user");
        assert_eq!(e.password(), "p@ss:w");
        assert_eq!(e.host, "db.internal");
        assert_eq!(e.port, Some(3306));
        assert_eq!(e.path, "main");
        assert_eq!(e.query, "ssl=1");
        let bare = Endpoint::parse("redis://cache").unwrap();
        assert_eq!((bare.host.as_str(), bare.port), ("cache", None));
        assert_eq!(bare.username, "");
    }

    #[test]
    fn the_password_is_never_shown() {
        let e = Endpoint::parse("mysql://user:hunter2@db:3306/main").unwrap();
        assert_eq!(e.to_string(), "mysql://user:***@db:3306/main");
        assert!(!format!("{e:?}").contains("hunter2"));
        let err = Endpoint::parse("mysql://user:hunter2@db:notaport/main").unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert!(err.to_string().contains("notaport"), "{err}");
    }

    #[test]
    fn stored_form_round_trips() {
        for url in [
            "mysql://user:p%40ss@db:3306/main",
            "mysql://u:a%2Fb%3Ac@db/main",
            "redis://cache:6379",
            "http://[::1]:9200/",
        ] {
            let e = Endpoint::parse(url).unwrap();
            let json = serde_json::to_string(&e).unwrap();
            let back: Endpoint = serde_json::from_str(&json).unwrap();
            assert_eq!(back, e, "{url} -> {json}");
        }
    }

    #[test]
    fn bad_urls_are_refused_by_part() {
        for (url, why) in [
            ("db:3306", "scheme"),
            ("mysql://:3306", "no host"),
            ("mysql://db:99999", "port"),
            ("1x://db", "scheme"),
        ] {
            let err = Endpoint::parse(url).unwrap_err().to_string();
            assert!(err.contains(why), "{url}: {err}");
        }
    }
}
