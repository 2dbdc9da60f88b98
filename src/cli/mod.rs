//! The `cxrshard` command line: one file per subcommand. Raw arguments become library
//! settings (a validated plan, synth options) in one step; the library does the work.

mod decode;
mod demo;
mod inspect;
mod merge;
mod npy;
mod preview;
mod run;
mod synth;
mod validate;

use clap::{Parser, Subcommand};
use cxrshard::Error;
use std::process::ExitCode;

/// Exit code: the run failed.
pub const EXIT_FAILED: u8 = 1;
/// Exit code: invalid usage or pipeline file.
pub const EXIT_USAGE: u8 = 2;
/// Exit code: the dataset is complete, but some inputs were rejected (listed in the manifest).
pub const EXIT_REJECTS: u8 = 3;

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
    Synth(synth::Args),
    /// Run a pipeline file.
    #[command(
        after_help = "Examples:\n  cxrshard run pipelines/vindr-ribcxr-dicom.toml --input /data/ribcxr --output /data/shards\n  cxrshard run pipelines/demo.toml --set image.size=[256,256] --set output.format=arrow"
    )]
    Run(run::Args),
    /// Check that every partition of an array job finished, then write the dataset's manifest.
    #[command(
        after_help = "Example (after `cxrshard run p.toml --partition I/3` for I = 0, 1, 2):\n  cxrshard merge /data/shards"
    )]
    Merge(merge::Args),
    /// Check a pipeline file and its inputs (annotations, images) without processing anything.
    #[command(
        after_help = "Reports every problem at once (bad keys, unparsable annotations, missing or unreferenced images);\nexit code 0 when there is none, 1 when the inputs have problems, 2 for an invalid pipeline file.\n\nExample:\n  cxrshard validate pipelines/vindr-ribcxr-dicom.toml --input /data/ribcxr"
    )]
    Validate(validate::Args),
    /// Summarise a written dataset: splits, shards, schema, settings, rejects, per-label mask statistics.
    #[command(
        after_help = "Examples:\n  cxrshard inspect /data/shards\n  cxrshard inspect /data/shards --json | jq '.labels[0]'"
    )]
    Inspect(inspect::Args),
    /// Render images with their 20 rib masks as coloured, labelled overlays (PNG).
    #[command(
        after_help = "One image at full size with --id, else a contact sheet of the first --n rows.\n\nExamples:\n  cxrshard preview /data/shards --n 16 --out sheet.png\n  cxrshard preview /data/shards --split validation --id VinDr_RibCXR_val_003 --out one.png"
    )]
    Preview(preview::Args),
    /// Decode one image through the same chain as `run` and write it as .npy or .png.
    #[command(
        after_help = "Examples:\n  cxrshard decode scan.dcm --out scan.npy --size native\n  cxrshard decode scan.dcm --out scan.png --size 1024x1024 --window 40,400\n  cxrshard decode scan.dcm --out stored.npy --raw"
    )]
    Decode(decode::Args),
    /// Generate a synthetic dataset (if absent) and run the demo pipeline on it.
    #[command(after_help = "Example:\n  cxrshard demo --workdir /tmp/cxrshard-demo")]
    Demo(demo::Args),
}

/// Parse arguments, run the command, map errors to exit codes.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.quiet, cli.verbose);
    let result = match cli.command {
        Command::Synth(a) => synth::run(a),
        Command::Run(a) => run::run(a),
        Command::Decode(a) => decode::run(a),
        Command::Demo(a) => demo::run(a),
        Command::Merge(a) => merge::run(a),
        Command::Validate(a) => validate::run(a),
        Command::Inspect(a) => inspect::run(a),
        Command::Preview(a) => preview::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(match e {
                Error::Config { .. } => EXIT_USAGE,
                _ => EXIT_FAILED,
            })
        }
    }
}

fn init_logging(quiet: bool, verbose: u8) {
    use std::io::IsTerminal;
    let terminal = std::io::stderr().is_terminal();
    cxrshard::pipeline::view::set_mode(cxrshard::pipeline::view::mode_for(quiet, terminal));
    let level = match (quiet, verbose) {
        (true, _) => "warn",
        (false, 0) => "info",
        (false, 1) => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("CXRSHARD_LOG")
        // object_store logs its storage retries at info: users see a flaky service being retried.
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("cxrshard={level},object_store={level}")));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(cxrshard::pipeline::view::LogWriter)
        .with_ansi(terminal)
        .with_target(false)
        .init();
}

/// Threads the runtime may start for blocking work when nothing asks for more: opening and
/// mapping (or reading) local files, writing local upload parts, encoding row groups. Each of
/// these is short; with tokio's default bound (512, each thread kept 10 s after its last task) a
/// run gathered 9–11 of them, every one with its own allocator cache, and its peak memory grew
/// with its length: 2,000 images 53.6 → 50.2 MB (200 images 49.7 → 48.8) with 4, at the same
/// speed (medians of 7 alternated runs).
pub const MIN_BLOCKING_THREADS: usize = 4;

/// A multi-threaded tokio runtime for the async shell, with at most `blocking_threads` threads
/// for blocking work (at least [`MIN_BLOCKING_THREADS`]).
pub fn runtime(blocking_threads: usize) -> cxrshard::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("cxrshard-io")
        .max_blocking_threads(blocking_threads.max(MIN_BLOCKING_THREADS))
        .build()
        .map_err(|e| Error::Internal(format!("cannot start the async runtime: {e}")))
}

#[cfg(test)]
mod tests {
    /// Blocking work waits for one of the bounded threads instead of starting a thread each:
    /// 16 tasks that each hold their thread for 20 ms run on at most the bound's threads.
    #[test]
    fn blocking_work_runs_on_a_bounded_set_of_threads() {
        let threads = super::runtime(1).unwrap().block_on(async {
            let tasks: Vec<_> = (0..16)
                .map(|_| {
                    tokio::task::spawn_blocking(|| {
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        std::thread::current().id()
                    })
                })
                .collect();
            let mut ids = std::collections::HashSet::new();
            for t in tasks {
                ids.insert(t.await.unwrap());
            }
            ids.len()
        });
        assert!((1..=super::MIN_BLOCKING_THREADS).contains(&threads), "{threads} threads");
    }
}
