//! One storage path for local disk and S3-compatible object stores: a [`Location`] is an
//! `Arc<dyn ObjectStore>` plus a prefix, built from a path, `file://` or `s3://` URL.
//!
//! Everything the pipeline reads or writes goes through here, so local runs exercise the
//! same code as bucket runs. Writes of shards stream through [`object_store::buffered::BufWriter`]:
//! small objects become one atomic PUT, large ones a multipart upload completed at the end
//! (S3: the object appears only at CompleteMultipartUpload; local disk: a staging file
//! renamed into place), so a shard is never visible half-written.
//!
//! S3 requests are retried with exponential backoff by object_store ([`s3::INITIAL_BACKOFF`],
//! `s3.max_retries`, `s3.retry_timeout_seconds`); errors that survive the retries name the URL
//! and say what to check. Credentials never reach a message: see [`redact`].

mod body;
mod root;
mod s3;

pub use body::{Input, MAP_MIN_BYTES};
pub use root::Root;
pub use s3::{INITIAL_BACKOFF, MAX_BACKOFF};

use crate::config::S3Options;
use crate::error::{Error, Result};
use bytes::Bytes;
use futures::StreamExt;
use object_store::{local::LocalFileSystem, path::Path as ObjPath, ObjectStore, ObjectStoreExt, PutPayload};
use std::collections::HashSet;
use std::sync::Arc;

/// A root in some storage: the store, a prefix inside it, and how to show it to users.
#[derive(Clone, Debug)]
pub struct Location {
    store: Arc<dyn ObjectStore>,
    prefix: ObjPath,
    display: String,
    s3: Option<Arc<s3::S3Context>>,
    map_files: bool,
}

impl Location {
    /// Open a location from a local path, `file://` or `s3://bucket/prefix` URL. With
    /// `create`, a missing local folder is created (outputs); otherwise it must exist
    /// (inputs). S3 locations are not contacted here: see [`Location::check`].
    ///
    /// # Errors
    /// [`Error::Output`] for unusable URLs or S3 settings, [`Error::Io`] for unusable local folders.
    pub fn open(root: &str, s3: &S3Options, create: bool) -> Result<Self> {
        match Root::parse(root).map_err(Error::Output)? {
            Root::Local(local) => Self::open_local(root, local, create),
            Root::S3 { bucket, prefix } => {
                let display = format!("s3://{bucket}/{prefix}").trim_end_matches('/').to_string();
                let (store, ctx) = s3::build(&bucket, s3).map_err(|m| Error::Output(format!("{display}: {m}")))?;
                let prefix = ObjPath::parse(&prefix).map_err(|e| Error::Output(format!("{display}: {e}")))?;
                Ok(Self { store: Arc::new(store), prefix, display, s3: Some(Arc::new(ctx)), map_files: false })
            }
        }
    }

    fn open_local(root: &str, local: std::path::PathBuf, create: bool) -> Result<Self> {
        let io = |source| Error::Io { path: local.clone(), source };
        if create {
            std::fs::create_dir_all(&local).map_err(io)?;
        }
        let abs = std::fs::canonicalize(&local).map_err(io)?;
        if !abs.is_dir() {
            return Err(io(std::io::Error::new(std::io::ErrorKind::NotADirectory, "expected a folder")));
        }
        let store = LocalFileSystem::new_with_prefix(&abs).map_err(|source| Error::Storage {
            location: root.to_string(),
            source,
            hint: "".into(),
        })?;
        let display = abs.display().to_string();
        Ok(Self { store: Arc::new(store), prefix: ObjPath::default(), display, s3: None, map_files: false })
    }

    /// With `on`, [`Location::get`] maps local files of [`MAP_MIN_BYTES`] or more into
    /// memory instead of copying them into a buffer (no effect on S3). See `run.mmap`.
    pub fn mapping_files(mut self, on: bool) -> Self {
        self.map_files = on;
        self
    }

    /// Fail early, with a message saying what to check, when the location cannot be used:
    /// lists one page under the prefix, which needs a reachable endpoint, valid credentials and
    /// an existing bucket (a HEAD of a missing object cannot tell a missing bucket apart).
    ///
    /// # Errors
    /// [`Error::Storage`] with a hint.
    pub async fn check(&self) -> Result<()> {
        if !self.is_remote() {
            return Ok(()); // `open` already checked the folder
        }
        let prefix = (!self.prefix.as_ref().is_empty()).then_some(&self.prefix);
        match self.store.list(prefix).next().await {
            None | Some(Ok(_)) => Ok(()),
            Some(Err(source)) => Err(self.error(&self.display, source)),
        }
    }

    /// Every object directly inside the folders that hold `wanted` (paths relative to this
    /// location), by listing those folders: one paginated LIST per folder (1,000 keys a page
    /// on S3) instead of one request per missing object. Keys in subfolders are dropped as the
    /// listing streams, and so are names that are not valid object paths.
    ///
    /// # Errors
    /// [`Error::Storage`] when a listing fails (after retries).
    pub async fn list_folders_of(&self, wanted: &[String]) -> Result<HashSet<ObjPath>> {
        let mut dirs: Vec<ObjPath> = wanted
            .iter()
            .filter_map(|rel| self.path(rel).ok())
            .map(|p| p.parts().take(p.parts().count().saturating_sub(1)).collect())
            .collect();
        dirs.sort_unstable_by(|a: &ObjPath, b| a.as_ref().cmp(b.as_ref()));
        dirs.dedup();
        let mut found = HashSet::new();
        for dir in dirs {
            let depth = dir.parts().count() + 1;
            let mut listing = self.store.list((!dir.as_ref().is_empty()).then_some(&dir));
            while let Some(item) = listing.next().await {
                match item {
                    Ok(meta) if meta.location.parts().count() == depth => {
                        found.insert(meta.location);
                    }
                    Ok(_) | Err(object_store::Error::InvalidPath { .. }) => {}
                    Err(source) => return Err(self.error(&self.display, source)),
                }
            }
        }
        Ok(found)
    }

    /// `path`, an object of this location, as a `/`-separated path relative to it.
    pub fn relative(&self, path: &ObjPath) -> String {
        let skip = self.prefix.parts().count();
        path.parts().skip(skip).map(|p| p.as_ref().to_string()).collect::<Vec<_>>().join("/")
    }

    /// The store, for streaming writers.
    pub fn store(&self) -> Arc<dyn ObjectStore> {
        self.store.clone()
    }

    /// The object path of `rel` (a `/`-separated path relative to this location).
    ///
    /// # Errors
    /// A message when `rel` is not a valid relative object path (`..`, empty segments).
    pub fn path(&self, rel: &str) -> std::result::Result<ObjPath, String> {
        let rel = rel.trim_start_matches("./");
        if rel.starts_with('/') || rel.split('/').any(|s| s == ".." || s == ".") {
            return Err(format!("{rel:?} must be a relative path inside the input root (no leading '/', no '..')"));
        }
        let p = ObjPath::parse(rel).map_err(|e| format!("{rel:?} is not a valid object path: {e}"))?;
        Ok(self.prefix.parts().chain(p.parts()).collect())
    }

    /// Human-readable form of `rel` under this location (for messages).
    pub fn describe(&self, rel: &str) -> String {
        format!("{}/{}", self.display.trim_end_matches('/'), rel)
    }

    /// A storage error at `location`, with what to check.
    pub fn error(&self, location: &str, source: object_store::Error) -> Error {
        let hint = self.s3.as_ref().map(|c| c.hint(&source)).unwrap_or_default().into();
        Error::Storage { location: location.to_string(), source, hint }
    }

    /// A failed streaming write (object_store errors arrive wrapped in `std::io::Error`).
    pub fn write_error(&self, rel: &str, e: std::io::Error) -> Error {
        let location = self.describe(rel);
        if e.get_ref().is_some_and(|inner| inner.is::<object_store::Error>()) {
            let inner = e.into_inner().expect("checked above");
            if let Ok(source) = inner.downcast::<object_store::Error>() {
                return self.error(&location, *source);
            }
            return Error::Internal(format!("{location}: unexpected error type"));
        }
        Error::Io { path: location.into(), source: e }
    }

    /// Read a whole object.
    pub async fn get(&self, rel: &str) -> Result<Bytes> {
        self.get_input(rel).await.map(Input::into_bytes)
    }

    /// Read a whole object, keeping hold of its mapping if it is a mapped file (see
    /// [`Input::release`]).
    pub async fn get_input(&self, rel: &str) -> Result<Input> {
        let path = self.path(rel).map_err(Error::Output)?;
        let storage = |source| self.error(&self.describe(rel), source);
        body::read(self.store.get(&path).await.map_err(storage)?, self.map_files).await.map_err(storage)
    }

    /// Does the object exist?
    pub async fn exists(&self, rel: &str) -> Result<bool> {
        let path = self.path(rel).map_err(Error::Output)?;
        match self.store.head(&path).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(source) => Err(self.error(&self.describe(rel), source)),
        }
    }

    /// Write a whole (small) object atomically.
    pub async fn put(&self, rel: &str, bytes: Vec<u8>) -> Result<()> {
        let path = self.path(rel).map_err(Error::Output)?;
        self.store
            .put(&path, PutPayload::from(bytes))
            .await
            .map(|_| ())
            .map_err(|source| self.error(&self.describe(rel), source))
    }

    /// Delete an object; a missing object is not an error.
    pub async fn delete(&self, rel: &str) -> Result<()> {
        let path = self.path(rel).map_err(Error::Output)?;
        match self.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(source) => Err(self.error(&self.describe(rel), source)),
        }
    }

    /// Every object under this location, as paths relative to it (sorted).
    pub async fn list(&self) -> Result<Vec<String>> {
        use futures::TryStreamExt;
        let prefix = (!self.prefix.as_ref().is_empty()).then_some(&self.prefix);
        let metas: Vec<_> =
            self.store.list(prefix).try_collect().await.map_err(|source| self.error(&self.display, source))?;
        let mut out: Vec<String> = metas.iter().map(|m| self.relative(&m.location)).collect();
        out.sort();
        Ok(out)
    }

    /// Paths (relative to this location) of the objects directly inside folder `rel_dir`.
    pub async fn list_dir(&self, rel_dir: &str) -> Result<Vec<String>> {
        let dir = self.path(rel_dir).map_err(Error::Output)?;
        let listing = match self.store.list_with_delimiter(Some(&dir)).await {
            Ok(l) => l,
            Err(object_store::Error::NotFound { .. }) => return Ok(Vec::new()),
            Err(e) => return Err(self.error(&self.describe(rel_dir), e)),
        };
        let mut out: Vec<String> = listing.objects.iter().map(|m| self.relative(&m.location)).collect();
        out.sort();
        Ok(out)
    }

    /// Where this location points, for messages and summaries.
    pub fn display(&self) -> &str {
        &self.display
    }

    /// Is this an object store reached over the network (not local disk)?
    pub fn is_remote(&self) -> bool {
        self.s3.is_some()
    }
}

/// XML elements of S3 error bodies that echo request signing material (the access key id,
/// the string to sign): dropped from every message.
const SIGNING_ELEMENTS: [&str; 6] = [
    "AWSAccessKeyId",
    "StringToSign",
    "StringToSignBytes",
    "CanonicalRequest",
    "CanonicalRequestBytes",
    "SignatureProvided",
];

/// Environment variables whose values must never appear in a message.
const SECRET_VARIABLES: [&str; 3] = ["AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID"];

/// Remove credentials and signing material from a message: S3 error bodies echo the access
/// key id and the string to sign, so those elements are dropped, and any occurrence of the
/// credential variables' values is replaced.
pub fn redact(message: &str) -> String {
    let mut out = message.to_string();
    for el in SIGNING_ELEMENTS {
        let (open, close) = (format!("<{el}>"), format!("</{el}>"));
        while let Some(start) = out.find(&open) {
            let end = out[start..].find(&close).map_or(out.len(), |e| start + e + close.len());
            out.replace_range(start..end, "");
        }
    }
    for var in SECRET_VARIABLES {
        if let Some(v) = std::env::var(var).ok().filter(|v| v.len() >= 4) {
            out = out.replace(&v, "[redacted]");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_drops_signing_material() {
        let body = "403: <Error><Code>SignatureDoesNotMatch</Code><AWSAccessKeyId>AKID1</AWSAccessKeyId>\
                    <StringToSign>AWS4-HMAC-SHA256\nx</StringToSign><SignatureProvided>abc</SignatureProvided></Error>";
        let r = redact(body);
        assert_eq!(r, "403: <Error><Code>SignatureDoesNotMatch</Code></Error>");
    }

    #[test]
    fn s3_roots_parse_without_contacting_the_service() {
        let o = S3Options {
            endpoint: Some("http://127.0.0.1:1".into()),
            allow_http: Some(true),
            anonymous: true,
            ..S3Options::default()
        };
        let l = Location::open("s3://bucket/a/b/", &o, false).unwrap();
        assert_eq!(l.display(), "s3://bucket/a/b");
        assert_eq!(l.path("x/y.dcm").unwrap().as_ref(), "a/b/x/y.dcm");
        assert_eq!(l.describe("x/y.dcm"), "s3://bucket/a/b/x/y.dcm");
        assert!(l.is_remote());
        let plain = S3Options { allow_http: Some(false), ..o };
        let e = Location::open("s3://bucket/a", &plain, false).unwrap_err().to_string();
        assert!(e.contains("allow_http"), "{e}");
    }
}
