//! Validation of roots and of `[input.s3]` / `[output.s3]`: pure, collects every problem.
//!
//! Credentials never appear in a pipeline file: keys that look like them are rejected with a
//! pointer to the environment variables, and their values are never echoed.

use super::{Addressing, Problems, RawS3, S3Options};
use crate::storage::Root;
use std::time::Duration;

/// Longest timeout or retry budget accepted, in seconds.
const MAX_TIMEOUT_SECONDS: f64 = 3600.0;
/// Most retries accepted per request.
const MAX_RETRIES: i64 = 100;

/// Check a root (`input.root` / `output.root`).
pub(super) fn validate_root(key: &str, root: &str, p: &mut Problems) {
    if let Err(e) = Root::parse(root) {
        p.push(key, e);
    }
}

/// Resolve `[section.s3]` (`section` is `input` or `output`).
pub(super) fn validate_s3(section: &str, raw: Option<&RawS3>, p: &mut Problems) -> S3Options {
    let Some(raw) = raw else { return S3Options::default() };
    let key = |k: &str| format!("{section}.s3.{k}");
    for (name, v) in [
        ("access_key_id", &raw.access_key_id),
        ("secret_access_key", &raw.secret_access_key),
        ("session_token", &raw.session_token),
    ] {
        if v.is_some() {
            p.push(
                &key(name),
                "credentials are not accepted in pipeline files (they end up in version control and logs); \
                 set AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) in the environment",
            );
        }
    }
    if let Some(e) = &raw.endpoint {
        if let Err(msg) = check_endpoint(e) {
            p.push(&key("endpoint"), msg);
        }
    }
    if let Some(r) = &raw.region {
        if r.is_empty() || !r.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            p.push(&key("region"), format!("got {r:?}, expected a region name such as \"us-east-1\""));
        }
    }
    let addressing = raw.addressing.as_deref().map(|a| {
        p.choice(
            &key("addressing"),
            Some(a),
            Addressing::Path,
            &[("path", Addressing::Path), ("virtual", Addressing::Virtual)],
        )
    });
    if raw.endpoint.as_deref().is_some_and(|e| e.starts_with("http://")) && raw.allow_http == Some(false) {
        p.push(&key("allow_http"), "is false but `endpoint` is http://; set allow_http = true or use https://");
    }
    let d = S3Options::default();
    S3Options {
        endpoint: raw.endpoint.as_ref().map(|e| e.trim_end_matches('/').to_string()),
        region: raw.region.clone(),
        addressing,
        allow_http: raw.allow_http,
        anonymous: raw.anonymous.unwrap_or(false),
        max_retries: p.int(&key("max_retries"), raw.max_retries, d.max_retries, 0, MAX_RETRIES),
        retry_timeout: seconds(p, &key("retry_timeout_seconds"), raw.retry_timeout_seconds, d.retry_timeout),
        connect_timeout: seconds(p, &key("connect_timeout_seconds"), raw.connect_timeout_seconds, d.connect_timeout),
        request_timeout: seconds(p, &key("request_timeout_seconds"), raw.request_timeout_seconds, d.request_timeout),
    }
}

fn seconds(p: &mut Problems, key: &str, value: Option<f64>, default: Duration) -> Duration {
    match value {
        None => default,
        Some(s) if s > 0.0 && s <= MAX_TIMEOUT_SECONDS => Duration::from_secs_f64(s),
        Some(s) => {
            p.push(key, format!("got {s}, expected seconds in (0, {MAX_TIMEOUT_SECONDS}]"));
            default
        }
    }
}

/// An endpoint is `http(s)://host[:port]`: no user info (credentials), path, query or fragment.
fn check_endpoint(e: &str) -> Result<(), String> {
    // Checked on the text first, so that nothing that may hold a secret is echoed.
    if e.contains('@') {
        return Err("contains user info; credentials are read only from the environment \
                    (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), never from the pipeline file"
            .into());
    }
    let url = url::Url::parse(e)
        .map_err(|err| format!("{e:?} is not a URL ({err}); expected e.g. \"http://127.0.0.1:9000\""))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!("got {e:?}, expected http://HOST[:PORT] or https://HOST[:PORT]"));
    }
    if !url.path().trim_matches('/').is_empty() || url.query().is_some() || url.fragment().is_some() {
        return Err(format!("got {e:?}: the endpoint is the service URL only; the bucket goes in the s3:// root"));
    }
    Ok(())
}
