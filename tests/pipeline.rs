//! End to end: `synth` → `run` → read every shard and the manifest back.

mod common;

use arrow::array::{Array, AsArray, FixedSizeBinaryArray, FixedSizeListArray};
use arrow::datatypes::UInt8Type;
use common::*;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;
use std::path::Path;

const LABELS: [&str; 20] = [
    "R1", "R2", "R3", "R4", "R5", "R6", "R7", "R8", "R9", "R10", "L1", "L2", "L3", "L4", "L5", "L6", "L7", "L8", "L9",
    "L10",
];

/// Which labels have a polygon, per image_id, from the annotation JSON.
fn polygons_by_id(ann: &Value) -> Vec<(String, Vec<bool>)> {
    let img = ann["img"].as_object().unwrap();
    let mut keys: Vec<&String> = img.keys().collect();
    keys.sort_by_key(|k| k.parse::<u64>().unwrap());
    keys.into_iter()
        .map(|k| {
            let path = img[k].as_str().unwrap();
            let id = Path::new(path).file_stem().unwrap().to_str().unwrap().to_string();
            (id, LABELS.iter().map(|l| ann[*l][k].is_array()).collect())
        })
        .collect()
}

/// Check one split's shards against its annotations; returns rows read.
fn check_parquet_split(out: &Path, split: &Value, ann: &Value, size: usize) -> usize {
    let expected = polygons_by_id(ann);
    let mut row = 0;
    for shard in split["shards"].as_array().unwrap() {
        let path = out.join(shard["path"].as_str().unwrap());
        assert_eq!(sha256(&path), shard["sha256"].as_str().unwrap(), "{}", path.display());
        assert_eq!(std::fs::metadata(&path).unwrap().len(), shard["bytes"].as_u64().unwrap());
        let reader =
            ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).unwrap()).unwrap().build().unwrap();
        let mut shard_rows = 0;
        for batch in reader {
            let batch = batch.unwrap();
            let ids = batch.column_by_name("image_id").unwrap().as_string::<i32>().clone();
            let image =
                batch.column_by_name("image").unwrap().as_any().downcast_ref::<FixedSizeBinaryArray>().unwrap().clone();
            let mask =
                batch.column_by_name("mask").unwrap().as_any().downcast_ref::<FixedSizeBinaryArray>().unwrap().clone();
            assert_eq!(image.value_length() as usize, size * size);
            assert_eq!(mask.value_length() as usize, 20 * size * size);
            for i in 0..batch.num_rows() {
                let (id, has) = &expected[row];
                assert_eq!(ids.value(i), id, "rows keep annotation order");
                let img = image.value(i);
                let (lo, hi) = (img.iter().min().unwrap(), img.iter().max().unwrap());
                assert!(hi - lo > 100, "{id}: image looks constant ({lo}..{hi})");
                for (c, present) in has.iter().enumerate() {
                    let plane = &mask.value(i)[c * size * size..(c + 1) * size * size];
                    let area = plane.iter().filter(|&&v| v == 1).count();
                    assert!(plane.iter().all(|&v| v <= 1), "mask is 0/1");
                    assert_eq!(area > 0, *present, "{id} {}: mask area {area}, polygon present {present}", LABELS[c]);
                }
                row += 1;
            }
            shard_rows += batch.num_rows();
        }
        assert_eq!(shard_rows as u64, shard["rows"].as_u64().unwrap());
    }
    row
}

#[test]
fn synth_run_and_read_back_every_shard() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    synth(&data, 14, "dicom");
    let out = tmp.path().join("out");
    let stdout = run_pipeline(
        "pipelines/vindr-ribcxr-dicom.toml",
        &data,
        &out,
        &["output.shard_rows=4", "output.row_group_rows=2", "image.size=[64,64]"],
    );
    assert!(String::from_utf8_lossy(&stdout.stdout).contains("images/s"));
    let manifest = read_json(&out.join("manifest.json"));
    assert_eq!(manifest["labels"], serde_json::json!(LABELS));
    assert_eq!(manifest["image"]["shape"], serde_json::json!([64, 64]));
    let mut total = 0;
    for split in manifest["splits"].as_array().unwrap() {
        let name = split["name"].as_str().unwrap();
        let ann_file = if name == "train" { "Vindr_RibCXR_train_mask.json" } else { "Vindr_RibCXR_val_mask.json" };
        let ann = read_json(&data.join(ann_file));
        let n = ann["img"].as_object().unwrap().len();
        assert_eq!(split["inputs"].as_u64().unwrap() as usize, n);
        assert_eq!(split["rejected"].as_u64().unwrap(), 0, "{:?}", split["rejects"]);
        let rows = check_parquet_split(&out, split, &ann, 64);
        assert_eq!(rows, n, "{name}: every annotated image is a row");
        assert_eq!(split["shards"].as_array().unwrap().len(), n.div_ceil(4));
        let first = split["shards"][0]["path"].as_str().unwrap();
        assert_eq!(first, format!("data/{name}-00000-of-{:05}.parquet", n.div_ceil(4)));
        total += rows;
    }
    assert_eq!(total, 14);
    let report = read_json(&out.join("run_report.json"));
    assert_eq!(report["images"], 14);
    // Each split's rows count to it, though the next split starts before its last rows arrive.
    for (r, m) in report["splits"].as_array().unwrap().iter().zip(manifest["splits"].as_array().unwrap()) {
        assert_eq!((&r["name"], &r["rows"], &r["rejected"]), (&m["name"], &m["rows"], &m["rejected"]));
    }
    assert_eq!(report["splits"].as_array().unwrap().len(), 2);
    // One queue sample per row; each queue's depth stays within its bound.
    let q = &report["queues"];
    assert_eq!(q["samples"], total as u64);
    for name in ["reading", "processing", "waiting_for_sink"] {
        let (max, bound) = (q[name]["max"].as_u64().unwrap(), q[name]["bound"].as_u64().unwrap());
        assert!(bound > 0 && max <= bound && q[name]["peak"].as_u64().unwrap() <= bound, "{name}: {}", q[name]);
    }
    assert!(q["processing"]["max"].as_u64().unwrap() >= 1, "some image was seen in the CPU stage");
    // zstd Parquet with flat tensors: the CPU job compresses the tensors into pages.
    for stage in ["read", "decode", "window", "resize", "rasterize", "compress", "encode_and_write"] {
        assert!(report["stage_seconds"][stage].as_f64().unwrap() > 0.0, "{stage}");
    }
}

/// The fetch and CPU-stage bounds hold for the run, not per split: the validation split starts
/// reading while the training split's last images are in the CPU stage, yet at bounds of two
/// there are never three reads, or three images in the CPU stage, at once.
#[test]
fn bounds_hold_across_overlapping_splits() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    synth(&data, 12, "dicom");
    for round in 0..3 {
        let out = tmp.path().join(format!("out{round}"));
        let sets = ["image.size=[512,512]", "run.read_concurrency=2", "run.in_flight=2", "run.workers=1"];
        run_pipeline("pipelines/vindr-ribcxr-dicom.toml", &data, &out, &sets);
        let q = read_json(&out.join("run_report.json"))["queues"].clone();
        for name in ["reading", "processing"] {
            assert_eq!(q[name]["bound"], 2, "{name}");
            assert!(q[name]["peak"].as_u64().unwrap() <= 2, "{name}: {}", q[name]);
        }
    }
}

#[test]
fn output_is_identical_whatever_the_concurrency() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    synth(&data, 10, "dicom");
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    let common = ["output.shard_rows=3", "image.size=[48,40]"];
    run_pipeline(
        "pipelines/vindr-ribcxr-dicom.toml",
        &data,
        &a,
        &[&common[..], &["run.workers=1", "run.in_flight=1", "run.read_concurrency=1"]].concat(),
    );
    run_pipeline(
        "pipelines/vindr-ribcxr-dicom.toml",
        &data,
        &b,
        &[&common[..], &["run.workers=3", "run.in_flight=9", "run.read_concurrency=5"]].concat(),
    );
    assert_same_dataset(&a, &b);
    assert_eq!(sha256(&a.join("README.md")), sha256(&b.join("README.md")), "dataset cards differ");
}

/// Local inputs of 1 MiB or more are mapped into memory (`run.mmap`, the default) rather than
/// read into a buffer, and their samples read from the file in bands (several per image
/// here), with a file window or a min..max one; either way the dataset is the same.
#[test]
fn mapped_and_read_inputs_give_the_same_dataset() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let args = ["synth", "--n", "3", "--seed", "3", "--format", "dicom", "--min-side", "760", "--max-side", "800"];
    run_expect(common::bin().args(args).arg("--out").arg(&data), 0);
    let sizes: Vec<u64> =
        std::fs::read_dir(data.join("data/train/img")).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).collect();
    assert!(sizes.iter().any(|&s| s >= 1 << 20), "some input is large enough to be mapped: {sizes:?}");
    let sets = ["image.size=[64,64]"];
    let (a, b) = (tmp.path().join("mapped"), tmp.path().join("read"));
    run_pipeline("pipelines/vindr-ribcxr-dicom.toml", &data, &a, &sets);
    run_pipeline("pipelines/vindr-ribcxr-dicom.toml", &data, &b, &[sets[0], "run.mmap=false"]);
    assert_same_dataset(&a, &b);
    assert_eq!(read_json(&a.join("manifest.json"))["splits"][0]["rejected"], 0);
    // A min..max window reads the samples twice (for the range, then to resize): the same too.
    let minmax = [sets[0], "image.window=\"minmax\""];
    let (c, d) = (tmp.path().join("mapped-minmax"), tmp.path().join("read-minmax"));
    run_pipeline("pipelines/vindr-ribcxr-dicom.toml", &data, &c, &minmax);
    run_pipeline("pipelines/vindr-ribcxr-dicom.toml", &data, &d, &[minmax[0], minmax[1], "run.mmap=false"]);
    assert_same_dataset(&c, &d);
    assert_eq!(read_json(&c.join("manifest.json"))["splits"][0]["rejected"], 0);
}

/// Parsed polygons wait in a temporary file; where none can be created they stay in memory,
/// and the dataset is the same.
#[test]
fn polygons_kept_in_memory_without_a_temporary_directory_give_the_same_dataset() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    synth(&data, 8, "dicom");
    let sets = ["output.shard_rows=3", "image.size=[48,40]"];
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    run_pipeline("pipelines/vindr-ribcxr-dicom.toml", &data, &a, &sets);
    let mut cmd = run_cmd("pipelines/vindr-ribcxr-dicom.toml", &data, &b, &sets);
    let o = run_expect(cmd.env("TMPDIR", tmp.path().join("no-such-dir")), 0);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no temporary file for parsed polygons"), "the memory fallback ran:\n{err}");
    assert_same_dataset(&a, &b);
}

#[test]
fn arrow_ipc_output_uses_fixed_shape_tensors() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    synth(&data, 5, "dicom");
    let out = tmp.path().join("out");
    run_pipeline("pipelines/vindr-ribcxr-dicom.toml", &data, &out, &["output.format=arrow", "image.size=[32,48]"]);
    let manifest = read_json(&out.join("manifest.json"));
    let shard = out.join(manifest["splits"][0]["shards"][0]["path"].as_str().unwrap());
    assert!(shard.to_string_lossy().ends_with(".arrow"));
    let reader = arrow::ipc::reader::FileReader::try_new(std::fs::File::open(&shard).unwrap(), None).unwrap();
    let schema = reader.schema();
    let field = schema.field_with_name("mask").unwrap();
    assert_eq!(field.metadata()["ARROW:extension:name"], "arrow.fixed_shape_tensor");
    assert_eq!(field.metadata()["ARROW:extension:metadata"], "{\"shape\":[20,32,48]}");
    let image_md = &schema.field_with_name("image").unwrap().metadata()["ARROW:extension:metadata"];
    assert_eq!(image_md, "{\"shape\":[32,48]}");
    let mut rows = 0;
    for batch in reader {
        let batch = batch.unwrap();
        let mask = batch.column_by_name("mask").unwrap().as_any().downcast_ref::<FixedSizeListArray>().unwrap().clone();
        assert_eq!(mask.value_length(), 20 * 32 * 48);
        assert!(mask.values().as_primitive::<UInt8Type>().values().contains(&1));
        rows += batch.num_rows();
    }
    assert_eq!(rows as u64, manifest["splits"][0]["rows"].as_u64().unwrap());
}

#[test]
fn png_release_layout_runs_with_the_png_pipeline() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    synth(&data, 6, "png");
    let out = tmp.path().join("out");
    run_pipeline("pipelines/vindr-ribcxr.toml", &data, &out, &["image.size=[64,64]"]);
    let manifest = read_json(&out.join("manifest.json"));
    let rows: u64 = manifest["splits"].as_array().unwrap().iter().map(|s| s["rows"].as_u64().unwrap()).sum();
    assert_eq!(rows, 6);
    assert_eq!(manifest["config"]["input"]["format"], "png");
}

#[test]
fn dicom_pipeline_maps_png_names_to_dicom_files() {
    // The JSON names .png files (as in the public release) but the folder holds DICOMs.
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    synth(&data, 4, "dicom");
    for f in ["Vindr_RibCXR_train_mask.json", "Vindr_RibCXR_val_mask.json"] {
        let p = data.join(f);
        let text = std::fs::read_to_string(&p).unwrap().replace(".dcm\"", ".png\"");
        std::fs::write(&p, text).unwrap();
    }
    let out = tmp.path().join("out");
    run_pipeline("pipelines/vindr-ribcxr-dicom.toml", &data, &out, &["image.size=[32,32]"]);
    let manifest = read_json(&out.join("manifest.json"));
    let rows: u64 = manifest["splits"].as_array().unwrap().iter().map(|s| s["rows"].as_u64().unwrap()).sum();
    assert_eq!(rows, 4, "{manifest:#}");
}

#[test]
fn missing_images_are_rejected_with_reason_and_the_run_completes() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    synth(&data, 6, "dicom");
    let victim = std::fs::read_dir(data.join("data/train/img")).unwrap().map(|e| e.unwrap().path()).min().unwrap();
    std::fs::remove_file(&victim).unwrap();
    std::fs::write(data.join("data/train/img").join(victim.file_name().unwrap()).with_extension("txt"), b"x").unwrap();
    let out = tmp.path().join("out");
    run_pipeline_code("pipelines/vindr-ribcxr-dicom.toml", &data, &out, &["image.size=[32,32]"], 3);
    let manifest = read_json(&out.join("manifest.json"));
    let train = &manifest["splits"][0];
    assert_eq!(train["rejected"], 1);
    assert_eq!(train["rows"].as_u64().unwrap() + 1, train["inputs"].as_u64().unwrap());
    let reject = &train["rejects"][0];
    assert_eq!(reject["stage"], "read");
    assert!(reject["reason"].as_str().unwrap().contains("not found"), "{reject}");
    assert!(reject["source"].as_str().unwrap().ends_with(".dcm"));
}

#[test]
fn second_run_does_nothing_and_a_different_config_needs_overwrite() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    synth(&data, 3, "dicom");
    let out = tmp.path().join("out");
    let p = "pipelines/vindr-ribcxr-dicom.toml";
    run_pipeline(p, &data, &out, &["image.size=[16,16]"]);
    let before = std::fs::read(out.join("manifest.json")).unwrap();
    let o = run_pipeline(p, &data, &out, &["image.size=[16,16]"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("nothing to do"));
    assert_eq!(before, std::fs::read(out.join("manifest.json")).unwrap());
    let o = run_pipeline_code(p, &data, &out, &["image.size=[24,24]"], 1);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("different configuration") && err.contains("--overwrite"), "{err}");
    run_expect(run_cmd(p, &data, &out, &["image.size=[24,24]"]).arg("--overwrite"), 0);
    assert_eq!(read_json(&out.join("manifest.json"))["image"]["shape"], serde_json::json!([24, 24]));
}

#[test]
fn malformed_pipeline_file_names_the_key_and_exits_2() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("bad.toml");
    std::fs::write(&p, "[input]\nroot = \"x\"\n[image]\nsize = [512]\ndtype = \"int7\"\n[output]\nroot = \"y\"\n")
        .unwrap();
    let o = run_expect(common::bin().arg("run").arg(&p), 2);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("`image.size`") && err.contains("[height, width]"), "{err}");
    assert!(err.contains("`image.dtype`") && err.contains("\"uint8\""), "{err}");
    std::fs::write(&p, "[input]\nroot = \"x\"\nformats = \"dicom\"\n").unwrap();
    let o = run_expect(common::bin().arg("run").arg(&p), 2);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("formats") && err.contains("line 3"), "{err}");
}

/// Every Parquet codec the pipeline file accepts writes shards that read back to the same rows
/// (zstd and none build tensor pages directly, zstd's in the CPU job; lz4 and snappy go
/// through parquet's writer).
#[test]
fn every_parquet_codec_reads_back_to_the_same_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    synth(&data, 6, "dicom");
    let ann = read_json(&data.join("Vindr_RibCXR_train_mask.json"));
    let mut sha_by_codec = Vec::new();
    for codec in ["zstd", "none", "lz4", "snappy"] {
        let out = tmp.path().join(codec);
        let set = format!("output.compression=\"{codec}\"");
        run_pipeline(
            "pipelines/vindr-ribcxr-dicom.toml",
            &data,
            &out,
            &["output.shard_rows=4", "output.row_group_rows=2", "image.size=[64,64]", &set],
        );
        let manifest = read_json(&out.join("manifest.json"));
        let train = &manifest["splits"][0];
        assert_eq!(train["name"], "train");
        assert_eq!(check_parquet_split(&out, train, &ann, 64), ann["img"].as_object().unwrap().len(), "{codec}");
        sha_by_codec.push(sha256(&out.join(train["shards"][0]["path"].as_str().unwrap())));
        let compress = read_json(&out.join("run_report.json"))["stage_seconds"]["compress"].as_f64().unwrap();
        assert_eq!(compress > 0.0, codec == "zstd", "{codec}: CPU-job compression {compress} s");
    }
    sha_by_codec.dedup();
    assert_eq!(sha_by_codec.len(), 4, "each codec writes different bytes");
}

/// The binary runs with its own allocator settings: `malloc` itself is jemalloc's (so the C
/// libraries' allocations keep their freed pages too), and jemalloc reads the configuration the
/// binary exports as `malloc_conf`, with `MALLOC_CONF` from the environment on top of it.
#[cfg(target_os = "linux")]
#[test]
fn the_binary_runs_with_its_allocator_settings() {
    let out = run_expect(bin().arg("--version").env("MALLOC_CONF", "stats_print:true"), 0);
    let stats = String::from_utf8_lossy(&out.stderr);
    for setting in ["opt.narenas: 1", "opt.dirty_decay_ms: -1", "opt.muzzy_decay_ms: -1", "opt.oversize_threshold: 0"] {
        assert!(stats.contains(setting), "jemalloc's statistics at exit should list {setting:?}:\n{stats}");
    }
}
