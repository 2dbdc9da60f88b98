//! Per-stage micro-benchmarks on CXR-sized inputs (2500 x 2500, 12 bits stored):
//! decode, window (display table + native-size plane), resize (of that plane), the one pass
//! `run` makes instead of those two (`window_and_resize`: table, then lookup and `INTER_AREA`
//! together), `lookup_only` (a table lookup per sample and nothing else: the floor of any
//! pipeline that windows before it resizes), rasterize, the whole of `process`, and Parquet
//! encode of one row group (as `run` writes it, through `ArrowWriter` for comparison, and with
//! bit-packed masks, the encoding not taken); a row's tensor pages as the CPU workers compress
//! them (the mask from its runs), through libzstd's own search, and with the mask bit-packed
//! instead; and an 8-bit grey PNG of the same size decoded on cxrshard's path and by the
//! `image` crate.
//!
//!     cargo bench --bench stages
//!
//! The input is one synthetic DICOM from `cxrshard::synth` (deterministic), so the figures
//! are comparable between runs and machines.

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use cxrshard::config::{self, Overrides, Plan};
use cxrshard::sink::parquet::{TensorPage, TensorParquetWriter};
use cxrshard::sink::{batch, schema, shard::parquet_properties, Row, TensorPages};
use cxrshard::source::annotations::Polygon;
use cxrshard::source::decode::{decode_dicom, decode_dicom_bytes, decode_raster, DecodeOptions};
use cxrshard::source::image::Samples;
use cxrshard::synth::{self, SynthFormat, SynthOptions};
use cxrshard::transform::{masks, process, resize, window};
use std::hint::black_box;
use std::sync::Arc;

fn plan() -> Plan {
    let text = "[input]\nroot = \".\"\n[output]\nroot = \".\"\n";
    config::parse(text, "bench", &Overrides::default()).expect("bench plan")
}

/// One CXR-sized DICOM and its annotation polygons.
fn sample() -> (bytes::Bytes, Vec<Option<Polygon>>) {
    sample_as(SynthFormat::Dicom)
}

/// One CXR-sized image written as `format`, and its annotation polygons.
fn sample_as(format: SynthFormat) -> (bytes::Bytes, Vec<Option<Polygon>>) {
    let name = if matches!(format, SynthFormat::Png) { "cxrshard-bench-sample-png" } else { "cxrshard-bench-sample" };
    let dir = std::env::temp_dir().join(name);
    let opts = SynthOptions {
        out: dir.clone(),
        n: 1,
        val_fraction: 0.0,
        min_side: 2500,
        max_side: 2500,
        seed: 1,
        format,
        ..SynthOptions::default()
    };
    if !dir.join("Vindr_RibCXR_train_mask.json").exists() {
        synth::generate(&opts).expect("synth sample");
    }
    let ann = std::fs::read(dir.join("Vindr_RibCXR_train_mask.json")).unwrap();
    let entries = cxrshard::source::annotations::parse(&ann, "bench", &config::default_labels()).unwrap();
    let e = &entries[0];
    (std::fs::read(dir.join(&e.img)).unwrap().into(), e.polygons.clone().unwrap())
}

fn stages(c: &mut Criterion) {
    let plan = plan();
    let (bytes, polys) = sample();
    let opts = DecodeOptions::from_plan(&plan.image);
    let src = decode_dicom_bytes(&bytes, &opts).unwrap();
    let (plane, _) = window::apply(&src, &plan.image).unwrap();
    let (_, geometry) = resize::resize(&plane, src.width, src.height, &plan.image).unwrap();
    let mut g = c.benchmark_group("stage");
    g.sample_size(20);
    g.throughput(Throughput::Elements(1));
    g.bench_function("decode", |b| b.iter(|| decode_dicom_bytes(black_box(&bytes), &opts).unwrap()));
    g.bench_function("decode_copying", |b| b.iter(|| decode_dicom(black_box(&bytes), &opts).unwrap()));
    // The display table alone (made once per image, before the resize).
    g.bench_function("table_only", |b| b.iter(|| window::table(black_box(&src), &plan.image).unwrap()));
    g.bench_function("window", |b| b.iter(|| window::apply(black_box(&src), &plan.image).unwrap()));
    g.bench_function("resize", |b| {
        b.iter(|| resize::resize(black_box(&plane), src.width, src.height, &plan.image).unwrap())
    });
    // What `process` does: the display table, then one pass that looks samples up and resizes.
    g.bench_function("window_and_resize", |b| {
        b.iter(|| {
            let (table, _) = window::table(black_box(&src), &plan.image).unwrap();
            resize::resize_table(&src.samples, &table, src.width, src.height, &plan.image, None).unwrap()
        })
    });
    // The same with every sample looked up in the table (its affine form, if any, dropped):
    // what `run` does for chains that are not affine, and did for all before.
    g.bench_function("window_and_resize_lookup", |b| {
        b.iter(|| {
            let (mut table, _) = window::table(black_box(&src), &plan.image).unwrap();
            table.affine = None;
            resize::resize_table(&src.samples, &table, src.width, src.height, &plan.image, None).unwrap()
        })
    });
    // The least per-sample work of any pipeline that windows before resizing, as the reference
    // does: one table lookup per sample, summed, no output. A lower bound, not a stage.
    g.bench_function("lookup_only", |b| {
        let (table, _) = window::table(&src, &plan.image).unwrap();
        let window::Values::U8(t) = &table.values else { panic!("a uint8 table") };
        let t: &[u8; 65536] = t.as_slice().try_into().expect("a table of every 16-bit pattern");
        let Samples::U16(words) = &src.samples else { panic!("16-bit samples") };
        b.iter(|| black_box(&words[..]).iter().map(|&s| u64::from(t[usize::from(s)])).sum::<u64>())
    });
    g.bench_function("rasterize", |b| b.iter(|| masks(black_box(&polys), &geometry, 512, 512)));
    g.bench_function("process", |b| {
        b.iter(|| process(black_box(bytes.clone()), cxrshard::source::Decoder::Dicom, &polys, &plan).unwrap())
    });
    // The public release's format: an 8-bit grey PNG of the same size (Average-filtered rows,
    // as the `image` crate's encoder chose them), on cxrshard's path and through `image`.
    let (png, _) = sample_as(SynthFormat::Png);
    g.bench_function("decode_png", |b| b.iter(|| decode_raster(black_box(&png)).unwrap()));
    g.bench_function("decode_png_image_crate", |b| {
        b.iter(|| image::load_from_memory(black_box(&png)).unwrap().into_luma8())
    });
    g.finish();

    // A row's tensor pages as the CPU workers build them (the mask from its runs inside the
    // labels' boxes), and both compressed by libzstd's own search.
    let processed = process(bytes.clone(), cxrshard::source::Decoder::Dicom, &polys, &plan).unwrap();
    let zstd1 = parquet::basic::Compression::ZSTD(parquet::basic::ZstdLevel::try_new(1).unwrap());
    let (w, h) = (plan.image.width as usize, plan.image.height as usize);
    let mut g = c.benchmark_group("pages");
    g.bench_function("image_and_mask", |b| {
        b.iter_batched(
            || processed.clone(),
            |mut p| TensorPages::take(&mut p, zstd1, w, h).unwrap(),
            criterion::BatchSize::LargeInput,
        )
    });
    g.bench_function("image_and_mask_libzstd", |b| {
        b.iter(|| {
            (TensorPage::build(&processed.image, zstd1).unwrap(), TensorPage::build(&processed.mask, zstd1).unwrap())
        })
    });
    // The mask encoding not taken, as a worker would build its page: 8 pixels per byte
    // (packing left out), compressed by libzstd (the runs of a packed mask are not byte runs).
    let packed_mask = pack(&processed.mask);
    g.bench_function("image_and_bitpacked_mask", |b| {
        b.iter(|| {
            (TensorPage::build(&processed.image, zstd1).unwrap(), TensorPage::build(&packed_mask, zstd1).unwrap())
        })
    });
    g.finish();
    let dense = TensorPages::take(&mut processed.clone(), zstd1, w, h).unwrap().mask.compressed_len();
    let packed = TensorPage::build(&packed_mask, zstd1).unwrap().compressed_len();
    eprintln!("one row's mask page, zstd level 1: dense from its runs {dense} bytes, bit-packed {packed} bytes");

    let processed = process(bytes.clone(), cxrshard::source::Decoder::Dicom, &polys, &plan).unwrap();
    let row = Row {
        image_id: "x".into(),
        split: "train".into(),
        source: "x.dcm".into(),
        polygons: polys.clone(),
        processed,
        pages: None,
    };
    let rows: Vec<Row> = (0..plan.output.row_group_rows).map(|_| row.clone()).collect();
    let schema = schema::schema(&plan);
    let packed = packed_rows(&rows);
    let packed_schema = packed_schema(&schema);
    let sizes = [
        ("dense", parquet_file(rows.clone(), &schema, &plan).len()),
        ("bit-packed", parquet_file(packed.clone(), &packed_schema, &plan).len()),
    ];
    eprintln!("one row group of {} rows, zstd level 1: {sizes:?} bytes", rows.len());
    let mut g = c.benchmark_group("encode");
    g.sample_size(10);
    g.throughput(Throughput::Elements(rows.len() as u64));
    let batched = criterion::BatchSize::LargeInput;
    // What `run` does: flat tensor columns straight from each row's buffer.
    g.bench_function("parquet_row_group", |b| {
        b.iter_batched(|| rows.clone(), |r| parquet_file(r, &schema, &plan), batched)
    });
    // The same file through `ArrowWriter` (one record batch, FixedSizeBinary copied twice).
    g.bench_function("arrow_writer_row_group", |b| {
        b.iter_batched(
            || rows.clone(),
            |r| {
                let batch = batch::build(&r, &schema, &plan).unwrap();
                let props = Some(parquet_properties(&plan));
                let mut w = parquet::arrow::ArrowWriter::try_new(Vec::new(), schema.clone(), props).unwrap();
                w.write(&batch).unwrap();
                w.into_inner().unwrap()
            },
            batched,
        )
    });
    // The mask encoding not taken: 8 pixels per byte (np.packbits order). Packing is left out
    // (it could be folded into rasterisation), so this is the encoder's best case.
    g.bench_function("parquet_row_group_bitpacked_mask", |b| {
        b.iter_batched(|| packed.clone(), |r| parquet_file(r, &packed_schema, &plan), batched)
    });
    g.finish();
}

fn parquet_file(rows: Vec<Row>, schema: &SchemaRef, plan: &Plan) -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = TensorParquetWriter::try_new(&mut out, schema.clone(), parquet_properties(plan)).unwrap();
    w.write(batch::columns(rows, schema, plan).unwrap()).unwrap();
    w.close().unwrap();
    out
}

/// A mask packed 8 pixels per byte, most significant bit first (NumPy's `packbits`).
fn pack(mask: &[u8]) -> Vec<u8> {
    mask.chunks(8).map(|c| c.iter().fold(0u8, |acc, &b| (acc << 1) | (b & 1))).collect()
}

/// Rows with their masks packed ([`pack`]).
fn packed_rows(rows: &[Row]) -> Vec<Row> {
    rows.iter()
        .map(|r| {
            let mut r = r.clone();
            r.processed.mask = pack(&r.processed.mask);
            r
        })
        .collect()
}

fn packed_schema(schema: &SchemaRef) -> SchemaRef {
    let fields = schema.fields().iter().map(|f| match (f.name().as_str(), f.data_type()) {
        ("mask", DataType::FixedSizeBinary(n)) => {
            Arc::new(Field::new("mask", DataType::FixedSizeBinary((n + 7) / 8), false))
        }
        _ => f.clone(),
    });
    Arc::new(Schema::new(fields.collect::<Vec<_>>()))
}

criterion_group!(benches, stages);
criterion_main!(benches);
