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

use crate::reply::{ApiError, Reply};
use crate::request::Request;
use crate::{api, assets, Shared};

/// What to do with a request.
pub enum Handled {
    /// Send this answer.
    Reply(Reply),
    /// Stream events on the connection (`GET /api/events`).
    Stream,
}

/// Answers `request`, or says it opens the event stream.
pub fn handle(shared: &Shared, request: &Request) -> Handled {
    if let Err(e) = check_host(shared, request) {
        return Handled::Reply(e.reply());
    }
    let (path, query) = split_url(&request.target);
    if request.method == "GET" && path == "/api/events" {
        return Handled::Stream;
    }
    Handled::Reply(route(shared, request, path, query).unwrap_or_else(|e| e.reply()))
}

fn route(shared: &Shared, request: &Request, path: &str, query: &str) -> Result<Reply, ApiError> {
    let method = request.method.as_str();
    if method == "GET" {
        if let Some(asset) = assets::get(path) {
            return Ok(asset);
        }
    }
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method, segments.as_slice()) {
        ("GET", ["api", "status"]) => Ok(api::status(shared)),
        ("GET", ["api", "envs", env, "deploys", id]) => api::deploy(shared, env, id),
        ("GET", ["api", "envs", env, "deploys", id, "log"]) => {
            api::log(shared, env, id, query_param(query, "offset"))
        }
        ("POST", ["api", "envs", env, action @ ("rollback" | "promote")]) => {
            api::authorize(shared, request.header("Authorization"))?;
            match *action {
                "rollback" => api::rollback(shared, env, &request.body),
                _ => api::promote(shared, env, &request.body),
            }
        }
        (_, ["api", "envs", _, "rollback" | "promote"]) => Err(ApiError::new(
            405,
            format!("{path} takes POST, not {method}"),
        )),
        ("GET", _) => Err(ApiError::not_found(format!("no page at {path}"))),
        _ => Err(ApiError::new(405, format!("{method} {path} is not served"))),
    }
}

/// Refuses a request whose `Host` is not the address served, when serving on loopback: a page on
/// another site whose name is made to resolve to 127.0.0.1 (DNS rebinding) would otherwise read the
/// status through the operator's browser.
/// The request reader has refused a second `Host` header, so the one checked is the only one.
fn check_host(shared: &Shared, request: &Request) -> Result<(), ApiError> {
    if !shared.addr.ip().is_loopback() {
        return Ok(());
    }
    let port = shared.addr.port();
    let host = request.header("Host").unwrap_or_default();
    let mut allowed = vec![
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
    ];
    allowed.extend(shared.opts.allowed_hosts.iter().cloned());
    if allowed.iter().any(|a| a.eq_ignore_ascii_case(host)) {
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

/// `/a/b?x=1` → (`/a/b`, `x=1`).
fn split_url(url: &str) -> (&str, &str) {
    url.split_once('?').unwrap_or((url, ""))
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
            ("/api/x/log", "offset=12&y=2")
        );
        assert_eq!(split_url("/"), ("/", ""));
        assert_eq!(query_param("offset=12&y=2", "offset"), Some("12"));
        assert_eq!(query_param("y=2", "offset"), None);
    }
}
