//! `cxrshard demo`: synthetic dataset (if absent) + the embedded demo pipeline.

use cxrshard::config::{self, Overrides};
use cxrshard::synth::SynthOptions;
use std::path::PathBuf;
use std::process::ExitCode;

/// The demo pipeline, embedded so `cxrshard demo` works from any folder.
const DEMO_PIPELINE: &str = include_str!("../../pipelines/demo.toml");

/// Arguments of `demo`.
#[derive(clap::Args)]
pub struct Args {
    /// Scratch folder for the dataset (`data/`) and the output (`out/`).
    #[arg(long, default_value = "cxrshard-demo")]
    workdir: PathBuf,
    /// Images to generate.
    #[arg(long, default_value_t = 40)]
    n: usize,
}

/// Run `demo`.
pub fn run(a: Args) -> cxrshard::Result<ExitCode> {
    let data = a.workdir.join("data");
    if !data.join("Vindr_RibCXR_train_mask.json").exists() {
        println!("generating a synthetic dataset of {} DICOM chest X-rays in {} ...", a.n, data.display());
        super::synth::generate(&SynthOptions { out: data.clone(), n: a.n, ..SynthOptions::default() })?;
    } else {
        println!("using the synthetic dataset in {}", data.display());
    }
    let overrides = Overrides {
        input: Some(data.display().to_string()),
        output: Some(a.workdir.join("out").display().to_string()),
        set: vec!["output.overwrite=true".into()],
    };
    let plan = config::parse(DEMO_PIPELINE, "pipelines/demo.toml (embedded)", &overrides)?;
    super::run::execute(plan, Default::default())
}
