//! The `cxrshard` command line: one file per subcommand. Raw arguments become library
//! settings (a validated plan, synth options) in one step; the library does the work.

mod decode;
mod demo;
mod npy;
mod run;
mod synth;

use clap::{Parser, Subcommand};
use cxrshard::Error;
use std::process::ExitCode;

/// Exit code: the run failed.
pub const EXIT_FAILED: u8 = 1;
/// Exit code: invalid usage or pipeline file.
pub const EXIT_USAGE: u8 = 2;

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

/// A multi-threaded tokio runtime for the async shell.
pub fn runtime() -> cxrshard::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("cxrshard-io")
        .build()
        .map_err(|e| Error::Internal(format!("cannot start the async runtime: {e}")))
}
