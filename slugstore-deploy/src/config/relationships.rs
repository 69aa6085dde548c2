//! `relationships` of `.magento.app.yaml`: the services the application connects to at deploy time,
//! in the platform's two spellings.

use std::collections::BTreeMap;

use super::field::{required, Field, Sink};
use crate::diagnostic::Pos;

/// One relationship: a service the application connects to at deploy time.
#[derive(Debug, Clone)]
pub struct Relationship {
    /// The service name, a key of `.magento/services.yaml`.
    pub service: String,
    /// The endpoint of that service, when given.
    pub endpoint: Option<String>,
    /// Where the service is named.
    pub(crate) at: Pos,
}

/// `relationships`: each value as `service:endpoint`, `{service, endpoint}` or null (the service of
/// the key's name).
pub(super) fn relationships(
    field: &Field<'_>,
    sink: &mut Sink<'_>,
) -> BTreeMap<String, Relationship> {
    let mut out = BTreeMap::new();
    for f in field.entries(sink).unwrap_or_default() {
        let parsed = if f.is_null() {
            Some(Relationship {
                service: f.key.to_owned(),
                endpoint: None,
                at: f.key_pos(),
            })
        } else if f.node.value.is_collection() {
            relationship_map(&f, sink)
        } else {
            relationship_text(&f, sink)
        };
        if let Some(parsed) = parsed {
            out.insert(f.key.to_owned(), parsed);
        }
    }
    out
}

/// `rel: "service:endpoint"`.
fn relationship_text(field: &Field<'_>, sink: &mut Sink<'_>) -> Option<Relationship> {
    let text = field.string(sink, "`service:endpoint` or {service, endpoint}")?;
    match text.split_once(':') {
        Some((service, endpoint)) if !service.is_empty() && !endpoint.is_empty() => {
            Some(Relationship {
                service: service.to_owned(),
                endpoint: Some(endpoint.to_owned()),
                at: field.pos(),
            })
        }
        _ => {
            field.error(sink, format!("must be `service:endpoint`, found `{text}`"));
            None
        }
    }
}

/// `rel: {service: name, endpoint: name}`.
fn relationship_map(field: &Field<'_>, sink: &mut Sink<'_>) -> Option<Relationship> {
    field.entries(sink)?;
    let service = required(
        field,
        "service",
        sink,
        "is required: the service this relationship connects to",
    )?;
    let endpoint = field
        .get("endpoint")
        .and_then(|e| e.string(sink, "a string").map(str::to_owned));
    let name = service.string(sink, "a service name")?;
    Some(Relationship {
        service: name.to_owned(),
        endpoint,
        at: service.pos(),
    })
}
