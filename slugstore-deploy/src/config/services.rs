//! `.magento/services.yaml`: the services (databases, caches, search) the application connects to.
//!
//! A service's type carries its version (`mysql:10.6`) because the version decides data compatibility: a
//! change of it is a topology change that the deploy must announce, not a detail.

use std::collections::BTreeMap;
use std::fmt;

use super::field::{required, Field, Sink};
use super::yaml::Node;

/// One service of `.magento/services.yaml`.
#[derive(Debug, Clone)]
pub struct Service {
    /// `type`: kind and version.
    pub kind: ServiceType,
    /// `disk`, in MB, for services that store data.
    pub disk: Option<u64>,
}

/// A service type: `mysql:10.6` is kind `mysql`, version `10.6`.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceType {
    /// The kind of service (`mysql`, `redis`, `opensearch`, `network-storage`...).
    pub kind: String,
    /// Its version.
    pub version: String,
}

impl fmt::Display for ServiceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.version)
    }
}

/// Reads every service of the file, recording defects; `None` when the file is not a mapping.
pub(crate) fn parse(root: &Node, sink: &mut Sink<'_>) -> Option<BTreeMap<String, Service>> {
    let root = Field::root(root);
    let mut services = BTreeMap::new();
    for f in root.entries(sink)? {
        if f.entries(sink).is_none() {
            services.insert(
                f.key.to_owned(),
                Service {
                    kind: ServiceType::default(),
                    disk: None,
                },
            );
            continue;
        }
        let kind = required(&f, "type", sink, "is required, e.g. `mysql:10.6`").and_then(|t| {
            let text = t.string(sink, "a string `kind:version`")?;
            match text.split_once(':') {
                Some((kind, version)) if !kind.is_empty() && !version.is_empty() => {
                    Some(ServiceType {
                        kind: kind.to_owned(),
                        version: version.to_owned(),
                    })
                }
                _ => {
                    t.error(
                        sink,
                        format!("must be `kind:version` (e.g. `redis:7.2`), found `{text}`"),
                    );
                    None
                }
            }
        });
        let disk = f
            .get("disk")
            .and_then(|d| d.unsigned(sink, "a whole number of MB"));
        // A service with an invalid type is still defined: relationships to it are not also errors.
        services.insert(
            f.key.to_owned(),
            Service {
                kind: kind.unwrap_or_default(),
                disk,
            },
        );
    }
    Some(services)
}
