//! `s3://bucket/prefix` remotes: objects in any S3-compatible store (AWS S3, Ceph RGW, MinIO...).
//!
//! Built on the Arrow project's `object_store` client, which signs requests (SigV4), retries
//! transient failures and speaks multipart uploads. Its API is async; this backend owns a small
//! tokio runtime and blocks on it so the rest of the crate stays synchronous.
//!
//! Create-only writes send `If-None-Match: *`: the store itself refuses a PUT onto an existing
//! key with `412 Precondition Failed`, which is what makes concurrent pushes from several
//! machines safe. Files larger than [`SINGLE_PUT_MAX`] go up as multipart uploads in
//! [`PART_SIZE`] parts, streamed from disk.
//!
//! Request bodies are sent as `UNSIGNED-PAYLOAD` (the signature covers the request, not a SHA-256 of
//! the body): every key but a ref's names the BLAKE3 of what it holds, and every pull checks each
//! object's hash, so a hash of the body in the signature adds nothing but a pass over every byte on
//! both ends (a local RGW took a 4 MiB PUT in 33 ms instead of 41 ms).
//!
//! Settings come from the standard AWS environment variables or an explicit [`S3Config`].
//! Secrets are kept out of every `Debug`/`Display` output and error message: URLs printed by
//! slugstore name the bucket and key only.

mod config;

use std::fmt;
use std::fs::File;
use std::io::{Read, Write};
use std::ops::Range;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::{
    BackoffConfig, ClientOptions, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload,
    RetryConfig, WriteMultipart,
};

use super::{checked_key, range_error, Backend, PutOutcome};
use crate::error::{Error, IoResultExt, Result};
use crate::fsutil::TempFile;
use crate::remote::url::RemoteUrl;

pub use config::S3Config;

/// Files up to this size are uploaded with one (conditional) PUT, read into memory first.
pub const SINGLE_PUT_MAX: u64 = 16 * 1024 * 1024;
/// Part size of multipart uploads (S3 requires at least 5 MiB per part but the last).
pub const PART_SIZE: usize = 8 * 1024 * 1024;
/// Parts of one multipart upload in flight at once. A push runs up to
/// [`TRANSFERS`](crate::remote::TRANSFERS) uploads side by side, each holding this many parts plus the one
/// being read: 4 x (2 + 1) x 8 MiB. With 4 parts in flight a first push of the 100k-file tree peaked at
/// 245-275 MiB RSS, no faster against the local RGW.
const PART_CONCURRENCY: usize = 2;

/// A remote in an S3-compatible object store.
pub struct S3Backend {
    url: RemoteUrl,
    endpoint: Option<String>,
    store: AmazonS3,
    runtime: tokio::runtime::Runtime,
    /// Set once the bucket is known to exist (see [`S3Backend::check_bucket`]).
    bucket_seen: OnceLock<()>,
}

impl fmt::Debug for S3Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Backend")
            .field("url", &self.url.to_string())
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl S3Backend {
    /// A backend for the bucket and prefix of `config`. Makes no request: a wrong endpoint or
    /// credentials show up on first use.
    pub fn new(config: S3Config) -> Result<Self> {
        let url = config.url();
        if !config.prefix.is_empty() {
            checked_key(&url, &config.prefix)?;
        }
        let plain_http = (config.endpoint.as_deref()).is_some_and(|e| e.starts_with("http://"));
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&config.bucket)
            .with_region(&config.region)
            .with_access_key_id(&config.access_key_id)
            .with_secret_access_key(&config.secret_access_key)
            .with_virtual_hosted_style_request(config.virtual_hosted_style)
            .with_unsigned_payload(true)
            .with_client_options(
                ClientOptions::new()
                    .with_allow_http(config.allow_http)
                    // A plain-HTTP endpoint never needs the system's trust store, which takes
                    // milliseconds of every command to load.
                    .with_no_system_certificates(plain_http)
                    .with_connect_timeout(Duration::from_secs(10)),
            )
            .with_retry(RetryConfig {
                backoff: BackoffConfig::default(),
                max_retries: 5,
                retry_timeout: Duration::from_secs(120),
            });
        if let Some(endpoint) = &config.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        if let Some(token) = &config.session_token {
            builder = builder.with_token(token);
        }
        let store = builder.build().map_err(|e| Error::Remote {
            location: url.to_string(),
            source: Box::new(e),
        })?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Remote {
                location: url.to_string(),
                source: Box::new(e),
            })?;
        Ok(S3Backend {
            url,
            endpoint: config.endpoint,
            store,
            runtime,
            bucket_seen: OnceLock::new(),
        })
    }

    /// The object path of `key` in the bucket.
    fn object_path(&self, key: &str) -> Result<ObjectPath> {
        checked_key(&self.url, key)?;
        let RemoteUrl::S3 { prefix, .. } = &self.url else {
            unreachable!("S3 backend with a non-S3 URL")
        };
        let full = if prefix.is_empty() {
            key.to_string()
        } else {
            format!("{prefix}/{key}")
        };
        ObjectPath::parse(&full).map_err(|e| self.error(key, e))
    }

    /// `s3://bucket/prefix/key`, for messages.
    fn location(&self, key: &str) -> String {
        format!("{}/{key}", self.url)
    }

    fn error(&self, key: &str, source: impl std::error::Error + Send + Sync + 'static) -> Error {
        Error::Remote {
            location: self.location(key),
            source: Box::new(source),
        }
    }

    /// Maps "not found" to `None` and other failures to an error naming `key`.
    ///
    /// S3 answers 404 both for a missing key and for a missing bucket (and a HEAD's 404 has no
    /// body to tell them apart). A misspelt bucket must not look like an empty remote, so the
    /// first "not found" is followed by a check of the bucket itself.
    fn found<T>(&self, key: &str, result: object_store::Result<T>) -> Result<Option<T>> {
        match result {
            Ok(v) => Ok(Some(v)),
            Err(object_store::Error::NotFound { .. }) => {
                self.check_bucket()?;
                Ok(None)
            }
            Err(e) => Err(self.error(key, e)),
        }
    }

    /// Fails unless the bucket exists and can be listed; one request per backend at most.
    fn check_bucket(&self) -> Result<()> {
        if self.bucket_seen.get().is_some() {
            return Ok(());
        }
        let RemoteUrl::S3 { bucket, .. } = &self.url else {
            unreachable!("S3 backend with a non-S3 URL")
        };
        let mut listing = self.store.list(None);
        match self.runtime.block_on(listing.next()) {
            None | Some(Ok(_)) => {
                let _ = self.bucket_seen.set(());
                Ok(())
            }
            Some(Err(e)) => Err(Error::Remote {
                location: format!("s3://{bucket}"),
                source: format!("cannot list the bucket (does it exist?): {e}").into(),
            }),
        }
    }

    /// Uploads `path` in parts, streaming it from disk.
    async fn upload_parts(&self, key: &str, location: &ObjectPath, path: &Path) -> Result<()> {
        let mut file = File::open(path).at(path)?;
        let upload = self
            .store
            .put_multipart(location)
            .await
            .map_err(|e| self.error(key, e))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        loop {
            if let Err(e) = writer.wait_for_capacity(PART_CONCURRENCY).await {
                let _ = writer.abort().await;
                return Err(self.error(key, e));
            }
            let mut part = Vec::with_capacity(PART_SIZE);
            let read = (&mut file).take(PART_SIZE as u64).read_to_end(&mut part);
            match read {
                Ok(0) => break,
                Ok(_) => writer.put(Bytes::from(part)),
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(Error::io(path, e));
                }
            }
        }
        writer.finish().await.map_err(|e| self.error(key, e))?;
        Ok(())
    }
}

impl Backend for S3Backend {
    fn url(&self) -> &RemoteUrl {
        &self.url
    }

    fn put_if_absent(&self, key: &str, data: Bytes) -> Result<PutOutcome> {
        let location = self.object_path(key)?;
        let opts = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        match self
            .runtime
            .block_on(self.store.put_opts(&location, PutPayload::from(data), opts))
        {
            Ok(_) => Ok(PutOutcome::Created),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(PutOutcome::AlreadyExists),
            Err(e) => Err(self.error(key, e)),
        }
    }

    fn put(&self, key: &str, data: Bytes) -> Result<()> {
        let location = self.object_path(key)?;
        self.runtime
            .block_on(self.store.put(&location, PutPayload::from(data)))
            .map_err(|e| self.error(key, e))?;
        Ok(())
    }

    fn put_file_if_absent(&self, key: &str, path: &Path) -> Result<PutOutcome> {
        let location = self.object_path(key)?;
        let size = std::fs::metadata(path).at(path)?.len();
        if size <= SINGLE_PUT_MAX {
            let data = std::fs::read(path).at(path)?;
            return self.put_if_absent(key, Bytes::from(data));
        }
        if self.exists(key)? {
            return Ok(PutOutcome::AlreadyExists);
        }
        self.runtime
            .block_on(self.upload_parts(key, &location, path))?;
        Ok(PutOutcome::Created)
    }

    fn get(&self, key: &str) -> Result<Option<Bytes>> {
        let location = self.object_path(key)?;
        let result = self.runtime.block_on(async {
            match self.store.get(&location).await {
                Ok(got) => got.bytes().await,
                Err(e) => Err(e),
            }
        });
        self.found(key, result)
    }

    fn get_to_file(&self, key: &str, dest: &Path) -> Result<Option<u64>> {
        let location = self.object_path(key)?;
        let got = self.runtime.block_on(self.store.get(&location));
        let Some(got) = self.found(key, got)? else {
            return Ok(None);
        };
        self.runtime.block_on(async {
            let mut tmp = TempFile::beside_in_new_dir(dest)?;
            let tmp_path = tmp.path().to_path_buf();
            let mut stream = got.into_stream();
            let mut written = 0u64;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| self.error(key, e))?;
                tmp.file().write_all(&chunk).at(&tmp_path)?;
                written += chunk.len() as u64;
            }
            tmp.persist()?;
            Ok(Some(written))
        })
    }

    fn get_range(&self, key: &str, range: Range<u64>) -> Result<Option<Bytes>> {
        let location = self.object_path(key)?;
        if range.is_empty() {
            // HTTP cannot ask for zero bytes; the object must still exist and be long enough.
            let Some(size) = self.size(key)? else {
                return Ok(None);
            };
            if range.start > range.end || range.start > size {
                return Err(range_error(self.location(key), &range, size));
            }
            return Ok(Some(Bytes::new()));
        }
        let wanted = range.end - range.start;
        match self
            .runtime
            .block_on(self.store.get_range(&location, range.clone()))
        {
            Ok(bytes) if bytes.len() as u64 == wanted => Ok(Some(bytes)),
            Err(e @ object_store::Error::NotFound { .. }) => self.found(key, Err(e)),
            // A short answer or a refused range: find out whether the range was the problem
            // (one extra request, on the error path only).
            other => match self.size(key)? {
                None => Ok(None),
                Some(size) if range.end > size => {
                    Err(range_error(self.location(key), &range, size))
                }
                Some(_) => Err(match other {
                    Err(e) => self.error(key, e),
                    Ok(bytes) => self.error(key, short_read(wanted, bytes.len())),
                }),
            },
        }
    }

    fn size(&self, key: &str) -> Result<Option<u64>> {
        let location = self.object_path(key)?;
        let result = self.runtime.block_on(self.store.head(&location));
        Ok(self.found(key, result)?.map(|meta| meta.size))
    }

    fn list(&self, prefix: &str) -> Result<Vec<(String, u64)>> {
        let prefix = prefix.trim_end_matches('/');
        let RemoteUrl::S3 { prefix: root, .. } = &self.url else {
            unreachable!("S3 backend with a non-S3 URL")
        };
        let listed = if prefix.is_empty() && root.is_empty() {
            None
        } else if prefix.is_empty() {
            Some(ObjectPath::parse(root).map_err(|e| self.error("", e))?)
        } else {
            Some(self.object_path(prefix)?)
        };
        let strip = if root.is_empty() {
            String::new()
        } else {
            format!("{root}/")
        };
        let mut out = self.runtime.block_on(async {
            let mut stream = self.store.list(listed.as_ref());
            let mut out = Vec::new();
            while let Some(meta) = stream.next().await {
                let meta = meta.map_err(|e| self.error(prefix, e))?;
                let full = meta.location.as_ref();
                let key = full.strip_prefix(strip.as_str()).unwrap_or(full);
                out.push((key.to_string(), meta.size));
            }
            Ok::<_, Error>(out)
        })?;
        out.sort();
        Ok(out)
    }

    fn delete(&self, key: &str) -> Result<()> {
        let location = self.object_path(key)?;
        let result = self.runtime.block_on(self.store.delete(&location));
        self.found(key, result)?;
        Ok(())
    }
}

/// The error for a ranged read that returned fewer bytes than asked.
fn short_read(wanted: u64, got: usize) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::UnexpectedEof,
        format!("asked for {wanted} bytes, got {got}"),
    )
}

#[cfg(test)]
mod tests;
