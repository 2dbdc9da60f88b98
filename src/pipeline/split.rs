//! One split through the pipeline: annotations → fetch → CPU work → ordered sink.
//!
//! ```text
//!  entries ──buffered(read_concurrency)──▶ fetch bytes ──buffered(in_flight)──▶ CpuPool::process
//!     (+ tensor pages) ──mpsc(RESULT_CHANNEL)──▶ SplitSink (row groups → ShardWriter, rejects → manifest)
//! ```
//! The producer runs in its own task so that reading and decoding continue while the sink
//! encodes a row group. Each bound is named: at most `read_concurrency` fetches,
//! `in_flight` images in the CPU stage and [`RESULT_CHANNEL`] finished rows wait at any
//! time, plus one row group in the sink, whatever the dataset size. The next split starts
//! reading while this one's last images are worked on; the fetch and CPU-stage bounds are
//! shared by the splits (semaphores in [`Ctx`], first come first served), so they hold for
//! the run, not per split. Order is kept end to end, so output bytes do not depend on any
//! of these bounds.

use super::cpu::CpuPool;
use super::journal::{self, ShardRecord};
use super::queues::{Queue, Queues};
use super::report::Progress;
use crate::config::{Plan, SplitPlan};
use crate::error::{Error, InputError, Result, Stage};
use crate::sink::manifest::RejectRecord;
use crate::sink::shard::ShardWriter;
use crate::sink::{schema, shard_count, shard_path, Row, TensorPages};
use crate::source::annotations::{Entry, PolygonStore, StoredRow};
use crate::source::{decoder_for, image_path};
use crate::storage::{Input, Location};
use crate::transform::{process, StageTimes};
use arrow::datatypes::SchemaRef;
use futures::{stream, StreamExt};
use object_store::path::Path as ObjPath;
use std::collections::{BTreeMap, BTreeSet, HashSet};
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
    /// Queue depths for the run report.
    pub queues: Arc<Queues>,
    /// sha256 of the canonical configuration (journal records carry it).
    pub config_sha256: String,
    /// The codec of the tensor pages the CPU job builds (`sink::page_codec`), if it builds them.
    pub page_codec: Option<parquet::basic::Compression>,
    /// `read_concurrency` permits: one held by each fetch, whatever its split.
    pub reads: Arc<tokio::sync::Semaphore>,
    /// `in_flight` permits: one held by each image in the CPU stage, whatever its split.
    pub cpu_stage: Arc<tokio::sync::Semaphore>,
}

/// A split's inputs, read before any image (`load_inputs`).
pub struct SplitInputs {
    /// Its annotation rows, in pandas index order.
    pub entries: Vec<Entry<StoredRow>>,
    /// Their polygons, read back when a row is processed.
    pub polygons: PolygonStore,
    /// The objects directly inside the folders its images are in: an image not among them
    /// is a reject, without a request.
    pub listed: HashSet<ObjPath>,
}

/// What one input position produced.
enum Outcome {
    Row(Box<Row>, f64, StageTimes),
    Reject(RejectRecord),
}

/// Which shards of a split this run builds, and which it can take from the journal.
pub struct ShardPlan {
    /// Shard indices this process owns (all of them, unless partitioned).
    pub owned: BTreeSet<usize>,
    /// Verified journal records of owned shards already committed (`--resume`).
    pub done: BTreeMap<usize, ShardRecord>,
}

/// Run one split over its parsed annotation entries, building the owned shards. Shards in
/// `done` are not recomputed: their inputs are skipped and their records reused. `dispatched`
/// is told (or dropped) once the last of the split's reads has started: the next split may
/// then start its own, so the cores work on its first images while this one's last ones are
/// finished and its last shard is written. Returns the records of all owned shards, in order.
pub async fn run_split(
    ctx: &Ctx,
    split: &SplitPlan,
    split_inputs: Arc<SplitInputs>,
    shards: ShardPlan,
    dispatched: tokio::sync::oneshot::Sender<()>,
) -> Result<Vec<ShardRecord>> {
    let inputs = split_inputs.entries.len();
    let shard_rows = ctx.plan.output.shard_rows;
    let owned_inputs =
        split_inputs.entries.iter().enumerate().filter(|(pos, _)| shards.owned.contains(&(pos / shard_rows))).count();
    let index = ctx.progress.start_split(&split.name, owned_inputs);
    let todo: Vec<usize> = (0..inputs)
        .filter(|pos| shards.owned.contains(&(pos / shard_rows)) && !shards.done.contains_key(&(pos / shard_rows)))
        .collect();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(usize, Outcome)>(RESULT_CHANNEL);
    let producer = tokio::spawn(produce(ctx.clone(), split.clone(), split_inputs, todo, tx, dispatched));
    let mut sink = SplitSink::new(ctx, split, index, inputs, shards);
    let mut sink_result = Ok(());
    while let Some((pos, outcome)) = rx.recv().await {
        ctx.queues.sample(rx.len());
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
    sink.finish().await
}

async fn produce(
    ctx: Ctx,
    split: SplitPlan,
    inputs: Arc<SplitInputs>,
    todo: Vec<usize>,
    tx: tokio::sync::mpsc::Sender<(usize, Outcome)>,
    dispatched: tokio::sync::oneshot::Sender<()>,
) -> Result<()> {
    let run = ctx.plan.run;
    let fetch_ctx = ctx.clone();
    let split = Arc::new(split);
    let fetch_split = split.clone();
    // Polled for another position once the last one has been taken: says so, yields none.
    let mut dispatched = Some(dispatched);
    let end = stream::poll_fn(move |_| {
        if let Some(d) = dispatched.take() {
            let _ = d.send(());
        }
        std::task::Poll::Ready(None)
    });
    let mut outcomes = stream::iter(todo)
        .chain(end)
        .map(move |pos| fetch(fetch_ctx.clone(), fetch_split.clone(), inputs.clone(), pos))
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
    /// The split's inputs; this row is `inputs.entries[pos]`.
    inputs: Arc<SplitInputs>,
    source: String,
    bytes: std::result::Result<Input, InputError>,
    read_seconds: f64,
}

/// Fetch one input's bytes. An image absent from the listing is a reject (no request made);
/// one that was listed but is gone at GET time fails the run: the dataset changed under us,
/// and the output would depend on timing.
async fn fetch(ctx: Ctx, split: Arc<SplitPlan>, inputs: Arc<SplitInputs>, pos: usize) -> Result<Fetched> {
    let _permit = ctx.reads.acquire().await.map_err(|e| Error::Internal(format!("read permits: {e}")))?;
    let t0 = Instant::now();
    let entry = &inputs.entries[pos];
    let _reading = ctx.queues.enter(Queue::Reading);
    let source = image_path(&entry.img, &ctx.plan.input, &split);
    let not_found = |path: &str| InputError::new(Stage::Read, format!("image not found: {}", ctx.input.describe(path)));
    let (source, bytes) = match source {
        Err(e) => (entry.img.clone(), Err(e)),
        Ok(_) if entry.polygons.is_err() => (entry.img.clone(), Err(entry.polygons.clone().unwrap_err())),
        Ok(path) => {
            let bytes = match ctx.input.path(&path) {
                Err(m) => Err(InputError::new(Stage::Read, m)),
                Ok(obj) if !inputs.listed.contains(&obj) => Err(not_found(&path)),
                Ok(_) => match ctx.input.get_input(&path).await {
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
    Ok(Fetched { pos, inputs, source, bytes, read_seconds: t0.elapsed().as_secs_f64() })
}

async fn work(ctx: Ctx, split: Arc<SplitPlan>, fetched: Result<Fetched>) -> Result<(usize, Outcome)> {
    let f = fetched?;
    let Fetched { pos, inputs, source, bytes, read_seconds } = f;
    let entry = &inputs.entries[pos];
    let reject = |e: InputError, entry: &Entry<StoredRow>, source: &str| {
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
        Err(e) => return Ok((pos, reject(e, entry, &source))),
    };
    let cells = entry.polygons.clone().unwrap_or_default();
    let decoder = decoder_for(&source, ctx.plan.input.format);
    let (plan, job_inputs, page_codec) = (ctx.plan.clone(), inputs.clone(), ctx.page_codec);
    let (width, height) = (plan.image.width as usize, plan.image.height as usize);
    let _permit = ctx.cpu_stage.acquire().await.map_err(|e| Error::Internal(format!("CPU-stage permits: {e}")))?;
    let processing = ctx.queues.enter(Queue::Processing);
    let job = ctx.pool.spawn(move || {
        let polygons = job_inputs.polygons.load(&cells).map_err(JobError::Polygons)?;
        let mut processed = match process(bytes, decoder, &polygons, &plan) {
            Ok(p) => p,
            Err(e) => return Ok(Err(e)),
        };
        let pages = match page_codec {
            Some(codec) => {
                let start = Instant::now();
                let pages = TensorPages::take(&mut processed, codec, width, height).map_err(JobError::Compress)?;
                processed.times.compress = start.elapsed().as_secs_f64();
                Some(pages)
            }
            None => None,
        };
        Ok(Ok((processed, polygons, pages)))
    });
    let done = job.await;
    drop(processing);
    let done = match done {
        Ok(Err(JobError::Polygons(e))) => {
            return Err(Error::Internal(format!(
                "reading back the polygons of {} row {} from the temporary file: {e}",
                split.annotations, entry.key
            )))
        }
        Ok(Err(JobError::Compress(e))) => {
            return Err(Error::Internal(format!(
                "compressing the tensors of {} row {}: {e}",
                split.annotations, entry.key
            )))
        }
        Ok(Ok(result)) => Ok(result),
        Err(panic) => Err(panic),
    };
    let outcome = match done {
        Ok(Ok((processed, polygons, pages))) => {
            let times = processed.times;
            let (image_id, split) = (entry.image_id.clone(), split.name.clone());
            let row = Row { image_id, split, source, polygons, processed, pages };
            Outcome::Row(Box::new(row), read_seconds, times)
        }
        Ok(Err(e)) => reject(e, entry, &source),
        Err(panic) => reject(
            InputError::new(Stage::Internal, format!("internal error while processing (please report): {panic}")),
            entry,
            &source,
        ),
    };
    Ok((pos, outcome))
}

/// What stops a CPU job short of a row or a reject: failures of the run, not of the input.
enum JobError {
    /// The row's polygons could not be read back from the temporary file.
    Polygons(std::io::Error),
    /// The codec failed on the row's tensors.
    Compress(std::io::Error),
}

/// The shard being written and what it has collected so far.
struct OpenShard {
    index: usize,
    writer: ShardWriter,
    rejects: Vec<RejectRecord>,
    clipped_points: u64,
}

/// Collects ordered outcomes into row groups and shards; journals each committed shard.
struct SplitSink {
    ctx: Ctx,
    split: SplitPlan,
    /// The split's index in the progress counters.
    index: usize,
    schema: SchemaRef,
    count: usize,
    /// Next shard index to finalise.
    next: usize,
    current: Option<OpenShard>,
    pending: Vec<Row>,
    shards: ShardPlan,
    records: Vec<ShardRecord>,
}

impl SplitSink {
    fn new(ctx: &Ctx, split: &SplitPlan, index: usize, inputs: usize, shards: ShardPlan) -> Self {
        Self {
            ctx: ctx.clone(),
            split: split.clone(),
            index,
            schema: schema::schema(&ctx.plan),
            count: shard_count(inputs, ctx.plan.output.shard_rows),
            next: 0,
            current: None,
            pending: Vec::new(),
            shards,
            records: Vec::new(),
        }
    }

    fn open(&self, index: usize) -> Result<OpenShard> {
        let rel = shard_path(&self.split.name, index, self.count, self.ctx.plan.output.format.extension());
        let writer = ShardWriter::create(&self.ctx.output, &rel, self.schema.clone(), self.ctx.plan.clone())?;
        Ok(OpenShard { index, writer, rejects: Vec::new(), clipped_points: 0 })
    }

    async fn push(&mut self, pos: usize, outcome: Outcome) -> Result<()> {
        let index = pos / self.ctx.plan.output.shard_rows;
        self.finalise_until(index).await?;
        if self.current.is_none() {
            self.current = Some(self.open(index)?);
        }
        let shard = self.current.as_mut().expect("opened above");
        match outcome {
            Outcome::Row(row, read, times) => {
                self.ctx.progress.row_done(self.index, read, times);
                shard.clipped_points += row.processed.clipped_points as u64;
                self.pending.push(*row);
                if self.pending.len() >= self.ctx.plan.output.row_group_rows {
                    self.flush().await?;
                }
            }
            Outcome::Reject(r) => {
                self.ctx.progress.rejected(self.index, &r)?;
                shard.rejects.push(r);
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
        let shard = self.current.as_mut().ok_or_else(|| Error::Internal("rows without an open shard".into()))?;
        shard.writer.write(rows).await?;
        self.ctx.progress.encoded(t0.elapsed().as_secs_f64());
        Ok(())
    }

    /// Finalise every owned shard before `index`: commit the open one, reuse journaled ones,
    /// and write (empty) shards that received no outcome.
    async fn finalise_until(&mut self, index: usize) -> Result<()> {
        while self.next < index.min(self.count) {
            let i = self.next;
            if !self.shards.owned.contains(&i) {
                self.next += 1;
                continue;
            }
            let record = match self.shards.done.remove(&i) {
                Some(r) => {
                    self.ctx.progress.resumed(self.index, r.shard.rows, r.rejects.len());
                    r
                }
                None => {
                    self.flush().await?;
                    let shard = match self.current.take() {
                        Some(s) if s.index == i => s,
                        other => {
                            self.current = other;
                            self.open(i)?
                        }
                    };
                    self.commit(shard).await?
                }
            };
            self.records.push(record);
            self.next += 1;
        }
        Ok(())
    }

    async fn commit(&self, shard: OpenShard) -> Result<ShardRecord> {
        // What the shard's rows and buffers left freed goes back to the system (see
        // [`crate::memory`]): the heap would otherwise keep what each shard fragmented. On a
        // thread of its own while the footer, checksum and journal record are written (it
        // took ~1 ms, after the last of them, at the end of every run).
        let purge = super::release_freed_meanwhile();
        let info = shard.writer.finish().await?;
        let record = ShardRecord {
            config_sha256: self.ctx.config_sha256.clone(),
            split: self.split.name.clone(),
            index: shard.index,
            shard: info,
            rejects: shard.rejects,
            clipped_points: shard.clipped_points,
        };
        journal::write(&self.ctx.output, &record).await?;
        purge.await?;
        Ok(record)
    }

    async fn finish(mut self) -> Result<Vec<ShardRecord>> {
        self.finalise_until(self.count).await?;
        Ok(self.records)
    }

    async fn abort(mut self) {
        if let Some(s) = self.current.take() {
            s.writer.abort().await;
        }
    }
}
