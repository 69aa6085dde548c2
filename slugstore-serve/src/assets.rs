//! The page: one HTML file, its script and its style sheet, compiled into the binary.
//!
//! They are served as files (not inline) so that the Content-Security-Policy can forbid every inline
//! script and every other origin: whatever text a deploy log or a source name holds, the page only ever
//! runs `app.js`.

use crate::reply::{bytes, Reply};

const INDEX: &str = include_str!("../assets/index.html");
const SCRIPT: &str = include_str!("../assets/app.js");
const STYLE: &str = include_str!("../assets/style.css");

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                   img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The asset at `path`, if there is one.
pub fn get(path: &str) -> Option<Reply> {
    let (content_type, body) = match path {
        "/" | "/index.html" => ("text/html; charset=utf-8", INDEX),
        "/app.js" => ("text/javascript; charset=utf-8", SCRIPT),
        "/style.css" => ("text/css; charset=utf-8", STYLE),
        _ => return None,
    };
    Some(
        bytes(200, content_type, body.as_bytes().to_vec())
            .with_header("Content-Security-Policy", CSP)
            .with_header("Referrer-Policy", "no-referrer"),
    )
}
