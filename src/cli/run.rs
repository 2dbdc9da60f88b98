//! `cxrshard run`: run a pipeline file, then print a summary table.

use cxrshard::config::{self, Overrides, Plan};
use cxrshard::pipeline::partition::Partition;
use cxrshard::pipeline::{self, RunOptions, RunOutcome};
use cxrshard::Error;
use std::path::PathBuf;
use std::process::ExitCode;

/// Rejects listed per split in the summary (all of them are in the manifest).
const REJECTS_SHOWN: usize = 5;

/// Arguments of `run`.
#[derive(clap::Args)]
pub struct Args {
    /// Pipeline file (TOML).
    pipeline: PathBuf,
    #[command(flatten)]
    overrides: OverrideArgs,
    /// Keep the shards an interrupted run of the same configuration already committed
    /// (verified by sha256) and redo the rest.
    #[arg(long)]
    resume: bool,
    /// Run as worker I of N of an array job (0-based): build only this worker's shards, then
    /// `cxrshard merge OUTPUT` once all N are done.
    #[arg(long, value_name = "I/N", conflicts_with = "partitions")]
    partition: Option<String>,
    /// Run as one of N workers, taking the index from JOB_COMPLETION_INDEX (Kubernetes),
    /// AWS_BATCH_JOB_ARRAY_INDEX or SLURM_ARRAY_TASK_ID.
    #[arg(long, value_name = "N")]
    partitions: Option<usize>,
}

/// `--input`, `--output`, `--set`, `--overwrite`.
#[derive(clap::Args)]
pub struct OverrideArgs {
    /// Dataset root (replaces `input.root`).
    #[arg(long)]
    input: Option<String>,
    /// Output root (replaces `output.root`).
    #[arg(long)]
    output: Option<String>,
    /// Override any pipeline setting, e.g. `--set image.size=[256,256]` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Replace a complete dataset already at the output.
    #[arg(long)]
    overwrite: bool,
    /// Fail when more inputs are rejected: a count (10), fraction (0.05) or percentage (5%).
    #[arg(long, value_name = "N|FRACTION|PCT%")]
    max_rejects: Option<String>,
}

impl OverrideArgs {
    /// As library overrides.
    pub fn into_overrides(self) -> Overrides {
        let mut set = self.set;
        if self.overwrite {
            set.push("output.overwrite=true".into());
        }
        if let Some(m) = self.max_rejects {
            set.push(format!("run.max_rejects={m}"));
        }
        Overrides { input: self.input, output: self.output, set }
    }
}

/// Run `run`.
pub fn run(a: Args) -> cxrshard::Result<ExitCode> {
    let partition = match (&a.partition, a.partitions) {
        (Some(p), _) => Some(Partition::parse(p)),
        (None, Some(n)) => Some(Partition::from_env(n)),
        (None, None) => None,
    }
    .transpose()
    .map_err(|p| Error::Config { origin: "command line".into(), problems: vec![p] })?;
    let plan = config::load(&a.pipeline, &a.overrides.into_overrides())?;
    execute(plan, RunOptions { resume: a.resume, partition })
}

/// Run a validated plan and print the summary. Exit code 0 when every input became a row,
/// [`super::EXIT_REJECTS`] when the dataset is complete but some inputs were rejected.
pub fn execute(plan: Plan, opts: RunOptions) -> cxrshard::Result<ExitCode> {
    // Every read in flight may hold a blocking thread (a local file being opened and mapped).
    let runtime = super::runtime(plan.run.read_concurrency)?;
    let outcome = runtime.block_on(pipeline::run(plan, opts));
    // Every task of the run has ended; its idle threads are not waited for (~0.5 ms).
    runtime.shutdown_background();
    let outcome = outcome?;
    if let Some(p) = &outcome.partition {
        print_summary(&outcome);
        println!(
            "partition {}/{}: {} shard(s) committed; when every partition is done: cxrshard merge {}",
            p.partition.index,
            p.partition.count,
            p.committed.len(),
            outcome.output
        );
        // Rejects are reported by `merge`; a finished worker exits 0 so schedulers do not retry it.
        return Ok(ExitCode::SUCCESS);
    }
    if outcome.already_complete {
        println!(
            "{} already holds the complete dataset for this pipeline (same config_sha256): nothing to do. Pass --overwrite to rebuild it.",
            outcome.output
        );
    } else {
        print_summary(&outcome);
    }
    Ok(if outcome.rejected() > 0 { ExitCode::from(super::EXIT_REJECTS) } else { ExitCode::SUCCESS })
}

fn print_summary(o: &RunOutcome) {
    let m = &o.manifest;
    println!("\n{:<12} {:>7} {:>6} {:>9} {:>7} {:>10}", "split", "inputs", "rows", "rejected", "shards", "MB");
    for s in &m.splits {
        println!(
            "{:<12} {:>7} {:>6} {:>9} {:>7} {:>10.1}",
            s.name,
            s.inputs,
            s.rows,
            s.rejected,
            s.shards.len(),
            s.bytes as f64 / 1e6
        );
    }
    let r = &o.report;
    println!(
        "\n{} images in {:.1}s: {:.1} images/s with {} workers",
        r.images, r.wall_seconds, r.images_per_second, r.workers
    );
    for s in &m.splits {
        for rej in s.rejects.iter().take(REJECTS_SHOWN) {
            println!("  rejected {} ({}): {}: {}", rej.source, s.name, rej.stage, rej.reason);
        }
        if s.rejects.len() > REJECTS_SHOWN {
            println!("  … and {} more rejects of {} in manifest.json", s.rejects.len() - REJECTS_SHOWN, s.name);
        }
    }
    println!("output: {}/ (manifest.json, README.md, data/*.{}, run_report.json)", o.output, m.output_format);
    println!(
        "image {:?} {}, mask {:?} {} (labels {})",
        m.image.shape,
        m.image.dtype,
        m.mask.shape,
        m.mask.dtype,
        m.labels.join(",")
    );
    println!("look at it: cxrshard inspect {0}   |   cxrshard preview {0} --out preview.png", o.output);
    if m.output_format == "parquet" {
        let (h, w) = (m.image.shape[0], m.image.shape[1]);
        println!(
            "read it:  python -c \"import pyarrow.parquet as pq, numpy as np; t = pq.read_table('{}/data/{}-00000-of-{:05}.parquet'); print(np.frombuffer(t['image'].combine_chunks().buffers()[1], np.{}).reshape(-1, {h}, {w}).shape)\"",
            o.output,
            m.splits[0].name,
            m.splits[0].shards.len(),
            m.image.dtype
        );
    }
}
