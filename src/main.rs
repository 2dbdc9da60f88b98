//! The `cxrshard` command line: raw arguments become a validated plan in one step, then the
//! library does the work. Exit codes: 0 success (rejects, if any, are listed in the
//! manifest), 1 the run failed, 2 invalid usage or pipeline file.

use clap::{Parser, Subcommand, ValueEnum};
use cxrshard::config::{self, Overrides};
use cxrshard::pipeline::{self, RunOutcome};
use cxrshard::synth::{self, SynthFormat, SynthOptions};
use cxrshard::Error;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The demo pipeline, embedded so `cxrshard demo` works from any folder.
const DEMO_PIPELINE: &str = include_str!("../pipelines/demo.toml");

#[derive(Parser)]
#[command(
    name = "cxrshard",
    version,
    about = "Turn chest X-ray datasets (VinDr-RibCXR) into training shards: DICOM/PNG + rib polygons → Parquet/Arrow tensors with a manifest."
)]
struct Cli {
    /// Only warnings and errors.
    #[arg(short, long, global = true)]
    quiet: bool,
    /// More detail (-v debug, -vv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate a deterministic synthetic dataset in the VinDr-RibCXR layout.
    #[command(after_help = "Example:\n  cxrshard synth --out /tmp/ribs --n 40 --format dicom")]
    Synth {
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// Number of images (about 80% train, 20% val).
        #[arg(long, default_value_t = 245)]
        n: usize,
        /// Random seed; the same seed gives byte-identical files.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Image file format.
        #[arg(long, value_enum, default_value_t = Format::Dicom)]
        format: Format,
        /// Smallest image side in pixels.
        #[arg(long, default_value_t = 2000)]
        min_side: u32,
        /// Largest image side in pixels.
        #[arg(long, default_value_t = 3000)]
        max_side: u32,
        /// Generator threads (0 = all cores); does not change the output.
        #[arg(long, default_value_t = 0)]
        threads: usize,
    },
    /// Run a pipeline file.
    #[command(
        after_help = "Examples:\n  cxrshard run pipelines/vindr-ribcxr-dicom.toml --input /data/ribcxr --output /data/shards\n  cxrshard run pipelines/demo.toml --set image.size=[256,256] --set output.format=arrow"
    )]
    Run {
        /// Pipeline file (TOML).
        pipeline: PathBuf,
        #[command(flatten)]
        overrides: OverrideArgs,
    },
    /// Generate a synthetic dataset (if absent) and run the demo pipeline on it.
    #[command(after_help = "Example:\n  cxrshard demo --workdir /tmp/cxrshard-demo")]
    Demo {
        /// Scratch folder for the dataset (`data/`) and the output (`out/`).
        #[arg(long, default_value = "cxrshard-demo")]
        workdir: PathBuf,
        /// Images to generate.
        #[arg(long, default_value_t = 40)]
        n: usize,
    },
}

#[derive(clap::Args)]
struct OverrideArgs {
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
}

impl OverrideArgs {
    fn into_overrides(self) -> Overrides {
        let mut set = self.set;
        if self.overwrite {
            set.push("output.overwrite=true".into());
        }
        Overrides { input: self.input, output: self.output, set }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Dicom,
    Png,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.quiet, cli.verbose);
    let result = match cli.command {
        Command::Synth { out, n, seed, format, min_side, max_side, threads } => {
            let format = match format {
                Format::Dicom => SynthFormat::Dicom,
                Format::Png => SynthFormat::Png,
            };
            let opts = SynthOptions { out, n, seed, format, min_side, max_side, threads, ..SynthOptions::default() };
            synth_cmd(&opts)
        }
        Command::Run { pipeline, overrides } => config::load(&pipeline, &overrides.into_overrides()).and_then(run_cmd),
        Command::Demo { workdir, n } => demo_cmd(&workdir, n),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(match e {
                Error::Config { .. } => 2,
                _ => 1,
            })
        }
    }
}

fn init_logging(quiet: bool, verbose: u8) {
    let level = match (quiet, verbose) {
        (true, _) => "warn",
        (false, 0) => "info",
        (false, 1) => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("CXRSHARD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("cxrshard={level}")));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).init();
}

fn synth_cmd(opts: &SynthOptions) -> cxrshard::Result<()> {
    let t0 = std::time::Instant::now();
    let s = synth::generate(opts)?;
    println!(
        "wrote {} images ({} train / {} val, {:.1} MB) to {} in {:.1}s",
        s.train + s.val,
        s.train,
        s.val,
        s.bytes as f64 / 1e6,
        s.out.display(),
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

fn runtime() -> cxrshard::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("cxrshard-io")
        .build()
        .map_err(|e| Error::Internal(format!("cannot start the async runtime: {e}")))
}

fn run_cmd(plan: config::Plan) -> cxrshard::Result<()> {
    let outcome = runtime()?.block_on(pipeline::run(plan))?;
    print_summary(&outcome);
    Ok(())
}

fn demo_cmd(workdir: &Path, n: usize) -> cxrshard::Result<()> {
    let data = workdir.join("data");
    if !data.join("Vindr_RibCXR_train_mask.json").exists() {
        println!("generating a synthetic dataset of {n} DICOM chest X-rays in {} ...", data.display());
        synth_cmd(&SynthOptions { out: data.clone(), n, ..SynthOptions::default() })?;
    } else {
        println!("using the synthetic dataset in {}", data.display());
    }
    let overrides = Overrides {
        input: Some(data.display().to_string()),
        output: Some(workdir.join("out").display().to_string()),
        set: vec!["output.overwrite=true".into()],
    };
    let plan = config::parse(DEMO_PIPELINE, "pipelines/demo.toml (embedded)", &overrides)?;
    run_cmd(plan)
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
        for rej in s.rejects.iter().take(5) {
            println!("  rejected {} ({}): {}: {}", rej.source, s.name, rej.stage, rej.reason);
        }
    }
    println!("output: {}/ (manifest.json, data/*.{}, run_report.json)", o.output, m.output_format);
    println!(
        "image {:?} {}, mask {:?} {} (labels {})",
        m.image.shape,
        m.image.dtype,
        m.mask.shape,
        m.mask.dtype,
        m.labels.join(",")
    );
    if m.output_format == "parquet" {
        let (h, w) = (m.image.shape[0], m.image.shape[1]);
        println!("read it:  python -c \"import pyarrow.parquet as pq, numpy as np; t = pq.read_table('{}/data/{}-00000-of-{:05}.parquet'); print(np.frombuffer(t['image'].combine_chunks().buffers()[1], np.{}).reshape(-1, {h}, {w}).shape)\"", o.output, m.splits[0].name, m.splits[0].shards.len(), m.image.dtype);
    }
}
