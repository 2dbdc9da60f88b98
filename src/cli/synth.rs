//! `cxrshard synth`: write a synthetic VinDr-RibCXR-style dataset.

use clap::ValueEnum;
use cxrshard::synth::{self, SynthFormat, SynthOptions};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `synth`.
#[derive(clap::Args)]
pub struct Args {
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
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Dicom,
    Png,
}

/// Run `synth`.
pub fn run(a: Args) -> cxrshard::Result<ExitCode> {
    let format = match a.format {
        Format::Dicom => SynthFormat::Dicom,
        Format::Png => SynthFormat::Png,
    };
    let opts = SynthOptions {
        out: a.out,
        n: a.n,
        seed: a.seed,
        format,
        min_side: a.min_side,
        max_side: a.max_side,
        threads: a.threads,
        ..SynthOptions::default()
    };
    generate(&opts)?;
    Ok(ExitCode::SUCCESS)
}

/// Generate and print a one-line summary.
pub fn generate(opts: &SynthOptions) -> cxrshard::Result<()> {
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
