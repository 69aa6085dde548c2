//! `.magento/routes.yaml`: which URLs reach the application and which redirect.
//!
//! Only the shape is checked here (each route an upstream or a redirect); whether an upstream names the
//! application defined in `.magento.app.yaml` is a cross-file rule, checked in `project.rs`.

use super::field::{required, Field, Sink};
use super::yaml::Node;
use crate::diagnostic::Pos;

/// One route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The URL template, e.g. `https://{default}/`.
    pub url: String,
    /// What the route does.
    pub action: RouteAction,
    /// Where the upstream or redirect target is written.
    pub(crate) at: Pos,
}

/// What a route does with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteAction {
    /// Serve it from an application: `upstream: "app:http"`.
    Upstream {
        /// The application name.
        app: String,
        /// The protocol after `:`, `http` when omitted.
        protocol: String,
    },
    /// Redirect to another URL: `to: "https://{default}/"`.
    Redirect {
        /// The target URL template.
        to: String,
    },
}

/// Reads every route of the file, recording defects; `None` when the file is not a mapping.
pub(crate) fn parse(root: &Node, sink: &mut Sink<'_>) -> Option<Vec<Route>> {
    let root = Field::root(root);
    let mut routes = Vec::new();
    for f in root.entries(sink)? {
        if !(f.key.starts_with("http://") || f.key.starts_with("https://")) {
            sink.error(
                Some(f.key_pos()),
                f.path(),
                format!(
                    "a route must be a URL starting with http:// or https://, found `{}`",
                    f.key
                ),
            );
        }
        if f.entries(sink).is_none() {
            continue;
        }
        let missing_type = format!("route `{}` has no `type` (upstream or redirect)", f.key);
        let Some(kind) = required(&f, "type", sink, &missing_type) else {
            continue;
        };
        let action = match kind.string(sink, "upstream or redirect") {
            Some("upstream") => required(
                &f,
                "upstream",
                sink,
                "is required with `type: upstream`, e.g. `app:http`",
            )
            .and_then(|u| upstream(&u, sink)),
            Some("redirect") => required(
                &f,
                "to",
                sink,
                "is required with `type: redirect`: the target URL",
            )
            .and_then(|t| Some((t.string(sink, "a URL")?.to_owned(), t.pos())))
            .map(|(to, at)| (RouteAction::Redirect { to }, at)),
            Some(other) => {
                kind.error(sink, format!("`{other}` is not one of upstream, redirect"));
                None
            }
            None => None,
        };
        if let Some((action, at)) = action {
            routes.push(Route {
                url: f.key.to_owned(),
                action,
                at,
            });
        }
    }
    Some(routes)
}

/// `upstream: "app:http"` (or just `"app"`).
fn upstream(field: &Field<'_>, sink: &mut Sink<'_>) -> Option<(RouteAction, Pos)> {
    let text = field.string(sink, "a string `app:http`")?;
    let (app, protocol) = text.split_once(':').unwrap_or((text, "http"));
    if app.is_empty() || protocol != "http" {
        field.error(sink, format!("must be `<app>:http`, found `{text}`"));
        return None;
    }
    Some((
        RouteAction::Upstream {
            app: app.to_owned(),
            protocol: protocol.to_owned(),
        },
        field.pos(),
    ))
}
