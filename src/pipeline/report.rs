//! Progress counters and the run report (`run_report.json`).
//!
//! Everything that varies between runs (timings, throughput, concurrency) lives here and
//! never in the manifest. How progress is shown (bars, plain lines, nothing) is decided in
//! [`super::view`]; the counters here feed both.

use super::view::{self, human_duration, Mode};
use crate::sink::manifest::RejectRecord;
use crate::transform::StageTimes;
use indicatif::ProgressBar;
use serde::Serialize;
use std::sync::Mutex;
use std::time::Instant;

#[derive(Debug)]
struct SplitCounters {
    name: String,
    inputs: usize,
    rows: usize,
    rejected: usize,
    started: Instant,
    bar: Option<ProgressBar>,
}

impl SplitCounters {
    fn done(&self) -> usize {
        self.rows + self.rejected
    }

    /// One plain progress line: done/total, rate, ETA, rejects.
    fn line(&self) -> String {
        let secs = self.started.elapsed().as_secs_f64();
        let rate = self.done() as f64 / secs.max(1e-9);
        let left = self.inputs - self.done().min(self.inputs);
        let eta = if rate > 0.0 { human_duration(left as f64 / rate) } else { "?".into() };
        format!(
            "{}: {}/{} images ({:.0}%), {:.1} images/s, ETA {eta}, {} rejected",
            self.name,
            self.done(),
            self.inputs,
            100.0 * self.done() as f64 / self.inputs.max(1) as f64,
            rate,
            self.rejected
        )
    }

    /// Count one finished input; closes the bar and logs when the split is complete.
    fn tick(&mut self) {
        if let Some(b) = &self.bar {
            b.inc(1);
            let rate = self.done() as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
            b.set_message(view::bar_message(rate, self.rejected));
        }
        if self.done() == self.inputs {
            self.finish();
        }
    }

    fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish();
        }
        if view::mode() == Mode::Lines {
            tracing::info!("{} in {}", self.line(), human_duration(self.started.elapsed().as_secs_f64()));
        }
    }
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

    /// A split begins with `inputs` inputs; returns its index for the calls below (splits
    /// overlap: the next one starts while the last images of one are being worked on).
    pub fn start_split(&self, name: &str, inputs: usize) -> usize {
        if view::mode() != Mode::Bars {
            tracing::info!(split = name, inputs, "processing split");
        }
        let bar = view::split_bar(name, inputs);
        let mut c = SplitCounters { name: name.into(), inputs, rows: 0, rejected: 0, started: Instant::now(), bar };
        if inputs == 0 {
            c.finish();
        }
        self.with(|s| {
            s.splits.push(c);
            s.splits.len() - 1
        })
    }

    /// A row of split `split` reached the sink.
    pub fn row_done(&self, split: usize, read_seconds: f64, times: StageTimes) {
        self.with(|s| {
            s.read_seconds += read_seconds;
            s.stages += times;
            if let Some(c) = s.splits.get_mut(split) {
                c.rows += 1;
                c.tick();
            }
        });
    }

    /// An input of split `split` was rejected; fails once the run's reject limit is exceeded.
    pub fn rejected(&self, split: usize, r: &RejectRecord) -> crate::Result<()> {
        tracing::warn!(source = %r.source, stage = %r.stage, "rejected: {}", r.reason);
        self.add(split, 0, 1)
    }

    /// A shard of split `split` was taken over from the journal (`--resume`).
    pub fn resumed(&self, split: usize, rows: usize, rejected: usize) {
        let _ = self.add(split, rows, rejected);
    }

    fn add(&self, split: usize, rows: usize, rejected: usize) -> crate::Result<()> {
        let total = self.with(|s| {
            if let Some(c) = s.splits.get_mut(split) {
                c.rows += rows;
                c.rejected += rejected;
                c.tick();
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
        self.with(|s| s.splits.iter().map(SplitCounters::done).sum())
    }

    /// Log one plain progress line for the first split still in progress (only in
    /// [`Mode::Lines`]).
    pub fn log_line(&self) {
        if view::mode() != Mode::Lines {
            return;
        }
        self.with(|s| {
            if let Some(c) = s.splits.iter().find(|c| c.done() < c.inputs) {
                tracing::info!("{}", c.line());
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
                    compress: s.stages.compress,
                    encode_and_write: s.encode_seconds,
                },
                queues: Default::default(),
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
    /// zstd of the image and mask into Parquet pages, in the CPU job (Parquet with flat
    /// tensors and zstd; otherwise the compression is part of `encode_and_write`).
    pub compress: f64,
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
    /// Queue depths: which stage waits on which.
    pub queues: super::queues::QueueReport,
}
