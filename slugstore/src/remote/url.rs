//! Remote URLs: where a remote's objects live.
//!
//! Two schemes cover the deployments slugstore targets: `file:///abs/path` for a directory (a
//! mounted NFS share, a second disk, tests) and `s3://bucket/prefix` for any S3-compatible object
//! store. Endpoint, region and credentials are deliberately *not* part of the URL: URLs are stored
//! in the store's configuration and printed in messages, so secrets stay in the environment.
//!
//! Parsing is strict. A remote URL is typed once and then used for years; a typo such as
//! `file://relative/path` (which names a host, not a path) must be refused, not guessed at.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::error::{Error, Result};

/// A parsed remote location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteUrl {
    /// A directory on a mounted filesystem: `file:///abs/path`.
    File(PathBuf),
    /// A bucket and key prefix in an S3-compatible store: `s3://bucket/prefix`.
    S3 {
        /// The bucket name.
        bucket: String,
        /// The key prefix inside the bucket, without leading or trailing `/`; empty for the
        /// bucket's root.
        prefix: String,
    },
}

impl RemoteUrl {
    /// Parses `file:///abs/path` or `s3://bucket[/prefix]`.
    pub fn parse(url: &str) -> Result<Self> {
        let invalid = |why: &str| Error::RemoteUrl {
            url: url.to_owned(),
            why: why.to_owned(),
        };
        if let Some(rest) = url.strip_prefix("file://") {
            if !rest.starts_with('/') {
                return Err(invalid(
                    "a file URL needs an absolute path: file:///abs/path",
                ));
            }
            let path = percent_decode(rest).ok_or_else(|| invalid("bad %-escape"))?;
            let path = PathBuf::from(path);
            if path
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir))
            {
                return Err(invalid("`..` is not allowed in the path"));
            }
            Ok(RemoteUrl::File(path))
        } else if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            check_bucket(bucket).map_err(|why| invalid(&why))?;
            let prefix = prefix.trim_end_matches('/');
            if !prefix.is_empty() {
                check_key(prefix).map_err(|why| invalid(&format!("prefix: {why}")))?;
            }
            Ok(RemoteUrl::S3 {
                bucket: bucket.to_string(),
                prefix: prefix.to_string(),
            })
        } else {
            Err(invalid("expected file:///abs/path or s3://bucket/prefix"))
        }
    }

    /// The local directory of a `file://` URL.
    pub fn as_file_path(&self) -> Option<&Path> {
        match self {
            RemoteUrl::File(path) => Some(path),
            RemoteUrl::S3 { .. } => None,
        }
    }
}

impl FromStr for RemoteUrl {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        RemoteUrl::parse(s)
    }
}

impl fmt::Display for RemoteUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RemoteUrl::File(path) => write!(f, "file://{}", path.display()),
            RemoteUrl::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            RemoteUrl::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

/// Checks an object key (or key prefix): `/`-separated segments of `[A-Za-z0-9._+@=-]`, none
/// empty, none starting with `.`.
///
/// The rules keep keys portable: the same key is a file path under a `file://` remote and an
/// object name in S3, so it may not climb out of its directory (`..`), collide with temporary
/// files (which start with `.`), or need escaping in a URL.
pub fn check_key(key: &str) -> std::result::Result<(), String> {
    if key.is_empty() {
        return Err("empty key".into());
    }
    for segment in key.split('/') {
        if segment.is_empty() {
            return Err(format!("key `{key}` has an empty segment"));
        }
        if segment.starts_with('.') {
            return Err(format!("key `{key}` has a segment starting with `.`"));
        }
        if let Some(c) = segment
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || "._+@=-".contains(*c)))
        {
            return Err(format!("key `{key}` contains `{}`", c.escape_default()));
        }
    }
    Ok(())
}

/// Checks an S3 bucket name: 3 to 63 lowercase letters, digits, `.` and `-`.
fn check_bucket(bucket: &str) -> std::result::Result<(), String> {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-';
    if !(3..=63).contains(&bucket.len()) || !bucket.chars().all(allowed) {
        return Err(format!(
            "bucket `{bucket}` must be 3 to 63 lowercase letters, digits, `.` or `-`"
        ));
    }
    Ok(())
}

/// Decodes `%XX` escapes; `None` on a malformed escape or a result that is not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_file_urls() {
        let url = RemoteUrl::parse("file:///srv/slugs%20remote").unwrap();
        assert_eq!(url, RemoteUrl::File(PathBuf::from("/srv/slugs remote")));
        assert_eq!(url.as_file_path(), Some(Path::new("/srv/slugs remote")));
        assert_eq!(url.to_string(), "file:///srv/slugs remote");
    }

    #[test]
    fn parses_s3_urls() {
        let url = RemoteUrl::parse("s3://my-bucket/team/slugs/").unwrap();
        assert_eq!(
            url,
            RemoteUrl::S3 {
                bucket: "my-bucket".into(),
                prefix: "team/slugs".into()
            }
        );
        assert_eq!(url.to_string(), "s3://my-bucket/team/slugs");
        let root = RemoteUrl::parse("s3://my-bucket").unwrap();
        assert_eq!(
            root,
            RemoteUrl::S3 {
                bucket: "my-bucket".into(),
                prefix: String::new()
            }
        );
        assert_eq!(root.to_string(), "s3://my-bucket");
        assert_eq!(root.as_file_path(), None);
    }

    #[test]
    fn refuses_bad_urls_naming_them() {
        for bad in [
            "file://relative/path",
            "file:///a/../b",
            "file:///a%zz",
            "s3://",
            "s3://UPPER/x",
            "s3://ok-bucket/a//b",
            "s3://ok-bucket/../x",
            "s3://ok-bucket/a b",
            "http://example/x",
            "/plain/path",
        ] {
            let err = RemoteUrl::parse(bad).unwrap_err().to_string();
            assert!(err.contains(bad), "error for {bad} does not name it: {err}");
        }
    }

    #[test]
    fn key_rules() {
        assert!(check_key("objects/ab/cdef-01.pack").is_ok());
        assert!(check_key("refs/heads/release@2024=1+x").is_ok());
        for bad in [
            "", "/abs", "a//b", "a/", "a/../b", ".hidden", "a/.tmp", "a\\b", "é",
        ] {
            assert!(check_key(bad).is_err(), "{bad:?} accepted");
        }
    }
}
