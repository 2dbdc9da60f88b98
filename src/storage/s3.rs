//! Building an S3 store from a bucket, a prefix and [`S3Options`], and explaining its errors.
//!
//! Settings from the pipeline file win over the `AWS_*` environment, which wins over
//! defaults. Credentials come only from the environment (or the instance/container role that
//! `object_store` discovers) and never reach a message: errors show the bucket, key and
//! endpoint, and object_store's own messages carry method, URL and status, never headers.

use crate::config::{Addressing, S3Options};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::client::{HttpError, HttpErrorKind};
use object_store::{BackoffConfig, ClientConfigKey, RetryConfig};
use std::time::Duration;

/// First backoff after a failed request; doubles up to [`MAX_BACKOFF`].
pub const INITIAL_BACKOFF: Duration = Duration::from_millis(200);
/// Longest pause between two retries.
pub const MAX_BACKOFF: Duration = Duration::from_secs(15);

/// Variables that select a credential source other than static keys.
const ROLE_VARIABLES: [&str; 3] =
    ["AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"];

/// What error messages say about an S3 location: where it is and how it is reached.
#[derive(Debug, Clone)]
pub struct S3Context {
    /// Bucket name.
    pub bucket: String,
    /// Endpoint as shown to users (`AWS` when none is set).
    pub endpoint: String,
    /// Retries per request, to say how hard we tried.
    pub max_retries: usize,
}

/// Build the store for `bucket`.
///
/// # Errors
/// A message for settings that cannot work (plain HTTP not allowed, no credentials for a
/// custom endpoint) or that object_store rejects.
pub fn build(bucket: &str, o: &S3Options) -> Result<(object_store::aws::AmazonS3, S3Context), String> {
    let mut b = with_options(AmazonS3Builder::from_env().with_bucket_name(bucket), o);
    let shown = b.get_config_value(&AmazonS3ConfigKey::Endpoint).unwrap_or_else(|| "AWS S3".to_string());
    if check_access(&b, o, &shown)? {
        b = b.with_skip_signature(true);
    }
    let retry = RetryConfig {
        backoff: BackoffConfig { init_backoff: INITIAL_BACKOFF, max_backoff: MAX_BACKOFF, base: 2.0 },
        max_retries: o.max_retries,
        retry_timeout: o.retry_timeout,
    };
    // Through `with_config`: `with_client_options` would replace the environment's client settings.
    let millis = |d: Duration| format!("{}ms", d.as_millis());
    let store = b
        .with_retry(retry)
        .with_config(AmazonS3ConfigKey::Client(ClientConfigKey::ConnectTimeout), millis(o.connect_timeout))
        .with_config(AmazonS3ConfigKey::Client(ClientConfigKey::Timeout), millis(o.request_timeout))
        .build()
        .map_err(|e| format!("cannot configure S3 access to bucket {bucket:?} at {shown}: {e}"))?;
    Ok((store, S3Context { bucket: bucket.to_string(), endpoint: shown, max_retries: o.max_retries }))
}

/// Pipeline-file settings over the environment's.
fn with_options(mut b: AmazonS3Builder, o: &S3Options) -> AmazonS3Builder {
    if let Some(e) = &o.endpoint {
        b = b.with_endpoint(e);
    }
    if let Some(r) = &o.region {
        b = b.with_region(r);
    }
    if let Some(a) = o.addressing {
        b = b.with_virtual_hosted_style_request(a == Addressing::Virtual);
    }
    if let Some(h) = o.allow_http {
        b = b.with_allow_http(h);
    }
    b
}

/// Refuse settings that cannot work or would leak, before any request. Returns whether
/// requests go unsigned.
fn check_access(b: &AmazonS3Builder, o: &S3Options, shown: &str) -> Result<bool, String> {
    let config = |k: AmazonS3ConfigKey| b.get_config_value(&k);
    let endpoint = config(AmazonS3ConfigKey::Endpoint);
    if shown.contains('@') {
        // AWS_ENDPOINT_URL is not validated like the pipeline file: never echo user info.
        return Err("the endpoint URL (AWS_ENDPOINT_URL) contains user info; put credentials in \
                    AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY instead"
            .into());
    }
    let allow_http = config(AmazonS3ConfigKey::Client(ClientConfigKey::AllowHttp));
    if endpoint.as_deref().is_some_and(|e| e.starts_with("http://")) && allow_http.as_deref() != Some("true") {
        return Err(format!(
            "endpoint {shown} is plain HTTP: set `s3.allow_http = true` in the pipeline file (or AWS_ALLOW_HTTP=true) \
             if that is intended, e.g. for a local MinIO"
        ));
    }
    let anonymous = o.anonymous || config(AmazonS3ConfigKey::SkipSignature).as_deref() == Some("true");
    let has_keys =
        config(AmazonS3ConfigKey::AccessKeyId).is_some() || config(AmazonS3ConfigKey::SecretAccessKey).is_some();
    let has_role = ROLE_VARIABLES.iter().any(|v| std::env::var_os(v).is_some());
    if !anonymous && !has_keys && !has_role && endpoint.is_some() {
        // Without keys object_store would ask the EC2 instance metadata service, which a
        // custom endpoint (MinIO, another provider) never pairs with: fail clearly instead.
        return Err(format!(
            "no credentials for endpoint {shown}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment \
             (or `s3.anonymous = true` for a public bucket)"
        ));
    }
    Ok(anonymous)
}

impl S3Context {
    /// What to check for a failed request, judged from object_store's error and its chain.
    pub fn hint(&self, e: &object_store::Error) -> String {
        let text = chain_text(e);
        let (bucket, endpoint) = (&self.bucket, &self.endpoint);
        let creds = "check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), the region, \
                     and that these credentials may access the bucket";
        if text.contains("NoSuchBucket") {
            return format!("bucket {bucket:?} does not exist at {endpoint}: create it, or fix the bucket in the URL");
        }
        if text.contains("InvalidAccessKeyId") || text.contains("SignatureDoesNotMatch") {
            return format!("{endpoint} rejected the credentials: {creds}");
        }
        match e {
            object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. } => {
                format!("{endpoint} denied access to bucket {bucket:?}: {creds}")
            }
            object_store::Error::NotFound { .. } => "the object does not exist".to_string(),
            _ => match transport_kind(e) {
                Some(HttpErrorKind::Connect) | Some(HttpErrorKind::Request) => format!(
                    "cannot reach {endpoint} (gave up after up to {} retries): check the endpoint URL and port, that \
                     the service is running, and the network",
                    self.max_retries
                ),
                Some(HttpErrorKind::Timeout) | Some(HttpErrorKind::Interrupted) => format!(
                    "{endpoint} did not answer in time (after up to {} retries): check the service's health, or raise \
                     `s3.request_timeout_seconds` / `s3.max_retries`",
                    self.max_retries
                ),
                _ if text.contains("status code: 5") || text.contains("SlowDown") => format!(
                    "{endpoint} kept failing (after up to {} retries): the service is unhealthy or throttling; retry later",
                    self.max_retries
                ),
                _ => String::new(),
            },
        }
    }
}

/// The transport failure under an object_store error, if that is what it was.
fn transport_kind(e: &object_store::Error) -> Option<HttpErrorKind> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(h) = err.downcast_ref::<HttpError>() {
            return Some(h.kind());
        }
        cur = err.source();
    }
    None
}

/// The error and all its sources as one string (object_store puts the S3 error code, e.g.
/// `NoSuchBucket`, in the response body it carries).
fn chain_text(e: &object_store::Error) -> String {
    let mut out = e.to_string();
    let mut cur = std::error::Error::source(e);
    while let Some(err) = cur {
        out.push_str(": ");
        out.push_str(&err.to_string());
        cur = err.source();
    }
    out
}
