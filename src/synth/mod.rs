//! Deterministic generator of a synthetic dataset in the exact VinDr-RibCXR layout, for the
//! demo, tests and benchmarks (`cxrshard synth`).
//!
//! Layout written under [`SynthOptions::out`]:
//! ```text
//! data/train/img/VinDr_RibCXR_train_000.dcm ...   (.png with SynthFormat::Png)
//! data/val/img/VinDr_RibCXR_val_000.dcm ...
//! Vindr_RibCXR_train_mask.json
//! Vindr_RibCXR_val_mask.json
//! ```
//! The JSON files use pandas' "columns" orientation (see `annotations`), image paths are
//! relative to `out`.
//!
//! Invariants:
//! - every image is drawn from its own `ChaCha8Rng` keyed by (seed, image index), and the
//!   split assignment from a separately keyed RNG, so all bytes written depend only on the
//!   options, never on the thread count or scheduling;
//! - DICOM and PNG runs with the same seed draw identical sizes and polygons (the format only
//!   changes the final encoding);
//! - annotated rib polygons are exactly the bright rib bands rendered in the image.
//!
//! The idea is ported from the Python reference generator (`shared/bench/synth_dataset.py`);
//! output matches it in layout and image properties, not bit for bit.

mod anatomy;
mod annotations;
mod dicom;
mod png;
mod render;
#[cfg(test)]
mod tests;

use crate::error::{Error, Result};
use anatomy::Point;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Image file format of a synthetic dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SynthFormat {
    /// DICOM Part 10, Explicit VR Little Endian, raw 12/14-bit detector values.
    Dicom,
    /// 8-bit grayscale PNG, display-ready (like the public VinDr-RibCXR release).
    Png,
}

impl SynthFormat {
    fn extension(self) -> &'static str {
        match self {
            SynthFormat::Dicom => "dcm",
            SynthFormat::Png => "png",
        }
    }
}

/// What to generate and where.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthOptions {
    /// Dataset root folder (created if missing; existing files of the same names are replaced).
    pub out: PathBuf,
    /// Number of images, at least 1.
    pub n: usize,
    /// Seed; the same options always produce the same bytes.
    pub seed: u64,
    /// Image file format.
    pub format: SynthFormat,
    /// Fraction of images in the val split, in `[0, 1)`; `round(n * val_fraction)` go to val.
    pub val_fraction: f64,
    /// Smallest image side (rows and columns are drawn independently), at least 16.
    pub min_side: u32,
    /// Largest image side, at most 65535 (DICOM Rows/Columns are 16-bit).
    pub max_side: u32,
    /// Worker threads; 0 uses all available cores. Does not affect the output.
    pub threads: usize,
}

impl Default for SynthOptions {
    fn default() -> Self {
        SynthOptions {
            out: PathBuf::from("synth"),
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

/// What [`generate`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynthSummary {
    /// Images in the train split.
    pub train: usize,
    /// Images in the val split.
    pub val: usize,
    /// Total bytes written: all image files plus both annotation files.
    pub bytes: u64,
    /// The dataset root.
    pub out: PathBuf,
}

/// RNG key domains, so image streams and the split permutation never overlap.
const IMAGE_DOMAIN: u64 = 1;
const SPLIT_DOMAIN: u64 = 2;

/// The two dataset splits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Split {
    Train,
    Val,
}

impl Split {
    fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Val => "val",
        }
    }
}

/// One image to generate: global index, split, row within the split and relative path.
#[derive(Debug, Clone)]
struct Job {
    index: usize,
    split: Split,
    rel: String,
}

/// What one worker produced for one image.
struct Generated {
    ribs: Vec<Option<Vec<Point>>>,
    bytes: u64,
}

/// Generate the dataset described by `opts` (see the module docs for the layout).
///
/// Errors: [`Error::Config`] for invalid options, [`Error::Io`] when a folder or file cannot
/// be written, [`Error::Internal`] if a worker panicked or an encoder failed.
pub fn generate(opts: &SynthOptions) -> Result<SynthSummary> {
    validate(opts)?;
    let jobs = plan(opts);
    for split in [Split::Train, Split::Val] {
        let dir = opts.out.join("data").join(split.name()).join("img");
        std::fs::create_dir_all(&dir).map_err(|source| Error::Io { path: dir, source })?;
    }
    let generated = run_parallel(opts, &jobs)?;
    let mut summary =
        SynthSummary { train: 0, val: 0, bytes: generated.iter().map(|g| g.bytes).sum(), out: opts.out.clone() };
    for split in [Split::Train, Split::Val] {
        let rows: Vec<annotations::Row<'_>> = jobs
            .iter()
            .zip(&generated)
            .filter(|(job, _)| job.split == split)
            .map(|(job, g)| annotations::Row { img: &job.rel, ribs: &g.ribs })
            .collect();
        match split {
            Split::Train => summary.train = rows.len(),
            Split::Val => summary.val = rows.len(),
        }
        let json = annotations::to_json(&rows)?;
        let name = format!("Vindr_RibCXR_{}_mask.json", split.name());
        summary.bytes += write_file(&opts.out.join(name), &json)?;
    }
    Ok(summary)
}

/// Check every option, reporting all problems at once.
fn validate(opts: &SynthOptions) -> Result<()> {
    let mut problems = Vec::new();
    if opts.n == 0 {
        problems.push("n: must be at least 1".to_owned());
    }
    if opts.min_side < 16 {
        problems.push(format!("min_side: {} is below 16", opts.min_side));
    }
    if opts.min_side > opts.max_side {
        let (lo, hi) = (opts.min_side, opts.max_side);
        problems.push(format!("min_side: {lo} is larger than max_side {hi}"));
    }
    if opts.max_side > u32::from(u16::MAX) {
        let hi = opts.max_side;
        problems.push(format!("max_side: {hi} exceeds 65535 (DICOM Rows/Columns are US)"));
    }
    // `contains` is false for NaN too.
    if !(0.0..1.0).contains(&opts.val_fraction) {
        let f = opts.val_fraction;
        problems.push(format!("val_fraction: {f} is outside [0, 1)"));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Config { origin: "synth options".to_owned(), problems })
    }
}

/// A ChaCha8 stream keyed by (seed, domain), stream number `stream`.
fn rng_for(seed: u64, domain: u64, stream: u64) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&domain.to_le_bytes());
    let mut rng = ChaCha8Rng::from_seed(key);
    rng.set_stream(stream);
    rng
}

/// Assign splits with a seeded permutation (its first `round(n * val_fraction)` entries go
/// to val) and number each split's rows 0.. in index order.
fn plan(opts: &SynthOptions) -> Vec<Job> {
    let mut perm: Vec<usize> = (0..opts.n).collect();
    perm.shuffle(&mut rng_for(opts.seed, SPLIT_DOMAIN, 0));
    // Ties to even, like Python's round() in the reference generator.
    let n_val = ((opts.n as f64 * opts.val_fraction).round_ties_even() as usize).min(opts.n);
    let mut is_val = vec![false; opts.n];
    for &i in &perm[..n_val] {
        is_val[i] = true;
    }
    let (mut train_rows, mut val_rows) = (0usize, 0usize);
    let ext = opts.format.extension();
    (0..opts.n)
        .map(|index| {
            let (split, counter) =
                if is_val[index] { (Split::Val, &mut val_rows) } else { (Split::Train, &mut train_rows) };
            let row = *counter;
            *counter += 1;
            let s = split.name();
            let rel = format!("data/{s}/img/VinDr_RibCXR_{s}_{row:03}.{ext}");
            Job { index, split, rel }
        })
        .collect()
}

/// Generate all jobs on `opts.threads` scoped threads; results come back in job order.
fn run_parallel(opts: &SynthOptions, jobs: &[Job]) -> Result<Vec<Generated>> {
    let threads = match opts.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        t => t,
    }
    .clamp(1, jobs.len().max(1));
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let outcomes: Vec<WorkerResult> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads).map(|_| scope.spawn(|| worker(opts, jobs, &next, &failed))).collect();
        // Joining explicitly turns a worker panic into an error instead of re-panicking.
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| Err((0, Error::Internal("synth: a worker thread panicked".to_owned()))))
            })
            .collect()
    });
    merge(outcomes, jobs.len())
}

/// Put worker results back in job order, or return the failure of the lowest index seen
/// (rather than the first to happen) so reports are as stable as scheduling allows.
fn merge(outcomes: Vec<WorkerResult>, n: usize) -> Result<Vec<Generated>> {
    let mut slots: Vec<Option<Generated>> = (0..n).map(|_| None).collect();
    let mut first_error: Option<(usize, Error)> = None;
    for outcome in outcomes {
        match outcome {
            Ok(done) => done.into_iter().for_each(|(i, g)| slots[i] = Some(g)),
            Err((i, e)) if first_error.as_ref().is_none_or(|(j, _)| i < *j) => {
                first_error = Some((i, e));
            }
            Err(_) => {}
        }
    }
    if let Some((_, e)) = first_error {
        return Err(e);
    }
    slots
        .into_iter()
        .map(|g| g.ok_or_else(|| Error::Internal("synth: an image was not generated".to_owned())))
        .collect()
}

type WorkerResult = std::result::Result<Vec<(usize, Generated)>, (usize, Error)>;

/// Take jobs from the shared counter until none are left or another worker failed.
fn worker(opts: &SynthOptions, jobs: &[Job], next: &AtomicUsize, failed: &AtomicBool) -> WorkerResult {
    let mut done = Vec::new();
    while !failed.load(Ordering::Relaxed) {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(job) = jobs.get(i) else { break };
        match build_one(opts, job) {
            Ok(g) => done.push((i, g)),
            Err(e) => {
                failed.store(true, Ordering::Relaxed);
                return Err((i, e));
            }
        }
    }
    Ok(done)
}

/// Draw, render, encode and write one image. The draw order is fixed and independent of
/// the format, so DICOM and PNG runs share sizes and polygons.
fn build_one(opts: &SynthOptions, job: &Job) -> Result<Generated> {
    let mut rng = rng_for(opts.seed, IMAGE_DOMAIN, job.index as u64);
    let rows = rng.random_range(opts.min_side..=opts.max_side);
    let cols = rng.random_range(opts.min_side..=opts.max_side);
    let header = dicom::Header::draw(&mut rng);
    let chest = anatomy::make_chest(&mut rng, rows, cols);
    let ribs = anatomy::make_ribs(&mut rng, &chest);
    let field = render::render_field(&mut rng, &chest, &ribs);
    let noise = rng.random_range(0.006f32..0.014);
    let bytes = match opts.format {
        SynthFormat::Dicom => dicom::encode(&header, &field, &mut rng, noise, (opts.seed, job.index))?,
        SynthFormat::Png => png::encode(&field, &mut rng, noise)?,
    };
    let bytes = write_file(&opts.out.join(&job.rel), &bytes)?;
    Ok(Generated { ribs, bytes })
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<u64> {
    std::fs::write(path, bytes).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
    Ok(bytes.len() as u64)
}
