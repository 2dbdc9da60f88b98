//! One storage path for local disk and object stores: a [`Location`] is an
//! `Arc<dyn ObjectStore>` plus a prefix, built from a path or URL.
//!
//! Everything the pipeline reads or writes goes through here, so local runs exercise the
//! same code as bucket runs. Writes of shards stream through [`object_store::buffered::BufWriter`]:
//! small objects become one atomic PUT, large ones a multipart upload completed at the end;
//! on local disk both are a staging file renamed into place, so a shard is never visible
//! half-written.

use crate::error::{Error, Result};
use bytes::Bytes;
use object_store::{local::LocalFileSystem, path::Path as ObjPath, ObjectStore, ObjectStoreExt, PutPayload};
use std::sync::Arc;

/// A root in some storage: the store, a prefix inside it, and how to show it to users.
#[derive(Clone, Debug)]
pub struct Location {
    store: Arc<dyn ObjectStore>,
    prefix: ObjPath,
    display: String,
}

impl Location {
    /// Open a location from a local path or `file://` URL. With `create`, a missing local
    /// folder is created (outputs); otherwise it must exist (inputs).
    ///
    /// # Errors
    /// [`Error::Output`] for unsupported schemes, [`Error::Io`] for unusable local folders.
    pub fn open(root: &str, create: bool) -> Result<Self> {
        let local = if let Some(rest) = root.strip_prefix("file://") {
            std::path::PathBuf::from(rest)
        } else if let Some((scheme, _)) = root.split_once("://") {
            return Err(Error::Output(format!(
                "{root}: storage scheme {scheme:?} is not supported by this build; use a local folder or file:// URL"
            )));
        } else {
            std::path::PathBuf::from(root)
        };
        let io = |source| Error::Io { path: local.clone(), source };
        if create {
            std::fs::create_dir_all(&local).map_err(io)?;
        }
        let abs = std::fs::canonicalize(&local).map_err(io)?;
        if !abs.is_dir() {
            return Err(io(std::io::Error::new(std::io::ErrorKind::NotADirectory, "expected a folder")));
        }
        let store = LocalFileSystem::new_with_prefix(&abs)
            .map_err(|source| Error::Storage { location: root.to_string(), source })?;
        Ok(Self { store: Arc::new(store), prefix: ObjPath::default(), display: abs.display().to_string() })
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

    /// Read a whole object.
    pub async fn get(&self, rel: &str) -> Result<Bytes> {
        let path = self.path(rel).map_err(Error::Output)?;
        let storage = |source| Error::Storage { location: self.describe(rel), source };
        self.store.get(&path).await.map_err(storage)?.bytes().await.map_err(storage)
    }

    /// Does the object exist?
    pub async fn exists(&self, rel: &str) -> Result<bool> {
        let path = self.path(rel).map_err(Error::Output)?;
        match self.store.head(&path).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(source) => Err(Error::Storage { location: self.describe(rel), source }),
        }
    }

    /// Write a whole (small) object atomically.
    pub async fn put(&self, rel: &str, bytes: Vec<u8>) -> Result<()> {
        let path = self.path(rel).map_err(Error::Output)?;
        self.store
            .put(&path, PutPayload::from(bytes))
            .await
            .map(|_| ())
            .map_err(|source| Error::Storage { location: self.describe(rel), source })
    }

    /// Delete an object; a missing object is not an error.
    pub async fn delete(&self, rel: &str) -> Result<()> {
        let path = self.path(rel).map_err(Error::Output)?;
        match self.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(source) => Err(Error::Storage { location: self.describe(rel), source }),
        }
    }

    /// Every object under this location, as paths relative to it (sorted).
    pub async fn list(&self) -> Result<Vec<String>> {
        use futures::TryStreamExt;
        let prefix = (!self.prefix.as_ref().is_empty()).then_some(&self.prefix);
        let metas: Vec<_> = self
            .store
            .list(prefix)
            .try_collect()
            .await
            .map_err(|source| Error::Storage { location: self.display.clone(), source })?;
        let skip = self.prefix.parts().count();
        let mut out: Vec<String> = metas
            .iter()
            .map(|m| m.location.parts().skip(skip).map(|p| p.as_ref().to_string()).collect::<Vec<_>>().join("/"))
            .collect();
        out.sort();
        Ok(out)
    }

    /// Where this location points, for messages and summaries.
    pub fn display(&self) -> &str {
        &self.display
    }
}
