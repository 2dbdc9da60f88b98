//! A real S3 server for the tests: `s3s` (HTTP, SigV4 signature checks) over `s3s-fs` (objects
//! are files under a temporary folder), in process on 127.0.0.1 with a random port.
//!
//! What it guarantees: real HTTP, real S3 XML, signatures checked against one key pair,
//! multipart uploads (CreateMultipartUpload / UploadPart / CompleteMultipartUpload), paginated
//! ListObjectsV2. What it does not: s3s-fs's conditional puts are not atomic and a key cannot
//! also be a prefix of another key; no test here relies on either.
//!
//! A thin wrapper records every request (method, path, query) and can inject faults: delete an
//! object just before it is served (an object vanishing between list and get), or stop the
//! whole server once a number of multipart uploads have completed (a service going away
//! mid-run).
#![allow(dead_code)]

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::{S3Service, S3ServiceBuilder};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// The key pair the server accepts.
pub const ACCESS_KEY: &str = "cxrshard-test-access";
/// The secret the server accepts (tests check it never shows up in outputs or messages).
pub const SECRET_KEY: &str = "cxrshard-test-secret-Zq8vR2mN";

#[derive(Default)]
struct Faults {
    /// `/bucket/key` paths to delete from disk just before their next GET is served.
    vanish_on_get: Mutex<Vec<String>>,
    /// Stop the server when this many multipart uploads have been completed (0 = never).
    stop_after_completes: AtomicUsize,
    completes: AtomicUsize,
}

/// A running server; dropped → stopped.
pub struct S3Server {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    root: tempfile::TempDir,
    rt: tokio::runtime::Runtime,
    stop: tokio::sync::watch::Sender<bool>,
    requests: Arc<Mutex<Vec<String>>>,
    faults: Arc<Faults>,
}

impl S3Server {
    /// Start a server holding the given (empty) buckets.
    pub fn start(buckets: &[&str]) -> Self {
        let root = tempfile::tempdir().expect("temp dir");
        for b in buckets {
            std::fs::create_dir_all(root.path().join(b)).expect("bucket dir");
        }
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
        let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("bind loopback");
        let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
        let fs = s3s_fs::FileSystem::new(root.path()).expect("s3s-fs root");
        let mut b = S3ServiceBuilder::new(fs);
        b.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
        let service = b.build();
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let requests = Arc::new(Mutex::new(Vec::new()));
        let faults = Arc::new(Faults::default());
        let ctx = Serve {
            service,
            requests: requests.clone(),
            faults: faults.clone(),
            root: root.path().into(),
            stop: stop.clone(),
        };
        rt.spawn(accept_loop(listener, ctx, stopped));
        Self { endpoint, root, rt, stop, requests, faults }
    }

    /// The folder holding `bucket`'s objects (`bucket/key` → `dir/key`).
    pub fn bucket_dir(&self, bucket: &str) -> PathBuf {
        self.root.path().join(bucket)
    }

    /// Every request so far, as `METHOD /bucket/key?query`.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    /// Delete `/bucket/key` from disk just before its next GET is served.
    pub fn vanish_on_get(&self, bucket: &str, key: &str) {
        self.faults.vanish_on_get.lock().unwrap().push(format!("/{bucket}/{key}"));
    }

    /// Stop serving (close the port, drop every connection) once `n` multipart uploads completed.
    pub fn stop_after_completed_uploads(&self, n: usize) {
        self.faults.stop_after_completes.store(n, Ordering::SeqCst);
    }

    /// Has the server stopped?
    pub fn stopped(&self) -> bool {
        *self.stop.borrow()
    }

    /// Upload every file under `dir` to `bucket` under `prefix`, through S3 (signed PUTs).
    pub fn upload_dir(&self, dir: &Path, bucket: &str, prefix: &str) -> usize {
        use object_store::ObjectStoreExt;
        let store = object_store::aws::AmazonS3Builder::new()
            .with_endpoint(&self.endpoint)
            .with_allow_http(true)
            .with_region("us-east-1")
            .with_bucket_name(bucket)
            .with_access_key_id(ACCESS_KEY)
            .with_secret_access_key(SECRET_KEY)
            .build()
            .expect("client");
        let mut files = Vec::new();
        collect_files(dir, &mut files);
        self.rt.block_on(async {
            for f in &files {
                let rel = f.strip_prefix(dir).unwrap().to_str().unwrap().replace('\\', "/");
                let key = object_store::path::Path::from(format!("{prefix}/{rel}"));
                store.put(&key, std::fs::read(f).unwrap().into()).await.expect("upload");
            }
        });
        files.len()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            collect_files(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[derive(Clone)]
struct Serve {
    service: S3Service,
    requests: Arc<Mutex<Vec<String>>>,
    faults: Arc<Faults>,
    root: PathBuf,
    stop: tokio::sync::watch::Sender<bool>,
}

impl Serve {
    async fn handle(self, req: hyper::Request<Incoming>) -> Result<s3s::HttpResponse, s3s::HttpError> {
        let (method, path) = (req.method().clone(), req.uri().path().to_string());
        let query = req.uri().query().unwrap_or_default().to_string();
        self.requests.lock().unwrap().push(format!("{method} {path}?{query}"));
        if method == hyper::Method::GET {
            let mut vanish = self.faults.vanish_on_get.lock().unwrap();
            if let Some(i) = vanish.iter().position(|p| *p == path) {
                vanish.remove(i);
                let _ = std::fs::remove_file(self.root.join(path.trim_start_matches('/')));
            }
        }
        let completing = method == hyper::Method::POST && query.contains("uploadId=");
        let resp = hyper::service::Service::call(&self.service, req).await;
        if completing && resp.as_ref().is_ok_and(|r| r.status().is_success()) {
            let done = self.faults.completes.fetch_add(1, Ordering::SeqCst) + 1;
            let limit = self.faults.stop_after_completes.load(Ordering::SeqCst);
            if limit > 0 && done >= limit {
                let _ = self.stop.send(true);
            }
        }
        resp
    }
}

async fn accept_loop(listener: tokio::net::TcpListener, ctx: Serve, mut stopped: tokio::sync::watch::Receiver<bool>) {
    let http = ConnBuilder::new(TokioExecutor::new());
    let mut conns = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((socket, _)) = accepted else { continue };
                let ctx = ctx.clone();
                let svc = hyper::service::service_fn(move |req| ctx.clone().handle(req));
                let conn = http.serve_connection(TokioIo::new(socket), svc).into_owned();
                conns.spawn(async move { let _ = conn.await; });
            }
            _ = stopped.wait_for(|s| *s) => break,
        }
    }
    // Dropping the listener closes the port; aborting the tasks drops open connections.
    drop(listener);
    conns.abort_all();
}
