//! Parsing of root URLs: a local path, `file://…` or `s3://bucket/prefix`. Pure, so the
//! configuration can check roots before any I/O.

use std::path::PathBuf;

/// Where a root lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Root {
    /// A local folder.
    Local(PathBuf),
    /// A bucket and a `/`-separated prefix inside it (no leading or trailing `/`, may be empty).
    S3 {
        /// Bucket name.
        bucket: String,
        /// Key prefix.
        prefix: String,
    },
}

impl Root {
    /// Parse a root as written in a pipeline file or on the command line.
    ///
    /// # Errors
    /// A message saying what is wrong and what is accepted.
    pub fn parse(root: &str) -> Result<Self, String> {
        if let Some(rest) = root.strip_prefix("file://") {
            return Ok(Root::Local(PathBuf::from(rest)));
        }
        let Some((scheme, _)) = root.split_once("://") else { return Ok(Root::Local(PathBuf::from(root))) };
        if scheme != "s3" {
            return Err(format!(
                "{root:?}: storage scheme {scheme:?} is not supported; expected a local folder, file://PATH or s3://BUCKET/PREFIX"
            ));
        }
        let url = url::Url::parse(root).map_err(|e| format!("{root:?} is not a valid s3:// URL: {e}"))?;
        if !url.username().is_empty() || url.password().is_some() {
            // Never echo the URL here: it holds what looks like a secret.
            return Err("s3:// URL contains user info; credentials are read only from the environment \
                        (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), never from URLs"
                .into());
        }
        if url.query().is_some() || url.fragment().is_some() || url.port().is_some() {
            return Err(format!(
                "{root:?}: expected s3://BUCKET/PREFIX without port, query or fragment (the endpoint goes in `s3.endpoint`)"
            ));
        }
        let bucket = url.host_str().unwrap_or_default().to_string();
        if !valid_bucket(&bucket) {
            return Err(format!(
                "{root:?}: bucket name {bucket:?} is not valid (3-63 characters: lowercase letters, digits, '.', '-')"
            ));
        }
        // Check the path as written: the URL parser would silently resolve `..`.
        let written = root["s3://".len()..].split_once('/').map_or("", |(_, p)| p);
        let prefix = written.trim_matches('/').to_string();
        if prefix.split('/').any(|s| s == "." || s == "..") || prefix.contains("//") {
            return Err(format!("{root:?}: the prefix must not contain '.', '..' or empty segments"));
        }
        Ok(Root::S3 { bucket, prefix })
    }
}

fn valid_bucket(b: &str) -> bool {
    (3..=63).contains(&b.len())
        && b.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && b.starts_with(|c: char| c.is_ascii_alphanumeric())
        && b.ends_with(|c: char| c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_local_file_and_s3_roots() {
        assert_eq!(Root::parse("/data/x").unwrap(), Root::Local("/data/x".into()));
        assert_eq!(Root::parse("rel/dir").unwrap(), Root::Local("rel/dir".into()));
        assert_eq!(Root::parse("file:///data/x").unwrap(), Root::Local("/data/x".into()));
        assert_eq!(
            Root::parse("s3://cxr-data/vindr/dicom/").unwrap(),
            Root::S3 { bucket: "cxr-data".into(), prefix: "vindr/dicom".into() }
        );
        assert_eq!(Root::parse("s3://cxr-data").unwrap(), Root::S3 { bucket: "cxr-data".into(), prefix: "".into() });
    }

    #[test]
    fn rejects_bad_roots_without_echoing_secrets() {
        assert!(Root::parse("gs://b/p").unwrap_err().contains("not supported"));
        assert!(Root::parse("s3://Bad_Bucket/p").unwrap_err().contains("bucket name"));
        assert!(Root::parse("s3://b/p").unwrap_err().contains("bucket name"));
        assert!(Root::parse("s3://bucket/a/../b").unwrap_err().contains("'..'"));
        assert!(Root::parse("s3://bucket:9000/p").unwrap_err().contains("s3.endpoint"));
        let e = Root::parse("s3://AKIDEXAMPLE:hunter2@bucket/p").unwrap_err();
        assert!(e.contains("environment") && !e.contains("hunter2") && !e.contains("AKIDEXAMPLE"), "{e}");
    }
}
