//! Responses: JSON documents, errors with the status code that says what went wrong, static files.
//!
//! Every error answers `{"error": "..."}` with the library's message, which names the environment,
//! slug or path at fault, as the command line would print it. Every answer closes its connection
//! (`Connection: close`): a page's few requests do not need keep-alive, and a connection that ends
//! with its answer frees its slot at once (see the `limits` module).

use std::io::{self, Write};

use serde::Serialize;
use slugstore::Error;

/// A response ready to send: status, headers and the whole body (bodies here are small).
#[derive(Debug)]
pub struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

impl Reply {
    /// The same reply with one more header; names and values here are ASCII without line breaks.
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        let value = value.into();
        debug_assert!(!value.contains(['\r', '\n']));
        self.headers.push((name, value));
        self
    }

    /// Writes the reply to `out` (the head only when `head_only`: an answer to `HEAD`).
    pub fn write_to(&self, out: &mut impl Write, head_only: bool) -> io::Result<()> {
        let mut text = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        for (name, value) in &self.headers {
            text.push_str(&format!("{name}: {value}\r\n"));
        }
        text.push_str(&format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            self.body.len()
        ));
        let mut bytes = text.into_bytes();
        if !head_only {
            bytes.extend_from_slice(&self.body);
        }
        out.write_all(&bytes)?;
        out.flush()
    }
}

/// The reason phrase of the status codes this server sends.
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        414 => "URI Too Long",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Internal Server Error",
    }
}

/// A failed request: an HTTP status and a message.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// What went wrong.
    pub message: String,
}

impl ApiError {
    /// An error with `status`.
    pub fn new(status: u16, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(404, message)
    }

    /// 400.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, message)
    }

    /// The response.
    pub fn reply(&self) -> Reply {
        let r = json(self.status, &serde_json::json!({ "error": self.message }));
        match self.status {
            401 => r.with_header("WWW-Authenticate", "Bearer realm=\"slug serve\""),
            503 => r.with_header("Retry-After", "1"),
            _ => r,
        }
    }
}

/// How the library's errors map to HTTP: the user's mistakes (a name, a value, a request that cannot
/// be done as asked) are 400, a store busy with a deploy is 409, a missing store is 404, anything else
/// (I/O, damage, a failed deploy) 500. The variants that replaced the former catch-all `Invalid` keep
/// its 400, including the few that are not the user's doing (a push stopped, a watcher that did not
/// answer): reclassifying them is a change of behaviour of its own.
impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        let status = match &e {
            Error::UnknownSlug(_)
            | Error::AmbiguousSlug { .. }
            | Error::InvalidRefName(_)
            | Error::RefLooksLikeId(_)
            | Error::UnknownRef(_)
            | Error::BadPath { .. }
            | Error::NotADirectory(_)
            | Error::StoreExists(_)
            | Error::NotEmpty(_)
            | Error::FileChanged { .. }
            | Error::ChangedDuringRun(_)
            | Error::TooLarge(_)
            | Error::Mount { .. }
            | Error::MountWithoutPath(_)
            | Error::MountsOverlap { .. }
            | Error::MountOutsideShared { .. }
            | Error::NotARelease { .. }
            | Error::RollbackNothingLive
            | Error::RollbackNotInHistory(_)
            | Error::RollbackTooFar { .. }
            | Error::HookSpawn { .. }
            | Error::InvalidRemoteName(_)
            | Error::RemoteExists { .. }
            | Error::AmbiguousRemote(_)
            | Error::RemoteUrl { .. }
            | Error::RelativeFileRemote(_)
            | Error::RemoteKey { .. }
            | Error::NoCredentials { .. }
            | Error::PushStopped
            | Error::TransferThreads(_)
            | Error::PatchTooLarge
            | Error::Patch(_)
            | Error::UnknownArchiveFormat(_)
            | Error::TooManyMembers(_)
            | Error::ArchiveTooLarge(_)
            | Error::BadValue { .. }
            | Error::BadOption { .. }
            | Error::NestedOutputs { .. }
            | Error::CacheNoCommand
            | Error::CacheNoOutput
            | Error::SpecialOutput(_)
            | Error::OutsideBuildRoot { .. }
            | Error::AmbiguousCacheKey { .. }
            | Error::KeyExists(_)
            | Error::BadPublicKey { .. }
            | Error::NoPolicy
            | Error::GzipEntryTooLarge { .. }
            | Error::WatchedTreeGone(_)
            | Error::WatchLimit { .. }
            | Error::WatcherClient(_)
            | Error::WatcherUnreachable { .. }
            | Error::WatcherForeign { .. }
            | Error::External(_) => 400,
            Error::Locked { .. } | Error::TargetLocked { .. } => 409,
            Error::NoStore(_) => 404,
            _ => 500,
        };
        ApiError::new(status, e.to_string())
    }
}

/// A deploy's errors map as the store's do; a configuration that does not validate is the user's to fix.
impl From<slugstore_deploy::Error> for ApiError {
    fn from(e: slugstore_deploy::Error) -> ApiError {
        use slugstore_deploy::Error as E;
        match e {
            E::Store(e) => e.into(),
            E::DeployRunning { .. } => ApiError::new(409, e.to_string()),
            E::Config(_)
            | E::NoLiveRelease { .. }
            | E::SlugNotInStore(_)
            | E::PromotedSlugGone { .. }
            | E::PromoteToSelf(_)
            | E::BuildKeyMismatch { .. }
            | E::NoBuildKey { .. }
            | E::RelayoutBlocked { .. }
            | E::NoEndpoint { .. }
            | E::BadEndpoint { .. }
            | E::NotAnEndpoint
            | E::InvalidEndpointName(_)
            | E::ServicesFile { .. }
            | E::ServicesLine { .. }
            | E::TargetTaken { .. }
            | E::BranchTaken { .. }
            | E::InvalidEnvironmentName(_)
            | E::InvalidBranchName(_)
            | E::InvalidVariableName(_)
            | E::NotAnAssignment(_)
            | E::InvalidDomain(_)
            | E::UnknownVariable { .. }
            | E::UnknownEndpoint { .. }
            | E::Spawn { .. }
            | E::Wait { .. }
            | E::HookFailed { .. }
            | E::HookStopped { .. }
            | E::HookOutput(_)
            | E::PostSwitchFailed { .. }
            | E::GitRepo { .. }
            | E::NotAGitRepo(_)
            | E::BadRevision(_)
            | E::UnknownRevision { .. }
            | E::GitFailed { .. }
            | E::GitArchiveFailed { .. }
            | E::CronLog { .. }
            | E::LiveConfig { .. }
            | E::Mount { .. }
            | E::MountWithoutSource { .. }
            | E::NoDeploy { .. }
            | E::AmbiguousDeploy { .. } => ApiError::new(400, e.to_string()),
            e => ApiError::new(500, e.to_string()),
        }
    }
}

/// `value` as JSON with `status`.
pub fn json(status: u16, value: &impl Serialize) -> Reply {
    let body = serde_json::to_vec(value).expect("responses serialize");
    bytes(status, "application/json", body)
}

/// A body of type `content_type` with `status`, marked not to be cached or sniffed.
pub fn bytes(status: u16, content_type: &str, body: Vec<u8>) -> Reply {
    Reply {
        status,
        headers: Vec::new(),
        body,
    }
    .with_header("Content-Type", content_type)
    .with_header("Cache-Control", "no-store")
    .with_header("X-Content-Type-Options", "nosniff")
}
