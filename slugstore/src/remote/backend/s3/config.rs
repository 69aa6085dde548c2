//! Where an S3 remote is and how to sign for it: [`S3Config`], from the standard AWS environment
//! variables or given whole, never printing its secrets.

use std::fmt;

use crate::error::{Error, Result};
use crate::remote::url::RemoteUrl;

/// How to reach an S3-compatible store.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Config {
    /// The bucket.
    pub bucket: String,
    /// Key prefix inside the bucket (no leading or trailing `/`; empty for the bucket root).
    pub prefix: String,
    /// Endpoint URL, e.g. `http://127.0.0.1:7480`; `None` for AWS itself.
    pub endpoint: Option<String>,
    /// Region used to sign requests.
    pub region: String,
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key; never printed.
    pub secret_access_key: String,
    /// Session token of temporary credentials; never printed.
    pub session_token: Option<String>,
    /// Address buckets as `bucket.endpoint` (AWS) instead of `endpoint/bucket` (path style, which
    /// most self-hosted stores need).
    pub virtual_hosted_style: bool,
    /// Allow plain `http://` endpoints (local test servers).
    pub allow_http: bool,
}

impl S3Config {
    /// Settings for `s3://bucket/prefix` from the standard AWS environment variables:
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` (both required), `AWS_SESSION_TOKEN`,
    /// `AWS_REGION` or `AWS_DEFAULT_REGION` (default `us-east-1`), `AWS_ENDPOINT_URL_S3` or
    /// `AWS_ENDPOINT_URL` (default: AWS). With an endpoint, requests are path-style, and an
    /// `http://` endpoint is allowed; without one, virtual-hosted style over HTTPS as AWS expects.
    pub fn from_env(bucket: &str, prefix: &str) -> Result<Self> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let missing = |name: &str| Error::NoCredentials {
            bucket: bucket.to_owned(),
            variable: name.to_owned(),
        };
        let endpoint = var("AWS_ENDPOINT_URL_S3").or_else(|| var("AWS_ENDPOINT_URL"));
        Ok(S3Config {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
            region: var("AWS_REGION")
                .or_else(|| var("AWS_DEFAULT_REGION"))
                .unwrap_or_else(|| "us-east-1".into()),
            access_key_id: var("AWS_ACCESS_KEY_ID").ok_or_else(|| missing("AWS_ACCESS_KEY_ID"))?,
            secret_access_key: var("AWS_SECRET_ACCESS_KEY")
                .ok_or_else(|| missing("AWS_SECRET_ACCESS_KEY"))?,
            session_token: var("AWS_SESSION_TOKEN"),
            virtual_hosted_style: endpoint.is_none(),
            allow_http: endpoint
                .as_deref()
                .is_some_and(|e| e.starts_with("http://")),
            endpoint,
        })
    }

    /// The remote URL these settings point at.
    pub fn url(&self) -> RemoteUrl {
        RemoteUrl::S3 {
            bucket: self.bucket.clone(),
            prefix: self.prefix.clone(),
        }
    }
}

impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |set: bool| if set { "<redacted>" } else { "<none>" };
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &redacted(true))
            .field("session_token", &redacted(self.session_token.is_some()))
            .field("virtual_hosted_style", &self.virtual_hosted_style)
            .field("allow_http", &self.allow_http)
            .finish()
    }
}
