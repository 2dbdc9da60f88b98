//! Progress counters and the run report (`run_report.json`).
//!
//! Everything that varies between runs (timings, throughput, concurrency) lives here and
//! never in the manifest. Progress is logged as plain lines every [`LOG_INTERVAL`], which
//! reads well both in a terminal and in CI or Kubernetes logs.

use crate::sink::manifest::RejectRecord;
use crate::transform::StageTimes;
use serde::Serialize;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often progress lines are logged.
pub const LOG_INTERVAL: Duration = Duration::from_secs(5);

#[derive(Debug, Default, Clone, Serialize)]
struct SplitCounters {
    name: String,
    inputs: usize,
    rows: usize,
    rejected: usize,
}

#[derive(Debug, Default)]
struct State {
    splits: Vec<SplitCounters>,
    rejected: usize,
    read_seconds: f64,
    encode_seconds: f64,
    stages: StageTimes,
}

/// Shared run counters, updated by the sink in order.
#[derive(Debug)]
pub struct Progress {
    started: Instant,
    state: Mutex<State>,
    /// (max rejects allowed, inputs over all splits).
    limit: Option<(usize, usize)>,
}

impl Default for Progress {
    fn default() -> Self {
        Self::new(None)
    }
}

impl Progress {
    /// Counters with an optional reject limit `(max, inputs)`.
    pub fn new(limit: Option<(usize, usize)>) -> Self {
        Self { started: Instant::now(), state: Mutex::default(), limit }
    }

    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.state.lock().expect("progress lock"))
    }

    /// A split begins with `inputs` inputs.
    pub fn start_split(&self, name: &str, inputs: usize) {
        self.with(|s| s.splits.push(SplitCounters { name: name.into(), inputs, ..Default::default() }));
        tracing::info!(split = name, inputs, "processing split");
    }

    /// A row reached the sink.
    pub fn row_done(&self, read_seconds: f64, times: StageTimes) {
        self.with(|s| {
            s.read_seconds += read_seconds;
            s.stages += times;
            if let Some(c) = s.splits.last_mut() {
                c.rows += 1;
            }
        });
    }

    /// An input was rejected; fails once the run's reject limit is exceeded.
    pub fn rejected(&self, r: &RejectRecord) -> crate::Result<()> {
        tracing::warn!(source = %r.source, stage = %r.stage, "rejected: {}", r.reason);
        self.add(0, 1)
    }

    /// A shard was taken over from the journal (`--resume`).
    pub fn resumed(&self, rows: usize, rejected: usize) {
        let _ = self.add(rows, rejected);
    }

    fn add(&self, rows: usize, rejected: usize) -> crate::Result<()> {
        let total = self.with(|s| {
            if let Some(c) = s.splits.last_mut() {
                c.rows += rows;
                c.rejected += rejected;
            }
            s.rejected += rejected;
            s.rejected
        });
        match self.limit {
            Some((limit, inputs)) if total > limit => {
                Err(crate::Error::TooManyRejects { rejected: total, limit, inputs })
            }
            _ => Ok(()),
        }
    }

    /// Rejected inputs so far over all splits.
    pub fn total_rejected(&self) -> usize {
        self.with(|s| s.rejected)
    }

    /// A row group was encoded and written.
    pub fn encoded(&self, seconds: f64) {
        self.with(|s| s.encode_seconds += seconds);
    }

    /// Images done so far (rows + rejects) over all splits.
    pub fn done(&self) -> usize {
        self.with(|s| s.splits.iter().map(|c| c.rows + c.rejected).sum())
    }

    /// Log one progress line for the current split.
    pub fn log_line(&self) {
        let elapsed = self.started.elapsed().as_secs_f64();
        let done = self.done();
        self.with(|s| {
            if let Some(c) = s.splits.last() {
                let rate = done as f64 / elapsed.max(1e-9);
                tracing::info!(
                    "{}: {}/{} images, {} rejected, {:.1} images/s overall",
                    c.name,
                    c.rows + c.rejected,
                    c.inputs,
                    c.rejected,
                    rate
                );
            }
        });
    }

    /// Seconds since the run started.
    pub fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// The run report.
    pub fn report(&self, workers: usize, in_flight: usize, read_concurrency: usize) -> RunReport {
        let wall = self.elapsed();
        self.with(|s| {
            let images: usize = s.splits.iter().map(|c| c.inputs).sum();
            RunReport {
                tool_version: env!("CARGO_PKG_VERSION").to_string(),
                wall_seconds: wall,
                images,
                images_per_second: images as f64 / wall.max(1e-9),
                workers,
                in_flight,
                read_concurrency,
                splits: s
                    .splits
                    .iter()
                    .map(|c| (c.name.clone(), c.rows, c.rejected))
                    .map(|(name, rows, rejected)| SplitReport { name, rows, rejected })
                    .collect(),
                stage_seconds: StageSeconds {
                    read: s.read_seconds,
                    decode: s.stages.decode,
                    window: s.stages.window,
                    resize: s.stages.resize,
                    rasterize: s.stages.rasterize,
                    encode_and_write: s.encode_seconds,
                },
            }
        })
    }
}

/// Per-split counts in the run report.
#[derive(Debug, Clone, Serialize)]
pub struct SplitReport {
    /// Split name.
    pub name: String,
    /// Rows written.
    pub rows: usize,
    /// Inputs rejected.
    pub rejected: usize,
}

/// Seconds summed over images per stage (CPU stages are summed across workers, so they can
/// exceed wall time); `encode_and_write` is the sink's time on batches, shards and uploads.
#[derive(Debug, Clone, Serialize)]
pub struct StageSeconds {
    /// Fetching input bytes.
    pub read: f64,
    /// DICOM/PNG decode.
    pub decode: f64,
    /// Display chain.
    pub window: f64,
    /// Resize.
    pub resize: f64,
    /// Masks.
    pub rasterize: f64,
    /// Arrow/Parquet encode + upload.
    pub encode_and_write: f64,
}

/// `run_report.json`: how this run went (varies between runs, unlike the manifest).
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// Tool version.
    pub tool_version: String,
    /// Wall time of the whole run.
    pub wall_seconds: f64,
    /// Inputs over all splits.
    pub images: usize,
    /// `images / wall_seconds`.
    pub images_per_second: f64,
    /// CPU worker threads.
    pub workers: usize,
    /// In-flight image bound.
    pub in_flight: usize,
    /// Concurrent reads bound.
    pub read_concurrency: usize,
    /// Per split.
    pub splits: Vec<SplitReport>,
    /// Per stage.
    pub stage_seconds: StageSeconds,
}
