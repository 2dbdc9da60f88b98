//! The machine's floor for cxrshard's work: the time to just read and decode the inputs, and
//! to just compress the output bytes, with the same number of threads as the run.
//!
//!     cargo run --release --example floors -- DATASET OUTPUT [THREADS]
//!
//! DATASET is a VinDr-RibCXR-layout folder of DICOMs (as `run` reads it), OUTPUT a finished
//! `cxrshard run` of it (Parquet, flat tensors). Measured, warm page cache, median of 3:
//! read (the file bytes only), read + decode (cxrshard's DICOM decoder, no windowing), and
//! encode (zstd level 1 of every row's image and mask bytes, the codec and level the shards
//! use). The floor is read + decode + encode; `bench/compare.sh` prints the run's ratio to it.

use arrow::array::{Array, FixedSizeBinaryArray};
use cxrshard::config::{self, Overrides};
use cxrshard::source::decode::{decode_dicom_bytes, DecodeOptions};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::path::{Path, PathBuf};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (data, out) = (PathBuf::from(&args[1]), PathBuf::from(&args[2]));
    let threads: usize = args.get(3).and_then(|t| t.parse().ok()).unwrap_or(2);
    let files = dicoms(&data);
    let rows = output_rows(&out);
    let plan = config::parse("[input]\nroot = \".\"\n[output]\nroot = \".\"\n", "floors", &Overrides::default())
        .expect("default plan");
    let opts = DecodeOptions::from_plan(&plan.image);
    let read = median(|| parallel(&files, threads, |f| std::fs::read(f).expect("read").len()));
    let decode = median(|| {
        parallel(&files, threads, |f| {
            decode_dicom_bytes(&std::fs::read(f).expect("read").into(), &opts).expect("decode").width as usize
        })
    });
    let encode = median(|| parallel(&rows, threads, |r| zstd::bulk::compress(r, 1).expect("zstd").len()));
    let floor = decode + encode;
    let json = format!(
        "{{\"images\": {}, \"threads\": {threads}, \"read_s\": {read:.3}, \"read_decode_s\": {decode:.3}, \
         \"encode_s\": {encode:.3}, \"floor_s\": {floor:.3}, \"floor_images_per_s\": {:.1}}}",
        files.len(),
        files.len() as f64 / floor
    );
    println!("{json}");
}

/// Every `.dcm` under `data/` (the layout's image folders).
fn dicoms(data: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![data.join("data")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).expect("dataset folder").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "dcm") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Each row's image bytes and mask bytes, as separate buffers (the shards compress them apart).
fn output_rows(out: &Path) -> Vec<Vec<u8>> {
    let mut rows = Vec::new();
    let mut shards: Vec<PathBuf> =
        std::fs::read_dir(out.join("data")).expect("output").flatten().map(|e| e.path()).collect();
    shards.sort();
    for shard in shards.iter().filter(|p| p.extension().is_some_and(|x| x == "parquet")) {
        let file = std::fs::File::open(shard).expect("shard");
        let reader = ParquetRecordBatchReaderBuilder::try_new(file).expect("parquet").build().expect("reader");
        for batch in reader {
            let batch = batch.expect("batch");
            for col in ["image", "mask"] {
                let a = batch.column_by_name(col).expect(col);
                let a = a.as_any().downcast_ref::<FixedSizeBinaryArray>().expect("flat tensor column");
                rows.extend((0..a.len()).map(|i| a.value(i).to_vec()));
            }
        }
    }
    rows
}

fn parallel<T: Sync>(items: &[T], threads: usize, f: impl Fn(&T) -> usize + Sync) -> usize {
    let chunk = items.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = items.chunks(chunk).map(|c| s.spawn(|| c.iter().map(&f).sum::<usize>())).collect();
        handles.into_iter().map(|h| h.join().expect("thread")).sum()
    })
}

fn median(mut f: impl FnMut() -> usize) -> f64 {
    let mut t: Vec<f64> = (0..3)
        .map(|_| {
            let t0 = Instant::now();
            std::hint::black_box(f());
            t0.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[1]
}
