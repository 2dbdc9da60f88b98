//! `cxrshard inspect`: what a written dataset holds.

use cxrshard::dataset::{stats, Dataset};
use std::process::ExitCode;

/// Arguments of `inspect`.
#[derive(clap::Args)]
pub struct Args {
    /// Output folder of a finished run (holds manifest.json).
    output: String,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

/// Run `inspect`.
pub fn run(a: Args) -> cxrshard::Result<ExitCode> {
    let summary = super::runtime(super::MIN_BLOCKING_THREADS)?.block_on(async {
        let ds = Dataset::open(&a.output).await?;
        stats::summarize(&ds).await
    })?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&summary).expect("summary serialises"));
    } else {
        print!("{}", stats::render(&summary));
    }
    Ok(ExitCode::SUCCESS)
}
