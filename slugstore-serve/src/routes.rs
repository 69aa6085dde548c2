//! Which handler answers which request, and the checks every request passes first.
//!
//! | method | path | what |
//! |---|---|---|
//! | GET | `/` | the page (with `/app.js`, `/style.css`) |
//! | GET | `/api/status` | the status document (every environment) |
//! | GET | `/api/events` | the status document, pushed at each change (Server-Sent Events) |
//! | GET | `/api/envs/ENV/deploys/ID` | one deploy's record |
//! | GET | `/api/envs/ENV/deploys/ID/log?offset=N` | its log from byte N |
//! | POST | `/api/envs/ENV/rollback` | roll back (token) |
//! | POST | `/api/envs/ENV/promote` | promote a slug or environment here (token) |

use std::io::Read;

use tiny_http::{Method, Request};

use crate::reply::{ApiError, Reply};
use crate::{api, assets, sse, Shared};

/// The largest request body read (actions take a few fields of JSON).
const MAX_BODY: u64 = 64 * 1024;

/// Answers `request`.
pub fn handle(shared: &Shared, mut request: Request) {
    if let Err(e) = check_host(shared, &request) {
        let _ = request.respond(e.reply());
        return;
    }
    let (path, query) = split_url(request.url());
    if request.method() == &Method::Get && path == "/api/events" {
        sse::stream(shared, request);
        return;
    }
    let reply = route(shared, &mut request, &path, &query).unwrap_or_else(|e| e.reply());
    // The client may be gone; there is no one to tell.
    let _ = request.respond(reply);
}

fn route(
    shared: &Shared,
    request: &mut Request,
    path: &str,
    query: &str,
) -> Result<Reply, ApiError> {
    let method = request.method().clone();
    if method == Method::Get {
        if let Some(asset) = assets::get(path) {
            return Ok(asset);
        }
    }
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (&method, segments.as_slice()) {
        (Method::Get, ["api", "status"]) => Ok(api::status(shared)),
        (Method::Get, ["api", "envs", env, "deploys", id]) => api::deploy(shared, env, id),
        (Method::Get, ["api", "envs", env, "deploys", id, "log"]) => {
            api::log(shared, env, id, query_param(query, "offset"))
        }
        (Method::Post, ["api", "envs", env, action @ ("rollback" | "promote")]) => {
            let auth = header_value(request, "Authorization");
            api::authorize(shared, auth.as_deref())?;
            let body = read_body(request)?;
            match *action {
                "rollback" => api::rollback(shared, env, &body),
                _ => api::promote(shared, env, &body),
            }
        }
        (_, ["api", "envs", _, "rollback" | "promote"]) => Err(ApiError::new(
            405,
            format!("{path} takes POST, not {method}"),
        )),
        (Method::Get, _) => Err(ApiError::not_found(format!("no page at {path}"))),
        _ => Err(ApiError::new(405, format!("{method} {path} is not served"))),
    }
}

/// Refuses a request whose `Host` is not the address served, when serving on loopback: a page on
/// another site whose name is made to resolve to 127.0.0.1 (DNS rebinding) would otherwise read the
/// status through the operator's browser.
fn check_host(shared: &Shared, request: &Request) -> Result<(), ApiError> {
    if !shared.addr.ip().is_loopback() {
        return Ok(());
    }
    let port = shared.addr.port();
    let host = header_value(request, "Host").unwrap_or_default();
    let mut allowed = vec![
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
    ];
    allowed.extend(shared.opts.allowed_hosts.iter().cloned());
    if allowed.iter().any(|a| a.eq_ignore_ascii_case(&host)) {
        Ok(())
    } else {
        Err(ApiError::new(
            403,
            format!(
                "this server answers only to {} (Host was `{host}`; see --allow-host)",
                allowed.join(", ")
            ),
        ))
    }
}

fn header_value(request: &Request, name: &'static str) -> Option<String> {
    request
        .headers()
        .iter()
        .find(|h| h.field.equiv(name))
        .map(|h| h.value.as_str().to_owned())
}

fn read_body(request: &mut Request) -> Result<Vec<u8>, ApiError> {
    let mut body = Vec::new();
    request
        .as_reader()
        .take(MAX_BODY + 1)
        .read_to_end(&mut body)
        .map_err(|e| ApiError::bad_request(format!("reading the request body: {e}")))?;
    if body.len() as u64 > MAX_BODY {
        return Err(ApiError::new(
            413,
            format!("request body over {MAX_BODY} bytes"),
        ));
    }
    Ok(body)
}

/// `/a/b?x=1` → (`/a/b`, `x=1`).
fn split_url(url: &str) -> (String, String) {
    match url.split_once('?') {
        Some((p, q)) => (p.to_owned(), q.to_owned()),
        None => (url.to_owned(), String::new()),
    }
}

/// The value of `name` in a query string (no percent-decoding: the values used are numbers).
fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_path_and_parameters() {
        assert_eq!(
            split_url("/api/x/log?offset=12&y=2"),
            ("/api/x/log".into(), "offset=12&y=2".into())
        );
        assert_eq!(split_url("/"), ("/".into(), "".into()));
        assert_eq!(query_param("offset=12&y=2", "offset"), Some("12"));
        assert_eq!(query_param("y=2", "offset"), None);
    }
}
