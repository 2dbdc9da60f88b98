//! A fixed pool of CPU threads for per-image work, so the tokio workers only do I/O.
//!
//! Jobs run in submission order of pick-up; results come back through one-shot channels, so
//! callers can keep output order with `buffered`. A panicking job is caught and returned as
//! an error for that job only; the pool keeps running.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

type Job = Box<dyn FnOnce() + Send + 'static>;

/// A pool of `n` named worker threads.
pub struct CpuPool {
    tx: Option<mpsc::Sender<Job>>,
    threads: Vec<JoinHandle<()>>,
}

impl CpuPool {
    /// Start `n` (at least 1) threads.
    pub fn new(n: usize) -> Self {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let threads = (0..n.max(1))
            .map(|i| {
                let rx = rx.clone();
                std::thread::Builder::new()
                    .name(format!("cxrshard-cpu-{i}"))
                    .spawn(move || loop {
                        let job = match rx.lock() {
                            Ok(guard) => guard.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    })
                    .expect("spawn cpu worker thread")
            })
            .collect();
        Self { tx: Some(tx), threads }
    }

    /// Run `f` on the pool. The returned future yields its result, or the panic message.
    pub fn spawn<T, F>(&self, f: F) -> impl std::future::Future<Output = Result<T, String>> + Send + 'static
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (otx, orx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let r = catch_unwind(AssertUnwindSafe(f)).map_err(|p| panic_message(p.as_ref()));
            let _ = otx.send(r);
        });
        let sent = self.tx.as_ref().map(|tx| tx.send(job).is_ok()).unwrap_or(false);
        async move {
            if !sent {
                return Err("cpu pool is shut down".to_string());
            }
            orx.await.unwrap_or_else(|_| Err("cpu worker exited".to_string()))
        }
    }
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        format!("panic: {s}")
    } else if let Some(s) = p.downcast_ref::<String>() {
        format!("panic: {s}")
    } else {
        "panic".to_string()
    }
}

impl Drop for CpuPool {
    fn drop(&mut self) {
        self.tx.take();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_jobs_and_contains_panics() {
        let pool = CpuPool::new(2);
        let a = pool.spawn(|| 21 * 2);
        let b = pool.spawn(|| -> i32 { panic!("boom") });
        let c = pool.spawn(|| 7);
        assert_eq!(a.await, Ok(42));
        assert!(b.await.unwrap_err().contains("boom"));
        assert_eq!(c.await, Ok(7), "pool survives a panicking job");
    }
}
