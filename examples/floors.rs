//! The machine's floor for cxrshard's work: the time to just read and decode the inputs, and
//! to just compress the output bytes, with the same number of threads as the run.
//!
//!     cargo run --release --example floors -- DATASET OUTPUT [THREADS]
//!
//! DATASET is a VinDr-RibCXR-layout folder of DICOMs (as `run` reads it), OUTPUT a finished
//! `cxrshard run` of it (Parquet, flat tensors). Measured, warm page cache, median of 3:
//! read (the file bytes only), read + decode (cxrshard's DICOM decoder, no windowing), and
//! encode (libzstd level 1 of every row's image and mask bytes, the codec and level the shards
//! use, with one context and output buffer per thread, reused as the run reuses its own). The
//! floor is read + decode + encode; `bench/compare.sh` prints the run's ratio to it.
//!
//! cxrshard itself encodes a mask at level 1 from its runs inside the labels' boxes
//! (`sink::runs`), not with libzstd's match search, so the same encode is also measured that
//! way (`encode_runs_s`: the image by libzstd, the mask from its runs, given each label's box,
//! found here beforehand) and a second floor reported with it (`floor_runs_s`): that one counts
//! the same work as the run does.
//!
//! Last, the image work the run adds between the two, alone: read + decode + the display chain
//! and the resize to the output size, as a run does them (each file opened as `run` opens it,
//! its samples read in bands while they are resized, `transform::process`), without the masks
//! and with nothing written: `read_image_s`. With the encode from runs after it (`stages_s`),
//! it is the time of the run's main stages done one after another and nothing else: how near
//! the floor a run can come before its masks, Parquet and the pipeline itself are counted.

use arrow::array::{Array, FixedSizeBinaryArray};
use cxrshard::config::{self, Overrides};
use cxrshard::sink::runs;
use cxrshard::source::decode::{decode_dicom_bytes, DecodeOptions};
use cxrshard::source::Decoder;
use cxrshard::storage::Location;
use cxrshard::transform::{mask_content, process, rasterize::nonzero_bbox};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::ops::Range;
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
    let encode = median(|| parallel(&rows, threads, |r| zstd1(&r.image) + zstd1(&r.mask)));
    let encode_runs = median(|| {
        parallel(&rows, threads, |r| {
            zstd1(&r.image) + runs::compress(&r.mask, &r.content, 1).map_or_else(|| zstd1(&r.mask), |f| f.len())
        })
    });
    let image = image_work(&data, &files, threads, &plan);
    let (floor, floor_runs, stages) = (decode + encode, decode + encode_runs, image + encode_runs);
    let json = format!(
        "{{\"images\": {}, \"threads\": {threads}, \"read_s\": {read:.3}, \"read_decode_s\": {decode:.3}, \
         \"encode_s\": {encode:.3}, \"floor_s\": {floor:.3}, \"floor_images_per_s\": {:.1}, \
         \"encode_runs_s\": {encode_runs:.3}, \"floor_runs_s\": {floor_runs:.3}, \"read_image_s\": {image:.3}, \
         \"stages_s\": {stages:.3}}}",
        files.len(),
        files.len() as f64 / floor
    );
    println!("{json}");
}

/// The median time of reading, decoding, windowing and resizing every file as a run does:
/// opened through the same storage path (mapped, its samples read in bands by the resize).
fn image_work(data: &Path, files: &[PathBuf], threads: usize, plan: &config::Plan) -> f64 {
    let root = data.to_str().expect("a UTF-8 dataset path");
    let input = Location::open(root, &plan.input.s3, false).expect("dataset folder").mapping_files(plan.run.mmap);
    let rels: Vec<String> = files
        .iter()
        .map(|f| f.strip_prefix(data).expect("under the dataset").to_str().expect("UTF-8 path").to_owned())
        .collect();
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    median(|| {
        parallel(&rels, threads, |rel| {
            let file = runtime.block_on(input.get_input(rel)).expect("read");
            process(file, Decoder::Dicom, &[], plan).expect("image work").image.len()
        })
    })
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

/// One output row: its image and mask bytes (the shards compress them apart), and the byte
/// ranges of the mask inside its labels' boxes.
struct Row {
    image: Vec<u8>,
    mask: Vec<u8>,
    content: Vec<Range<usize>>,
}

/// Every row of the output's shards.
fn output_rows(out: &Path) -> Vec<Row> {
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).expect("manifest")).expect("manifest JSON");
    let shape: Vec<usize> = serde_json::from_value(manifest["mask"]["shape"].clone()).expect("mask shape [C, H, W]");
    let (h, w) = (shape[1], shape[2]);
    let mut rows = Vec::new();
    let mut shards: Vec<PathBuf> =
        std::fs::read_dir(out.join("data")).expect("output").flatten().map(|e| e.path()).collect();
    shards.sort();
    for shard in shards.iter().filter(|p| p.extension().is_some_and(|x| x == "parquet")) {
        let file = std::fs::File::open(shard).expect("shard");
        let reader = ParquetRecordBatchReaderBuilder::try_new(file).expect("parquet").build().expect("reader");
        for batch in reader {
            let batch = batch.expect("batch");
            let column = |name: &str| {
                let a = batch.column_by_name(name).expect(name).clone();
                a.as_any().downcast_ref::<FixedSizeBinaryArray>().expect("flat tensor column").clone()
            };
            let (images, masks) = (column("image"), column("mask"));
            for i in 0..images.len() {
                let mask = masks.value(i).to_vec();
                let boxes: Vec<_> = mask
                    .chunks_exact(w * h)
                    .map(|plane| nonzero_bbox(plane, w, h).map(|b| [b.0, b.1, b.2, b.3].map(|v| v as i32)))
                    .collect();
                rows.push(Row { image: images.value(i).to_vec(), content: mask_content(&boxes, w, h).collect(), mask });
            }
        }
    }
    rows
}

thread_local! {
    /// This thread's zstd level-1 context and output buffer, reused as the run reuses its own.
    static ZSTD1: std::cell::RefCell<(zstd::bulk::Compressor<'static>, Vec<u8>)> =
        std::cell::RefCell::new((zstd::bulk::Compressor::new(1).expect("zstd level 1"), Vec::new()));
}

/// The size of `b` compressed by libzstd at level 1, with this thread's context.
fn zstd1(b: &[u8]) -> usize {
    ZSTD1.with(|z| {
        let (cctx, buf) = &mut *z.borrow_mut();
        buf.clear();
        buf.reserve(zstd::zstd_safe::compress_bound(b.len()));
        cctx.compress_to_buffer(b, buf).expect("zstd")
    })
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
