//! TEMPORARY stub, replaced by the generator.
use std::path::PathBuf;
/// Format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SynthFormat {
    /// d
    Dicom,
    /// p
    Png,
}
/// Options.
#[derive(Debug, Clone)]
pub struct SynthOptions {
    /// o
    pub out: PathBuf,
    /// n
    pub n: usize,
    /// s
    pub seed: u64,
    /// f
    pub format: SynthFormat,
    /// v
    pub val_fraction: f64,
    /// m
    pub min_side: u32,
    /// m
    pub max_side: u32,
    /// t
    pub threads: usize,
}
impl Default for SynthOptions {
    fn default() -> Self {
        Self {
            out: "synth".into(),
            n: 245,
            seed: 0,
            format: SynthFormat::Dicom,
            val_fraction: 0.2,
            min_side: 2000,
            max_side: 3000,
            threads: 0,
        }
    }
}
/// Summary.
pub struct SynthSummary {
    /// t
    pub train: usize,
    /// v
    pub val: usize,
    /// b
    pub bytes: u64,
    /// o
    pub out: PathBuf,
}
/// Gen.
pub fn generate(opts: &SynthOptions) -> crate::error::Result<SynthSummary> {
    Err(crate::error::Error::Internal(format!("{opts:?}")))
}
