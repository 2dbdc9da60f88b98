//! The user-facing commands around `run`: progress output, `validate`, `inspect`, `preview`,
//! help texts. Each runs the real binary on a generated dataset.

mod common;

use arrow::array::{Array, AsArray, FixedSizeBinaryArray};
use common::*;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::path::Path;

const H: usize = 256;
const W: usize = 192;
/// Must match `cxrshard::dataset::preview::{CAPTION_PX, ALPHA_256}`.
use cxrshard::dataset::preview::{blend, palette, CAPTION_PX};

fn small_run(tmp: &Path, n: usize, extra: &[&str]) -> (std::path::PathBuf, std::path::PathBuf) {
    let data = tmp.join("data");
    synth(&data, n, "dicom");
    let out = tmp.join("out");
    let size = format!("image.size=[{H},{W}]");
    run_pipeline("pipelines/vindr-ribcxr-dicom.toml", &data, &out, &[&[size.as_str()][..], extra].concat());
    (data, out)
}

#[test]
fn progress_is_plain_log_lines_without_control_characters_when_not_a_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    synth(&data, 12, "dicom");
    let mut cmd = bin();
    cmd.arg("run")
        .arg(repo("pipelines/vindr-ribcxr-dicom.toml"))
        .arg("--input")
        .arg(&data)
        .arg("--output")
        .arg(tmp.path().join("out"))
        .args(["--set", "run.workers=1", "--set", "image.size=[256,256]"])
        .env("CXRSHARD_PROGRESS_INTERVAL", "0.001")
        .env_remove("CXRSHARD_LOG");
    let o = run_expect(&mut cmd, 0);
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(!err.contains('\x1b') && !err.contains('\r'), "control characters in non-terminal output:\n{err:?}");
    assert!(err.contains("processing split split=\"train\""), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.contains("images/s") && l.contains("ETA")).collect();
    let periodic = lines.iter().filter(|l| l.contains("train: ") && !l.contains("(100%)")).count();
    assert!(periodic >= 1, "expected periodic progress lines:\n{err}");
    let m = read_json(&tmp.path().join("out/manifest.json"));
    for split in m["splits"].as_array().unwrap() {
        let (name, n) = (split["name"].as_str().unwrap(), split["inputs"].as_u64().unwrap());
        let done = format!("{name}: {n}/{n} images (100%)");
        assert!(lines.iter().any(|l| l.contains(&done) && l.contains("rejected in ")), "no {done:?} in:\n{err}");
    }
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(out.contains("split") && out.contains("images/s"), "summary table:\n{out}");

    let q = run_expect(cmd.arg("-q").args(["--set", "output.overwrite=true"]), 0);
    let err = String::from_utf8(q.stderr).unwrap();
    assert!(!err.contains("INFO") && !err.contains("images/s"), "--quiet prints no progress:\n{err}");
}

/// Masks of the first row of the first train shard: `[C][H][W]` 0/1 bytes and its image bytes.
fn first_row(out: &Path) -> (String, Vec<u8>, Vec<u8>) {
    let m = read_json(&out.join("manifest.json"));
    let shard = out.join(m["splits"][0]["shards"][0]["path"].as_str().unwrap());
    let mut r = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(shard).unwrap()).unwrap().build().unwrap();
    let b = r.next().unwrap().unwrap();
    let bin = |n: &str| b.column_by_name(n).unwrap().as_any().downcast_ref::<FixedSizeBinaryArray>().unwrap().clone();
    let id = b.column_by_name("image_id").unwrap().as_string::<i32>().value(0).to_string();
    (id, bin("image").value(0).to_vec(), bin("mask").value(0).to_vec())
}

#[test]
fn preview_png_has_the_expected_size_and_colour_exactly_where_the_masks_are() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, out) = small_run(tmp.path(), 5, &[]);
    let (id, image, mask) = first_row(&out);
    let png = tmp.path().join("one.png");
    run_expect(bin().arg("preview").arg(&out).args(["--id", &id, "--out"]).arg(&png), 0);
    let img = image::open(&png).unwrap().to_rgb8();
    assert_eq!((img.width() as usize, img.height() as usize), (W, H + CAPTION_PX as usize));
    let (mut inside, mut exact, mut outside, mut grey_kept) = (0, 0, 0, 0);
    for y in 0..H {
        for x in 0..W {
            let p = img.get_pixel(x as u32, (y + CAPTION_PX as usize) as u32).0;
            let covering: Vec<usize> = (0..20).filter(|c| mask[c * H * W + y * W + x] == 1).collect();
            let v = image[y * W + x];
            match covering.as_slice() {
                [] => {
                    outside += 1;
                    assert!(p[0] == p[1] && p[1] == p[2], "({x},{y}) outside every mask is coloured: {p:?}");
                    grey_kept += usize::from(p == [v; 3]);
                }
                [c] => {
                    inside += 1;
                    let col = palette(*c);
                    exact += usize::from(p == [blend(v, col[0]), blend(v, col[1]), blend(v, col[2])]);
                }
                _ => {}
            }
        }
    }
    assert!(inside > 200 && outside > 1000, "inside {inside}, outside {outside}");
    // Labels (black/white text) cover a few pixels; everything else is the exact overlay.
    assert!(exact as f64 > 0.8 * inside as f64, "{exact} of {inside} mask pixels have the label's blend");
    assert!(grey_kept as f64 > 0.9 * outside as f64, "{grey_kept} of {outside} background pixels unchanged");

    let sheet = tmp.path().join("sheet.png");
    run_expect(bin().arg("preview").arg(&out).args(["--n", "3", "--out"]).arg(&sheet), 0);
    let s = image::open(&sheet).unwrap();
    let gap = cxrshard::dataset::preview::GAP_PX as usize;
    assert_eq!((s.width() as usize, s.height() as usize), (2 * (W + gap) + gap, 2 * (H + 12 + gap) + gap));
    let o = run_expect(bin().arg("preview").arg(&out).args(["--id", "nope", "--out"]).arg(&sheet), 1);
    assert!(String::from_utf8_lossy(&o.stderr).contains("no row with image_id \"nope\""));
}

#[test]
fn inspect_counts_labels_from_the_masks_and_reports_splits() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, out) = small_run(tmp.path(), 7, &["output.shard_rows=2"]);
    let o = run_expect(bin().arg("inspect").arg(&out).arg("--json"), 0);
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(s["rows_read"], 7);
    assert_eq!(s["splits"][0]["name"], "train");
    let train = read_json(&data.join("Vindr_RibCXR_train_mask.json"));
    let val = read_json(&data.join("Vindr_RibCXR_val_mask.json"));
    for (c, l) in s["labels"].as_array().unwrap().iter().enumerate() {
        let name = l["label"].as_str().unwrap();
        let count = |a: &serde_json::Value| a[name].as_object().unwrap().values().filter(|v| v.is_array()).count();
        assert_eq!(l["present"].as_u64().unwrap() as usize, count(&train) + count(&val), "label {c} {name}");
        let area = l["mean_area_px"].as_f64().unwrap();
        assert!(area > 1.0 && area < (H * W) as f64, "{name}: mean area {area}");
    }
    assert!(s["schema"].as_array().unwrap().iter().any(|f| f == "mask: FixedSizeBinary(983040)"), "{s}");
    let text = run_expect(bin().arg("inspect").arg(&out), 0);
    let text = String::from_utf8(text.stdout).unwrap();
    for want in ["image     [256, 192] uint8", "data/train-00000-of-00003.parquet", "mean area px", "R10"] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    let o = run_expect(bin().arg("inspect").arg(tmp.path()), 1);
    assert!(String::from_utf8_lossy(&o.stderr).contains("manifest.json missing"));
}

#[test]
fn validate_reports_every_input_problem_with_its_location() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    synth(&data, 6, "dicom");
    let validate = || {
        let mut c = bin();
        c.arg("validate").arg(repo("pipelines/vindr-ribcxr-dicom.toml")).arg("--input").arg(&data);
        c.args(["--output", "unused"]);
        c
    };
    let o = run_expect(&mut validate(), 0);
    assert!(String::from_utf8_lossy(&o.stdout).contains("no problems found"));
    let img = data.join("data/train/img");
    let victim = std::fs::read_dir(&img).unwrap().map(|e| e.unwrap().path()).min().unwrap();
    std::fs::remove_file(&victim).unwrap();
    std::fs::write(img.join("stray.dcm"), b"x").unwrap();
    let ann = data.join("Vindr_RibCXR_val_mask.json");
    let text = std::fs::read_to_string(&ann).unwrap();
    let broken = text.replacen("\"x\":", "\"x\":\"oops\",\"q\":", 1);
    std::fs::write(&ann, broken).unwrap();
    let o = run_expect(&mut validate(), 1);
    let out = String::from_utf8(o.stdout).unwrap();
    let stem = victim.file_stem().unwrap().to_str().unwrap();
    assert!(out.contains("3 problem(s)"), "{out}");
    assert!(out.contains("Vindr_RibCXR_train_mask.json key \"0\"") && out.contains("image not found"), "{out}");
    assert!(out.contains(stem), "{out}");
    assert!(out.contains("stray.dcm: image file not referenced"), "{out}");
    assert!(out.contains("Vindr_RibCXR_val_mask.json key \"") && out.contains("annotation:"), "{out}");
    let bad = tmp.path().join("bad.toml");
    std::fs::write(&bad, "[input]\nroot = \"x\"\n[imag]\nsize = [1, 1]\n").unwrap();
    let o = run_expect(bin().arg("validate").arg(&bad), 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("did you mean `image`?"), "{o:?}");
}

/// The README's first command: `demo` makes its dataset once, runs the embedded pipeline on it
/// and leaves a complete, readable dataset; run again, it reuses the data and writes the same bytes.
#[test]
fn demo_generates_once_and_writes_a_complete_dataset() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("demo");
    let demo = || {
        let mut cmd = bin();
        cmd.args(["demo", "--n", "5", "--workdir"]).arg(&work);
        String::from_utf8(run_expect(&mut cmd, 0).stdout).unwrap()
    };
    let first = demo();
    assert!(first.contains("generating a synthetic dataset of 5 DICOM chest X-rays"), "{first}");
    assert!(first.contains("5 images in") && first.contains("look at it: cxrshard inspect"), "{first}");
    let out = work.join("out");
    let m = read_json(&out.join("manifest.json"));
    let splits = m["splits"].as_array().unwrap();
    let rows: u64 = splits.iter().map(|s| s["rows"].as_u64().unwrap()).sum();
    assert_eq!(rows, 5, "every generated image is a row: {m}");
    assert!(splits.iter().all(|s| s["rejects"].as_array().is_some_and(|r| r.is_empty())), "{m}");
    for shard in splits.iter().flat_map(|s| s["shards"].as_array().unwrap()) {
        let file = std::fs::File::open(out.join(shard["path"].as_str().unwrap())).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
        assert_eq!(reader.metadata().file_metadata().num_rows() as u64, shard["rows"].as_u64().unwrap());
    }
    let manifest = sha256(&out.join("manifest.json"));
    let again = demo();
    assert!(again.contains("using the synthetic dataset in") && !again.contains("generating"), "{again}");
    assert_eq!(sha256(&out.join("manifest.json")), manifest, "same data, same pipeline: same manifest");
}

#[test]
fn every_subcommand_help_has_an_example() {
    for cmd in ["synth", "run", "validate", "inspect", "preview", "demo"] {
        let o = run_expect(bin().args([cmd, "--help"]), 0);
        let help = String::from_utf8(o.stdout).unwrap();
        assert!(help.contains("Example") && help.contains(&format!("cxrshard {cmd} ")), "{cmd} --help:\n{help}");
    }
}

#[test]
fn inspect_and_preview_read_every_tensor_layout_alike() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    synth(&data, 4, "dicom");
    let mut stats = Vec::new();
    let mut pngs = Vec::new();
    for (name, sets) in
        [("binary", vec![]), ("nested", vec!["output.tensor_layout=nested"]), ("arrow", vec!["output.format=arrow"])]
    {
        let out = tmp.path().join(name);
        run_pipeline("pipelines/vindr-ribcxr-dicom.toml", &data, &out, &[&["image.size=[40,32]"][..], &sets].concat());
        let o = run_expect(bin().arg("inspect").arg(&out).arg("--json"), 0);
        let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(s["rows_read"], 4, "{name}");
        stats.push(s["labels"].clone());
        let png = tmp.path().join(format!("{name}.png"));
        run_expect(bin().arg("preview").arg(&out).args(["--n", "4", "--out"]).arg(&png), 0);
        pngs.push(std::fs::read(&png).unwrap());
    }
    assert_eq!(stats[0], stats[1], "nested layout gives other label statistics");
    assert_eq!(stats[0], stats[2], "arrow output gives other label statistics");
    assert!(pngs.iter().all(|p| p == &pngs[0]), "previews differ between layouts");
}
