//! One split through the pipeline: annotations → fetch → CPU work → ordered sink.
//!
//! ```text
//!  entries ──buffered(read_concurrency)──▶ fetch bytes ──buffered(in_flight)──▶ CpuPool::process
//!     ──mpsc(RESULT_CHANNEL)──▶ SplitSink (row groups → ShardWriter, rejects → manifest)
//! ```
//! The producer runs in its own task so that reading and decoding continue while the sink
//! encodes a row group. Each bound is named: at most `read_concurrency` fetches,
//! `in_flight` images in the CPU stage and [`RESULT_CHANNEL`] finished rows wait at any
//! time, plus one row group in the sink, whatever the dataset size. Order is kept
//! end to end, so output bytes do not depend on any of these bounds.

use super::cpu::CpuPool;
use super::report::Progress;
use crate::config::{Plan, SplitPlan};
use crate::error::{Error, InputError, Result, Stage};
use crate::sink::manifest::{RejectRecord, SplitRecord};
use crate::sink::shard::{ShardInfo, ShardWriter};
use crate::sink::{schema, shard_count, shard_path, Row};
use crate::source::annotations::{self, Entry};
use crate::source::{decoder_for, image_path};
use crate::storage::Location;
use crate::transform::{process, StageTimes};
use arrow::datatypes::SchemaRef;
use bytes::Bytes;
use futures::{stream, StreamExt};
use object_store::path::Path as ObjPath;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

/// Finished rows waiting for the sink.
pub const RESULT_CHANNEL: usize = 16;

/// Shared, read-only context of a run.
#[derive(Clone)]
pub struct Ctx {
    /// The plan.
    pub plan: Arc<Plan>,
    /// Input root.
    pub input: Location,
    /// Output root.
    pub output: Location,
    /// CPU pool.
    pub pool: Arc<CpuPool>,
    /// Counters for progress and the run report.
    pub progress: Arc<Progress>,
}

/// What one input position produced.
enum Outcome {
    Row(Box<Row>, f64, StageTimes),
    Reject(RejectRecord),
}

/// Run one split; returns its manifest record.
pub async fn run_split(ctx: &Ctx, split: &SplitPlan) -> Result<SplitRecord> {
    let ann = ctx.input.get(&split.annotations).await?;
    let entries = annotations::parse(&ann, &ctx.input.describe(&split.annotations), &ctx.plan.labels)?;
    drop(ann);
    let inputs = entries.len();
    let wanted: Vec<String> = entries.iter().filter_map(|e| image_path(&e.img, &ctx.plan.input, split).ok()).collect();
    let listed = Arc::new(ctx.input.existing(&wanted).await?);
    drop(wanted);
    ctx.progress.start_split(&split.name, inputs);
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(usize, Outcome)>(RESULT_CHANNEL);
    let producer = tokio::spawn(produce(ctx.clone(), split.clone(), entries, listed, tx));
    let mut sink = SplitSink::new(ctx, split, inputs)?;
    let mut sink_result = Ok(());
    while let Some((pos, outcome)) = rx.recv().await {
        if let Err(e) = sink.push(pos, outcome).await {
            sink_result = Err(e);
            break;
        }
    }
    drop(rx);
    let produced = producer.await.map_err(|e| Error::Internal(format!("producer task: {e}")))?;
    if let Err(e) = sink_result.and(produced) {
        sink.abort().await;
        return Err(e);
    }
    sink.finish(inputs).await
}

async fn produce(
    ctx: Ctx,
    split: SplitPlan,
    entries: Vec<Entry>,
    listed: Arc<HashSet<ObjPath>>,
    tx: tokio::sync::mpsc::Sender<(usize, Outcome)>,
) -> Result<()> {
    let run = ctx.plan.run;
    let fetch_ctx = ctx.clone();
    let split = Arc::new(split);
    let fetch_split = split.clone();
    let mut outcomes = stream::iter(entries.into_iter().enumerate())
        .map(move |(pos, entry)| fetch(fetch_ctx.clone(), fetch_split.clone(), listed.clone(), pos, entry))
        .buffered(run.read_concurrency)
        .map(move |fetched| work(ctx.clone(), split.clone(), fetched))
        .buffered(run.in_flight);
    while let Some(item) = outcomes.next().await {
        if tx.send(item?).await.is_err() {
            break; // the sink failed; it reports why
        }
    }
    Ok(())
}

struct Fetched {
    pos: usize,
    entry: Entry,
    source: String,
    bytes: std::result::Result<Bytes, InputError>,
    read_seconds: f64,
}

/// Fetch one input's bytes. An image absent from the listing is a reject (no request made);
/// one that was listed but is gone at GET time fails the run: the dataset changed under us,
/// and the output would depend on timing.
async fn fetch(
    ctx: Ctx,
    split: Arc<SplitPlan>,
    listed: Arc<HashSet<ObjPath>>,
    pos: usize,
    entry: Entry,
) -> Result<Fetched> {
    let t0 = Instant::now();
    let source = image_path(&entry.img, &ctx.plan.input, &split);
    let not_found = |path: &str| InputError::new(Stage::Read, format!("image not found: {}", ctx.input.describe(path)));
    let (source, bytes) = match source {
        Err(e) => (entry.img.clone(), Err(e)),
        Ok(_) if entry.polygons.is_err() => (entry.img.clone(), Err(entry.polygons.clone().unwrap_err())),
        Ok(path) => {
            let bytes = match ctx.input.path(&path) {
                Err(m) => Err(InputError::new(Stage::Read, m)),
                Ok(obj) if !listed.contains(&obj) => Err(not_found(&path)),
                Ok(_) => match ctx.input.get(&path).await {
                    Ok(b) => Ok(b),
                    Err(Error::Storage { location, source: source @ object_store::Error::NotFound { .. }, .. }) => {
                        let hint = "the object was listed at the start of the run but is gone now: the dataset \
                                    changed during the run; rerun once it is stable"
                            .into();
                        return Err(Error::Storage { location, source, hint });
                    }
                    Err(e) => return Err(e),
                },
            };
            (path, bytes)
        }
    };
    Ok(Fetched { pos, entry, source, bytes, read_seconds: t0.elapsed().as_secs_f64() })
}

async fn work(ctx: Ctx, split: Arc<SplitPlan>, fetched: Result<Fetched>) -> Result<(usize, Outcome)> {
    let f = fetched?;
    let Fetched { pos, entry, source, bytes, read_seconds } = f;
    let reject = |e: InputError, entry: &Entry, source: &str| {
        Outcome::Reject(RejectRecord {
            key: entry.key.clone(),
            image_id: entry.image_id.clone(),
            source: source.to_string(),
            stage: e.stage,
            reason: e.reason,
        })
    };
    let bytes = match bytes {
        Ok(b) => b,
        Err(e) => return Ok((pos, reject(e, &entry, &source))),
    };
    let polygons = entry.polygons.clone().unwrap_or_default();
    let decoder = decoder_for(&source, ctx.plan.input.format);
    let plan = ctx.plan.clone();
    let job = ctx.pool.spawn(move || process(&bytes, decoder, &polygons, &plan).map(|p| (p, polygons)));
    let outcome = match job.await {
        Ok(Ok((processed, polygons))) => {
            let times = processed.times;
            let row = Row { image_id: entry.image_id.clone(), split: split.name.clone(), source, polygons, processed };
            Outcome::Row(Box::new(row), read_seconds, times)
        }
        Ok(Err(e)) => reject(e, &entry, &source),
        Err(panic) => reject(
            InputError::new(Stage::Internal, format!("internal error while processing (please report): {panic}")),
            &entry,
            &source,
        ),
    };
    Ok((pos, outcome))
}

/// Collects ordered outcomes into row groups and shards.
struct SplitSink {
    ctx: Ctx,
    split: SplitPlan,
    schema: SchemaRef,
    count: usize,
    current: Option<(usize, ShardWriter)>,
    pending: Vec<Row>,
    shards: Vec<ShardInfo>,
    rejects: Vec<RejectRecord>,
}

impl SplitSink {
    fn new(ctx: &Ctx, split: &SplitPlan, inputs: usize) -> Result<Self> {
        let mut s = Self {
            ctx: ctx.clone(),
            split: split.clone(),
            schema: schema::schema(&ctx.plan),
            count: shard_count(inputs, ctx.plan.output.shard_rows),
            current: None,
            pending: Vec::new(),
            shards: Vec::new(),
            rejects: Vec::new(),
        };
        s.current = Some((0, s.open(0)?));
        Ok(s)
    }

    fn open(&self, index: usize) -> Result<ShardWriter> {
        let rel = shard_path(&self.split.name, index, self.count, self.ctx.plan.output.format.extension());
        ShardWriter::create(&self.ctx.output, &rel, self.schema.clone(), self.ctx.plan.clone())
    }

    async fn push(&mut self, pos: usize, outcome: Outcome) -> Result<()> {
        self.advance_to(pos / self.ctx.plan.output.shard_rows).await?;
        match outcome {
            Outcome::Row(row, read, times) => {
                self.ctx.progress.row_done(read, times);
                self.pending.push(*row);
                if self.pending.len() >= self.ctx.plan.output.row_group_rows {
                    self.flush().await?;
                }
            }
            Outcome::Reject(r) => {
                self.ctx.progress.rejected(&r);
                self.rejects.push(r);
            }
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let rows = std::mem::take(&mut self.pending);
        let t0 = Instant::now();
        let writer = &mut self.current.as_mut().ok_or_else(|| Error::Internal("no open shard".into()))?.1;
        writer.write(rows).await?;
        self.ctx.progress.encoded(t0.elapsed().as_secs_f64());
        Ok(())
    }

    /// Finish every shard before `index` and open shard `index` (if it exists).
    async fn advance_to(&mut self, index: usize) -> Result<()> {
        while self.current.as_ref().is_some_and(|(i, _)| *i < index) {
            self.flush().await?;
            let (i, writer) = self.current.take().expect("checked above");
            self.shards.push(writer.finish().await?);
            if i + 1 < self.count {
                self.current = Some((i + 1, self.open(i + 1)?));
            }
        }
        Ok(())
    }

    async fn finish(mut self, inputs: usize) -> Result<SplitRecord> {
        self.advance_to(self.count).await?;
        let rows: usize = self.shards.iter().map(|s| s.rows).sum();
        if rows + self.rejects.len() != inputs {
            return Err(Error::Internal(format!(
                "split {}: {rows} rows + {} rejects != {inputs} inputs",
                self.split.name,
                self.rejects.len()
            )));
        }
        Ok(SplitRecord {
            name: self.split.name.clone(),
            annotations: self.split.annotations.clone(),
            inputs,
            rows,
            rejected: self.rejects.len(),
            bytes: self.shards.iter().map(|s| s.bytes).sum(),
            shards: self.shards,
            rejects: self.rejects,
        })
    }

    async fn abort(mut self) {
        if let Some((_, w)) = self.current.take() {
            w.abort().await;
        }
    }
}
