//! Responses: JSON documents, errors with the status code that says what went wrong, static files.
//!
//! Every error answers `{"error": "..."}` with the library's message, which names the environment,
//! slug or path at fault, as the command line would print it.

use std::io::Cursor;

use serde::Serialize;
use slugstore::Error;

/// A response ready to send.
pub type Reply = tiny_http::Response<Cursor<Vec<u8>>>;

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
        let mut r = json(self.status, &serde_json::json!({ "error": self.message }));
        if self.status == 401 {
            r.add_header(header("WWW-Authenticate", "Bearer realm=\"slug serve\""));
        }
        r
    }
}

/// How the library's errors map to HTTP: the user's mistakes are 400, a store busy with a deploy is
/// 409, a missing store is 404, anything else (I/O, damage, a failed deploy) 500.
impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        let status = match &e {
            Error::Invalid(_)
            | Error::UnknownSlug(_)
            | Error::AmbiguousSlug { .. }
            | Error::Config(_) => 400,
            Error::Locked { .. } => 409,
            Error::NoStore(_) => 404,
            _ => 500,
        };
        ApiError::new(status, e.to_string())
    }
}

/// `value` as JSON with `status`.
pub fn json(status: u16, value: &impl Serialize) -> Reply {
    let body = serde_json::to_vec(value).expect("responses serialize");
    bytes(status, "application/json", body)
}

/// A body of type `content_type` with `status`, marked not to be cached or sniffed.
pub fn bytes(status: u16, content_type: &str, body: Vec<u8>) -> Reply {
    tiny_http::Response::from_data(body)
        .with_status_code(status)
        .with_header(header("Content-Type", content_type))
        .with_header(header("Cache-Control", "no-store"))
        .with_header(header("X-Content-Type-Options", "nosniff"))
}

/// A header; names and values here are ASCII, so this cannot fail.
pub fn header(name: &str, value: &str) -> tiny_http::Header {
    tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("an ASCII header")
}
