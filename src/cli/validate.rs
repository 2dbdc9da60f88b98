//! `cxrshard validate`: check a pipeline file and its inputs without processing.

use super::run::OverrideArgs;
use cxrshard::config;
use cxrshard::source::check::check_inputs;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `validate`.
#[derive(clap::Args)]
pub struct Args {
    /// Pipeline file (TOML).
    pipeline: PathBuf,
    #[command(flatten)]
    overrides: OverrideArgs,
}

/// Run `validate`: exit 0 if all is well, 1 if the inputs have problems, 2 for a bad pipeline file.
pub fn run(a: Args) -> cxrshard::Result<ExitCode> {
    let plan = config::load(&a.pipeline, &a.overrides.into_overrides())?;
    println!("pipeline file {}: valid", a.pipeline.display());
    let report = super::runtime(plan.run.read_concurrency)?.block_on(check_inputs(&plan))?;
    for (name, entries, found) in &report.splits {
        println!("split {name:<12} {entries:>6} annotated images, {found:>6} found");
    }
    if report.problems.is_empty() {
        println!("no problems found in {}", plan.input.root);
        return Ok(ExitCode::SUCCESS);
    }
    println!("{} problem(s):", report.problems.len());
    for p in &report.problems {
        println!("  - {}: {}", p.location, p.message);
    }
    Ok(ExitCode::from(super::EXIT_FAILED))
}
