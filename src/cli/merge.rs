//! `cxrshard merge`: assemble the manifest after the workers of an array job finished.

use cxrshard::pipeline;
use std::process::ExitCode;

/// Arguments of `merge`.
#[derive(clap::Args)]
pub struct Args {
    /// Output root the workers wrote to (folder or URL).
    output: String,
}

/// Run `merge`: exit 0 when complete, 3 when complete with rejects, 1 when it refuses.
pub fn run(a: Args) -> cxrshard::Result<ExitCode> {
    let manifest = super::runtime(super::MIN_BLOCKING_THREADS)?.block_on(pipeline::merge(&a.output))?;
    let mut rejected = 0;
    for s in &manifest.splits {
        println!("{:<12} {:>6} rows {:>4} rejected {:>4} shards", s.name, s.rows, s.rejected, s.shards.len());
        rejected += s.rejected;
    }
    println!(
        "merged: {}/manifest.json written (config_sha256 {})",
        a.output.trim_end_matches('/'),
        manifest.config_sha256
    );
    Ok(if rejected > 0 { ExitCode::from(super::EXIT_REJECTS) } else { ExitCode::SUCCESS })
}
