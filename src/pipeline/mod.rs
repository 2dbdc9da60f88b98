//! The async shell: wires storage, the CPU pool and the sink for each split, then writes
//! the manifest (last) and the run report.
//!
//! A dataset is complete exactly when `manifest.json` exists: it is deleted before a rerun
//! overwrites anything and written only after every shard has been committed.

pub mod cpu;
pub mod report;
mod split;
pub mod view;

use crate::config::Plan;
use crate::error::{Error, Result};
use crate::sink::manifest::{Manifest, SplitRecord, Tensor, Tool, FORMAT};
use crate::sink::schema::shapes;
use crate::storage::Location;
use report::{Progress, RunReport};
use sha2::{Digest, Sha256};
use split::{run_split, Ctx};
use std::sync::Arc;

/// Name of the manifest at the output root.
pub const MANIFEST: &str = "manifest.json";
/// Name of the run report at the output root.
pub const RUN_REPORT: &str = "run_report.json";

/// What a finished run produced.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// The manifest written.
    pub manifest: Manifest,
    /// Timings and throughput.
    pub report: RunReport,
    /// Output root as shown to users.
    pub output: String,
}

/// Run a validated plan to completion.
///
/// # Errors
/// Configuration, storage, encoding or internal errors. Bad inputs are not errors: they are
/// listed in the manifest's rejects.
pub async fn run(plan: Plan) -> Result<RunOutcome> {
    let plan = Arc::new(plan);
    let input = Location::open(&plan.input.root, false)?;
    let output = Location::open(&plan.output.root, true)?;
    prepare_output(&output, plan.output.overwrite).await?;
    let progress = Arc::new(Progress::default());
    let ctx = Ctx {
        plan: plan.clone(),
        input,
        output: output.clone(),
        pool: Arc::new(cpu::CpuPool::new(plan.run.workers)),
        progress: progress.clone(),
    };
    let ticker = tokio::spawn({
        let progress = progress.clone();
        async move {
            let mut tick = tokio::time::interval(view::log_interval());
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            tick.tick().await;
            loop {
                tick.tick().await;
                progress.log_line();
            }
        }
    });
    let mut splits = Vec::new();
    for split in &plan.splits {
        match run_split(&ctx, split).await {
            Ok(record) => splits.push(record),
            Err(e) => {
                ticker.abort();
                return Err(e);
            }
        }
    }
    ticker.abort();
    let manifest = manifest(&plan, splits);
    output.put(crate::sink::card::FILE, crate::sink::card::render(&manifest, &plan).into_bytes()).await?;
    output.put(MANIFEST, manifest.to_bytes()).await?;
    let report = progress.report(plan.run.workers, plan.run.in_flight, plan.run.read_concurrency);
    let mut report_bytes = serde_json::to_vec_pretty(&report).expect("report serialises");
    report_bytes.push(b'\n');
    output.put(RUN_REPORT, report_bytes).await?;
    Ok(RunOutcome { manifest, report, output: output.display().to_string() })
}

async fn prepare_output(output: &Location, overwrite: bool) -> Result<()> {
    if output.exists(MANIFEST).await? {
        if !overwrite {
            return Err(Error::Output(format!(
                "{} already holds a complete dataset ({MANIFEST} present); pass --overwrite (or --set output.overwrite=true) to replace it",
                output.display()
            )));
        }
        output.delete(MANIFEST).await?;
    }
    Ok(())
}

fn manifest(plan: &Plan, splits: Vec<SplitRecord>) -> Manifest {
    let canonical = plan.canonical_json();
    let (image_shape, mask_shape) = shapes(plan);
    let storage = match plan.output.format {
        crate::config::OutputFormat::Parquet => "fixed_size_binary (raw C-order little-endian bytes)",
        crate::config::OutputFormat::Arrow => "arrow.fixed_shape_tensor",
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
    }
}
