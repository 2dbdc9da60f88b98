//! The async shell: wires storage, the CPU pool and the sink for each split, then writes
//! the manifest (last) and the run report.
//!
//! A dataset is complete exactly when `manifest.json` exists: it is deleted before a rerun
//! overwrites anything and written only after every shard has been committed. Each
//! committed shard is also recorded in a journal (`journal`), which `--resume` uses to skip
//! shards an interrupted run already finished.

pub mod cpu;
pub mod journal;
pub mod partition;
pub mod queues;
pub mod report;
mod split;
pub mod view;

use crate::config::{Plan, SplitPlan, TensorLayout};
use crate::error::{Error, Result};
use crate::sink::manifest::{Manifest, SplitRecord, Tensor, Tool, FORMAT};
use crate::sink::schema::shapes;
use crate::sink::shard_count;
use crate::source::annotations::{self, Entry, PolygonWriter, StoredRow};
use crate::source::image_path;
use crate::storage::Location;
use journal::ShardRecord;
use partition::{Partition, PartitionRecord, PartitionSplit};
use report::{Progress, RunReport};
use sha2::{Digest, Sha256};
use split::{run_split, Ctx, ShardPlan, SplitInputs};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Name of the manifest at the output root.
pub const MANIFEST: &str = "manifest.json";
/// Name of the run report at the output root.
pub const RUN_REPORT: &str = "run_report.json";

/// How a run treats work already present at the output.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Reuse shards committed by an earlier, interrupted run of the same configuration
    /// (verified against the journal's sha256) and redo the rest.
    pub resume: bool,
    /// Build only this partition's shards and leave the manifest to `merge`.
    pub partition: Option<Partition>,
}

/// What a finished run produced.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// The manifest written (or found, when the output was already complete).
    pub manifest: Manifest,
    /// Timings and throughput.
    pub report: RunReport,
    /// Output root as shown to users.
    pub output: String,
    /// The output already held a complete dataset of this configuration: nothing was done.
    pub already_complete: bool,
    /// Set for a partition run: its record (the manifest is then only a summary of its part).
    pub partition: Option<PartitionRecord>,
}

impl RunOutcome {
    /// Rejected inputs over all splits.
    pub fn rejected(&self) -> usize {
        self.manifest.splits.iter().map(|s| s.rejected).sum()
    }
}

/// Run a validated plan to completion.
///
/// # Errors
/// Configuration, storage, encoding or internal errors, and [`Error::TooManyRejects`]. Bad
/// inputs are not errors: they are listed in the manifest's rejects.
pub async fn run(plan: Plan, opts: RunOptions) -> Result<RunOutcome> {
    let plan = Arc::new(plan);
    let canonical = plan.canonical_json();
    let config_sha256 = hex::encode(Sha256::digest(canonical.as_bytes()));
    let input = Location::open(&plan.input.root, &plan.input.s3, false)?.mapping_files(plan.run.mmap);
    let output = Location::open(&plan.output.root, &plan.output.s3, true)?;
    input.check().await?;
    output.check().await?;
    // Its threads start while the annotation files are parsed.
    let pool = Arc::new(cpu::CpuPool::new(plan.run.workers));
    // The manifest check overlaps the reading of the splits' inputs; a bad input file still
    // comes first.
    let (splits, existing) = tokio::join!(load_inputs(&input, &plan), check_existing(&output, &plan, &config_sha256));
    let splits: Vec<Arc<SplitInputs>> = splits?.into_iter().map(Arc::new).collect();
    // Parsing's per-row tables are dropped: their memory grew with the dataset, so it goes
    // back to the system rather than staying resident for the whole run; on a thread of its
    // own while the first images are read (it took ~1.2 ms).
    let purge = release_freed_meanwhile();
    if let Some(existing) = existing? {
        let report = Progress::default().report(plan.run.workers, plan.run.in_flight, plan.run.read_concurrency);
        return Ok(RunOutcome {
            manifest: existing,
            report,
            output: output.display().to_string(),
            already_complete: true,
            partition: None,
        });
    }
    let annotations: Vec<&[Entry<StoredRow>]> = splits.iter().map(|s| &s.entries[..]).collect();
    let inputs: usize = annotations.iter().map(|e| e.len()).sum();
    let limit = plan.run.max_rejects.map(|m| (m.limit(inputs), inputs));
    let progress = Arc::new(Progress::new(limit));
    let ctx = Ctx {
        plan: plan.clone(),
        input: input.clone(),
        output: output.clone(),
        pool,
        progress: progress.clone(),
        queues: Arc::new(queues::Queues::default()),
        config_sha256,
        page_codec: crate::sink::page_codec(&plan),
        reads: Arc::new(tokio::sync::Semaphore::new(plan.run.read_concurrency)),
        cpu_stage: Arc::new(tokio::sync::Semaphore::new(plan.run.in_flight)),
    };
    let ticker = spawn_ticker(progress.clone());
    let result = run_splits(&ctx, &splits, opts).await;
    ticker.abort();
    purge.await.map_err(|e| Error::Internal(format!("releasing freed memory: {e}")))?;
    let records = result?;
    let unreferenced = unreferenced_images(&input, &plan, &splits);
    let mut report = progress.report(plan.run.workers, plan.run.in_flight, plan.run.read_concurrency);
    report.queues = ctx.queues.report(plan.run.read_concurrency, plan.run.in_flight, split::RESULT_CHANNEL);
    let header = manifest(&plan, Vec::new(), unreferenced);
    let shown = output.display().to_string();
    if let Some(p) = opts.partition {
        let record = partition_record(&plan, p, header, &annotations, &records);
        let summary = partition_summary(&record, &annotations, &records);
        write_report(&output, &format!("_cxrshard/reports/part-{:05}-of-{:05}.json", p.index, p.count), &report)
            .await?;
        partition::write(&output, &record).await?;
        return Ok(RunOutcome {
            manifest: summary,
            report,
            output: shown,
            already_complete: false,
            partition: Some(record),
        });
    }
    let mut split_records = Vec::new();
    for ((split, entries), recs) in plan.splits.iter().zip(&annotations).zip(&records) {
        split_records.push(journal::split_record(&split.name, &split.annotations, entries.len(), recs)?);
    }
    let manifest = Manifest { splits: split_records, ..header };
    tidy_data_dir(&output, &manifest.splits).await?;
    output.put(crate::sink::card::FILE, crate::sink::card::render(&manifest).into_bytes()).await?;
    output.put(MANIFEST, manifest.to_bytes()).await?;
    write_report(&output, RUN_REPORT, &report).await?;
    Ok(RunOutcome { manifest, report, output: shown, already_complete: false, partition: None })
}

/// Assemble the dataset written by the partitions of an array job: verify, then write the
/// manifest (see [`partition::merge`]). Returns the manifest; a complete dataset is left as is.
pub async fn merge(root: &str) -> Result<Manifest> {
    let output = Location::open(root, &crate::config::S3Options::default(), false)?;
    output.check().await?;
    let manifest = partition::merge(&output).await?;
    tidy_data_dir(&output, &manifest.splits).await?;
    output.put(crate::sink::card::FILE, crate::sink::card::render(&manifest).into_bytes()).await?;
    output.put(MANIFEST, manifest.to_bytes()).await?;
    Ok(manifest)
}

async fn write_report(output: &Location, rel: &str, report: &RunReport) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(report).expect("report serialises");
    bytes.push(b'\n');
    output.put(rel, bytes).await
}

fn partition_record(
    plan: &Plan,
    p: Partition,
    header: Manifest,
    annotations: &[&[Entry<StoredRow>]],
    records: &[Vec<ShardRecord>],
) -> PartitionRecord {
    let splits = plan
        .splits
        .iter()
        .zip(annotations)
        .map(|(s, e)| PartitionSplit {
            name: s.name.clone(),
            annotations: s.annotations.clone(),
            inputs: e.len(),
            shards: shard_count(e.len(), plan.output.shard_rows),
        })
        .collect();
    let committed = records.iter().flatten().map(|r| (r.split.clone(), r.index)).collect();
    PartitionRecord { partition: p, header, splits, committed }
}

/// A manifest-shaped summary of what one partition wrote (for printing only).
fn partition_summary(
    r: &PartitionRecord,
    annotations: &[&[Entry<StoredRow>]],
    records: &[Vec<ShardRecord>],
) -> Manifest {
    let splits = r
        .splits
        .iter()
        .zip(annotations)
        .zip(records)
        .map(|((s, _), recs)| {
            let rows: usize = recs.iter().map(|x| x.shard.rows).sum();
            let rejected: usize = recs.iter().map(|x| x.rejects.len()).sum();
            SplitRecord {
                name: s.name.clone(),
                annotations: s.annotations.clone(),
                inputs: rows + rejected,
                rows,
                rejected,
                clipped_points: recs.iter().map(|x| x.clipped_points).sum(),
                bytes: recs.iter().map(|x| x.shard.bytes).sum(),
                shards: recs.iter().map(|x| x.shard.clone()).collect(),
                rejects: recs.iter().flat_map(|x| x.rejects.clone()).collect(),
            }
        })
        .collect();
    Manifest { splits, ..r.header.clone() }
}

/// Read every split's inputs before any image is read, so that a malformed annotation file
/// fails the run at once: the splits' files are parsed side by side (their polygons to a
/// temporary file each, see [`annotations::PolygonStore`]; a mapped file's pages are
/// released column by column as it is parsed, so memory does not grow with the number of
/// rows), and each split's image folders are listed as soon as its file is parsed. The first
/// error in split order is the run's.
async fn load_inputs(input: &Location, plan: &Arc<Plan>) -> Result<Vec<SplitInputs>> {
    let loads = plan.splits.iter().map(|split| load_split(input, plan, split));
    futures::future::join_all(loads).await.into_iter().collect()
}

async fn load_split(input: &Location, plan: &Arc<Plan>, split: &SplitPlan) -> Result<SplitInputs> {
    let file = input.get_input(&split.annotations).await?;
    let location = input.describe(&split.annotations);
    let labels = plan.labels.clone();
    let parse = move || {
        let mut writer = PolygonWriter::temporary();
        let entries = annotations::parse_input(&file, &location, &labels, &mut writer)?;
        let polygons = writer.finish().map_err(|e| Error::Annotations {
            path: "(temporary file of parsed polygons)".into(),
            message: format!("flushing it: {e}"),
        })?;
        tracing::debug!(file = %location, on_disk = polygons.on_disk(), "annotation polygons stored");
        Ok::<_, Error>((entries, polygons))
    };
    let (entries, polygons) = tokio::task::spawn_blocking(parse)
        .await
        .map_err(|e| Error::Internal(format!("parsing {}: {e}", split.annotations)))??;
    let images: Vec<String> = entries.iter().filter_map(|e| image_path(&e.img, &plan.input, split).ok()).collect();
    let listed = input.list_folders_of(&images).await?;
    Ok(SplitInputs { entries, polygons, listed })
}

async fn run_splits(ctx: &Ctx, inputs: &[Arc<SplitInputs>], opts: RunOptions) -> Result<Vec<Vec<ShardRecord>>> {
    // Each split starts once the one before has started its last read (see `run_split`); a
    // split that ends before that (it failed) starts none after it. Each split runs to its
    // own end (committing its shards, or cleaning up after its error), and the first error
    // in split order is the run's.
    let mut splits = Vec::new();
    let mut before: Option<tokio::sync::oneshot::Receiver<()>> = None;
    let mut first_global = 0;
    for (split, inputs) in ctx.plan.splits.iter().zip(inputs) {
        let count = shard_count(inputs.entries.len(), ctx.plan.output.shard_rows);
        let owned: BTreeSet<usize> =
            (0..count).filter(|i| opts.partition.is_none_or(|p| p.owns(first_global + i))).collect();
        first_global += count;
        let (dispatched, next) = tokio::sync::oneshot::channel();
        let wait = before.replace(next);
        splits.push(async move {
            if let Some(wait) = wait {
                if wait.await.is_err() {
                    return Ok(None); // the split before failed: its error is the run's
                }
            }
            let mut done = BTreeMap::new();
            if opts.resume {
                for &index in &owned {
                    if let Some(r) = journal::verified(&ctx.output, &split.name, index, &ctx.config_sha256).await? {
                        done.insert(index, r);
                    }
                }
                tracing::info!(split = %split.name, "resuming: {} of {} shards already committed", done.len(), owned.len());
            }
            run_split(ctx, split, inputs.clone(), ShardPlan { owned, done }, dispatched).await.map(Some)
        });
    }
    let mut out = Vec::new();
    for result in futures::future::join_all(splits).await {
        // A split is skipped only after an earlier one failed, whose error came first.
        out.push(result?.ok_or_else(|| Error::Internal("a split was skipped, yet none failed".into()))?);
    }
    Ok(out)
}

/// Give freed memory back to the system ([`crate::memory::release_freed`]) on a blocking
/// thread, started now; the caller goes on and awaits the result where it must be done.
fn release_freed_meanwhile() -> impl std::future::Future<Output = Result<()>> + Send {
    let task = tokio::task::spawn_blocking(crate::memory::release_freed);
    async move { task.await.map_err(|e| Error::Internal(format!("releasing freed memory: {e}"))) }
}

fn spawn_ticker(progress: Arc<Progress>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(view::log_interval());
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        tick.tick().await;
        loop {
            tick.tick().await;
            progress.log_line();
        }
    })
}

/// A complete dataset at the output: the same configuration means nothing to do (its
/// manifest is returned); anything else needs `overwrite`, which removes the manifest first
/// so the output never claims completeness while it is being rewritten.
async fn check_existing(output: &Location, plan: &Plan, config_sha256: &str) -> Result<Option<Manifest>> {
    if !output.exists(MANIFEST).await? {
        return Ok(None);
    }
    if plan.output.overwrite {
        output.delete(MANIFEST).await?;
        return Ok(None);
    }
    let existing: Option<Manifest> = serde_json::from_slice(&output.get(MANIFEST).await?).ok();
    match existing {
        Some(m) if m.config_sha256 == config_sha256 => Ok(Some(m)),
        Some(m) => Err(Error::Output(format!(
            "{} already holds a complete dataset made with a different configuration (config_sha256 {} there, {} now); pass --overwrite (or --set output.overwrite=true) to replace it",
            output.display(),
            m.config_sha256,
            config_sha256
        ))),
        None => Err(Error::Output(format!(
            "{} holds a {MANIFEST} that cxrshard cannot read; pass --overwrite to replace the dataset",
            output.display()
        ))),
    }
}

/// Files next to the referenced images that no annotation row names (from the listings made
/// when the inputs were read, which hold only the objects of folders with a referenced
/// image), folder by folder; files at the input root are not counted.
fn unreferenced_images(input: &Location, plan: &Plan, splits: &[Arc<SplitInputs>]) -> Vec<String> {
    let mut referenced = BTreeSet::new();
    for (split, inputs) in plan.splits.iter().zip(splits) {
        referenced.extend(inputs.entries.iter().filter_map(|e| image_path(&e.img, &plan.input, split).ok()));
    }
    let mut found: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for object in splits.iter().flat_map(|s| &s.listed) {
        let rel = input.relative(object);
        if let Some((dir, _)) = rel.rsplit_once('/') {
            if !referenced.contains(&rel) {
                found.entry(dir.to_string()).or_default().insert(rel);
            }
        }
    }
    found.into_values().flatten().collect()
}

/// Remove leftovers in `data/` from interrupted uploads (`name#part` staging files) and
/// shards of earlier runs that this dataset does not list. Other files are left alone.
async fn tidy_data_dir(output: &Location, splits: &[SplitRecord]) -> Result<()> {
    let keep: BTreeSet<&str> = splits.iter().flat_map(|s| s.shards.iter().map(|x| x.path.as_str())).collect();
    for path in output.list_dir("data").await? {
        let name = path.rsplit('/').next().unwrap_or(&path);
        let ours = name.contains('#') || is_shard_name(name);
        if ours && !keep.contains(path.as_str()) {
            tracing::debug!("removing stale {path}");
            output.delete(&path).await?;
        }
    }
    Ok(())
}

/// `<split>-NNNNN-of-NNNNN.<ext>`.
fn is_shard_name(name: &str) -> bool {
    let Some((stem, _ext)) = name.rsplit_once('.') else { return false };
    let parts: Vec<&str> = stem.rsplitn(4, '-').collect();
    parts.len() == 4
        && parts[1] == "of"
        && [parts[0], parts[2]].iter().all(|n| n.len() == 5 && n.bytes().all(|b| b.is_ascii_digit()))
}

fn manifest(plan: &Plan, splits: Vec<SplitRecord>, unreferenced_images: Vec<String>) -> Manifest {
    let canonical = plan.canonical_json();
    let (image_shape, mask_shape) = shapes(plan);
    let storage = match (plan.output.format, plan.output.tensor_layout) {
        (crate::config::OutputFormat::Parquet, TensorLayout::Binary) => {
            "fixed_size_binary (raw C-order little-endian bytes)"
        }
        (crate::config::OutputFormat::Parquet, TensorLayout::Nested) => "fixed_size_list (nested, C order)",
        (crate::config::OutputFormat::Arrow, _) => "arrow.fixed_shape_tensor",
    };
    Manifest {
        format: FORMAT.to_string(),
        tool: Tool { name: "cxrshard".into(), version: env!("CARGO_PKG_VERSION").into() },
        config: serde_json::from_str(&canonical).expect("canonical config is JSON"),
        config_sha256: hex::encode(Sha256::digest(canonical.as_bytes())),
        output_format: plan.output.format.extension().to_string(),
        labels: plan.labels.clone(),
        image: Tensor { shape: image_shape, dtype: plan.image.dtype.numpy_name().into(), storage: storage.into() },
        mask: Tensor { shape: mask_shape, dtype: "uint8".into(), storage: storage.into() },
        splits,
        unreferenced_images,
    }
}

#[cfg(test)]
mod tests {
    use super::is_shard_name;
    use crate::memory::counting;

    /// Freed memory goes back to the system after the annotation files are parsed and after
    /// each committed shard: 6 rows of 2 per shard make 3 train shards and 1 validation shard.
    #[test]
    fn freed_memory_is_released_after_parsing_and_after_each_shard() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let synth = crate::synth::SynthOptions {
            out: data.clone(),
            n: 8,
            val_fraction: 0.25,
            min_side: 64,
            max_side: 96,
            ..Default::default()
        };
        crate::synth::generate(&synth).unwrap();
        let overrides = crate::config::Overrides {
            input: Some(data.display().to_string()),
            output: Some(dir.path().join("out").display().to_string()),
            set: vec!["output.shard_rows=2".into(), "image.size=[32,32]".into()],
        };
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/pipelines/vindr-ribcxr-dicom.toml"));
        let plan = crate::config::parse(&text.unwrap(), "vindr-ribcxr-dicom.toml", &overrides).unwrap();
        counting::install();
        let before = counting::calls();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let outcome = runtime.block_on(super::run(plan, Default::default())).unwrap();
        let shards: usize = outcome.manifest.splits.iter().map(|s| s.shards.len()).sum();
        assert_eq!(shards, 4);
        // At least: other tests of this process may call it too, never fewer.
        let calls = counting::calls() - before;
        assert!(calls > shards, "{calls} calls for {shards} shards: one after parsing and one per shard expected");
    }

    #[test]
    fn recognises_shard_names() {
        assert!(is_shard_name("train-00000-of-00004.parquet"));
        assert!(is_shard_name("my-split-00001-of-00002.arrow"));
        assert!(!is_shard_name("train-0-of-4.parquet"));
        assert!(!is_shard_name("notes.txt"));
    }
}
