//! Bad input, crashes and restarts: nothing lost, nothing leaked, nothing different.

mod common;

use common::dicom::{encode, with_unknown_transfer_syntax, Spec};
use common::*;
use dicom_core::VR;
use dicom_dictionary_std::tags;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

const DICOM: &str = "pipelines/vindr-ribcxr-dicom.toml";

/// Add rows to a split's annotation JSON: (img path, polygons JSON or "None" for all ribs).
fn add_rows(ann_path: &Path, rows: &[(&str, Value)]) {
    let mut ann = read_json(ann_path);
    let n = ann["img"].as_object().unwrap().len();
    let labels: Vec<String> = ann.as_object().unwrap().keys().filter(|k| *k != "img").cloned().collect();
    for (i, (img, r1)) in rows.iter().enumerate() {
        let key = (n + i).to_string();
        ann["img"][&key] = json!(img);
        for l in &labels {
            ann[l][&key] = if l == "R1" { r1.clone() } else { json!("None") };
        }
    }
    std::fs::write(ann_path, serde_json::to_vec(&ann).unwrap()).unwrap();
}

fn square() -> Value {
    json!([{"x": 10, "y": 10}, {"x": 60, "y": 10}, {"x": 60, "y": 60}, {"x": 10, "y": 60}])
}

/// A dataset with one bad input of every kind next to good ones; returns (dir, good inputs).
fn bad_corpus(tmp: &Path) -> (std::path::PathBuf, usize) {
    let data = tmp.join("data");
    synth(&data, 6, "dicom");
    let img = data.join("data/train/img");
    let good = encode(&Spec::gradient(120, 100));
    let truncated = good[..good.len() / 2].to_vec();
    let no_pixels = encode(&Spec { pixels: None, ..Spec::gradient(120, 100) });
    let zero = encode(&Spec { rows: 0, pixels: Some(vec![]), ..Spec::gradient(120, 100) });
    let absurd = encode(&Spec { rows: 65535, cols: 65535, pixels: Some(vec![0; 64]), ..Spec::gradient(8, 8) });
    let colour = encode(&Spec { samples_per_pixel: 3, photometric: "RGB", ..Spec::gradient(120, 100) });
    let files: [(&str, Vec<u8>); 9] = [
        ("good_extra.dcm", good.clone()),
        ("truncated.dcm", truncated),
        ("not_dicom.dcm", b"this is not a DICOM file".to_vec()),
        ("no_pixels.dcm", no_pixels),
        ("zero_rows.dcm", zero),
        ("absurd.dcm", absurd),
        ("unknown_ts.dcm", with_unknown_transfer_syntax(good)),
        ("colour.dcm", colour),
        ("corrupt.png", b"\x89PNG\r\n\x1a\n garbage garbage".to_vec()),
    ];
    for (name, bytes) in &files {
        std::fs::write(img.join(name), bytes).unwrap();
    }
    std::fs::write(img.join("stray_unreferenced.dcm"), b"x").unwrap();
    // Not beside the images: neither unreferenced nor an input.
    std::fs::create_dir_all(img.join("thumbs")).unwrap();
    std::fs::write(img.join("thumbs/good_0.dcm"), b"x").unwrap();
    let far = json!([{"x": -50, "y": 10}, {"x": 5000, "y": 10}, {"x": 100, "y": 90000}]);
    let nan = json!([{"x": 1, "y": 1}, {"x": 2, "y": 2}, {"x": 3, "y": 3}]);
    let rows: Vec<(String, Value)> = files
        .iter()
        .map(|(n, _)| (format!("data/train/img/{n}"), square()))
        .chain([
            ("data/train/img/missing.dcm".to_string(), square()),
            ("data/train/img/good_extra.dcm".to_string(), square()), // duplicate id
            ("data/train/img/two_points.dcm".to_string(), json!([{"x": 1, "y": 1}, {"x": 2, "y": 2}])),
            ("data/train/img/nan.dcm".to_string(), nan),
            ("data/train/img/far.dcm".to_string(), far),
        ])
        .collect();
    std::fs::write(img.join("two_points.dcm"), encode(&Spec::gradient(64, 64))).unwrap();
    std::fs::write(img.join("nan.dcm"), encode(&Spec::gradient(64, 64))).unwrap();
    std::fs::write(img.join("far.dcm"), encode(&Spec::gradient(64, 64))).unwrap();
    let ann = data.join("Vindr_RibCXR_train_mask.json");
    add_rows(&ann, &rows.iter().map(|(a, b)| (a.as_str(), b.clone())).collect::<Vec<_>>());
    let synth_train = read_json(&ann)["img"].as_object().unwrap().len() - rows.len();
    // Python's json module writes NaN as a bare token: put one in as a user's file would have it.
    let text = std::fs::read_to_string(&ann).unwrap();
    let text = text.replacen(
        "{\"x\":1,\"y\":1},{\"x\":2,\"y\":2},{\"x\":3,\"y\":3}",
        "{\"x\":NaN,\"y\":1},{\"x\":2,\"y\":2},{\"x\":3,\"y\":3}",
        1,
    );
    std::fs::write(&ann, text).unwrap();
    // good: the synthetic train images, good_extra and far (clipped, still a row)
    (data, synth_train + 2)
}

#[test]
fn every_bad_input_is_rejected_with_a_reason_and_every_good_one_is_a_row() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, good_train) = bad_corpus(tmp.path());
    let out = tmp.path().join("out");
    let pipeline = tmp.path().join("auto.toml");
    std::fs::write(&pipeline, "[input]\nformat = \"auto\"\n[image]\nsize = [32, 32]\n[output]\nshard_rows = 4\n")
        .unwrap();
    let o = run_pipeline_code(pipeline.to_str().unwrap(), &data, &out, &[], 3);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    let m = read_json(&out.join("manifest.json"));
    let train = &m["splits"][0];
    assert_eq!(train["rows"].as_u64().unwrap() as usize, good_train, "{train:#}");
    assert_eq!(
        train["rows"].as_u64().unwrap() + train["rejected"].as_u64().unwrap(),
        train["inputs"].as_u64().unwrap()
    );
    let reason = |name: &str| -> (String, String) {
        let r = train["rejects"].as_array().unwrap().iter().find(|r| r["source"].as_str().unwrap().ends_with(name));
        let r = r.unwrap_or_else(|| panic!("{name} not among the rejects: {:#}", train["rejects"]));
        (r["stage"].as_str().unwrap().to_string(), r["reason"].as_str().unwrap().to_string())
    };
    let expect = [
        ("truncated.dcm", "decode", ""),
        ("not_dicom.dcm", "decode", "not a readable DICOM"),
        ("no_pixels.dcm", "decode", "no Pixel Data"),
        ("zero_rows.dcm", "decode", "image is 0x100"),
        ("absurd.dcm", "decode", "65535x65535"),
        ("unknown_ts.dcm", "decode", "1.2.840.10008.9.9.9"),
        ("colour.dcm", "decode", "colour image"),
        ("corrupt.png", "decode", "image"),
        ("missing.dcm", "read", "not found"),
        ("two_points.dcm", "annotation", "2 point(s), expected at least 3"),
        ("nan.dcm", "annotation", "point 0"),
    ];
    for (name, stage, needle) in expect {
        let (s, r) = reason(name);
        assert_eq!(s, stage, "{name}: {r}");
        assert!(r.contains(needle), "{name}: reason {r:?} should mention {needle:?}");
    }
    let dup = train["rejects"].as_array().unwrap().iter().find(|r| r["reason"].as_str().unwrap().contains("duplicate"));
    assert!(dup.is_some(), "duplicate id rejected: {:#}", train["rejects"]);
    assert_eq!(train["rejected"].as_u64().unwrap(), 12);
    assert_eq!(train["clipped_points"].as_u64().unwrap(), 3, "far.dcm has three vertices outside its 64x64 image");
    let stray: Vec<&str> = m["unreferenced_images"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(stray, ["data/train/img/stray_unreferenced.dcm"], "files directly beside the images only");
}

#[test]
fn max_rejects_fails_the_run_without_a_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, _) = bad_corpus(tmp.path());
    let out = tmp.path().join("out");
    let mut cmd = run_cmd(DICOM, &data, &out, &["input.format=auto", "image.size=[32,32]"]);
    let o = run_expect(cmd.args(["--max-rejects", "5"]), 1);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("more than the limit of 5"), "{err}");
    assert!(!out.join("manifest.json").exists());
    let mut cmd = run_cmd(DICOM, &data, &out, &["input.format=auto", "image.size=[32,32]"]);
    run_expect(cmd.args(["--max-rejects", "90%"]), 3);
    assert!(out.join("manifest.json").exists());
}

#[test]
fn malformed_annotation_files_fail_fast_with_the_location() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    synth(&data, 3, "dicom");
    let val = data.join("Vindr_RibCXR_val_mask.json");
    std::fs::write(&val, "{\"img\": {\"0\": \"a.dcm\",\n \"1\": }").unwrap();
    let out = tmp.path().join("out");
    let o = run_pipeline_code(DICOM, &data, &out, &[], 1);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("Vindr_RibCXR_val_mask.json") && err.contains("line 2"), "{err}");
    assert!(!out.join("data").exists() || std::fs::read_dir(out.join("data")).unwrap().count() == 0, "nothing written");
    std::fs::write(&val, "[1, 2, 3]").unwrap();
    let o = run_pipeline_code(DICOM, &data, &out, &[], 1);
    assert!(String::from_utf8_lossy(&o.stderr).contains("expected a JSON object of columns"));
}

#[test]
fn patient_attributes_never_reach_outputs_or_logs() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    synth(&data, 3, "dicom");
    let secret = [
        (tags::PATIENT_NAME, VR::PN, "Doe^Jane^Secret"),
        (tags::PATIENT_ID, VR::LO, "PID-99887766"),
        (tags::PATIENT_BIRTH_DATE, VR::DA, "19451231"),
        (tags::INSTITUTION_NAME, VR::LO, "St Secret Hospital"),
        (tags::ACCESSION_NUMBER, VR::SH, "ACC-5544332211"),
        (tags::IMAGE_COMMENTS, VR::LT, "free text about the patient"),
        (tags::STUDY_INSTANCE_UID, VR::UI, "1.2.826.0.1.3680043.2.999.123456789"),
    ];
    let dcm = encode(&Spec { extra: secret.to_vec(), ..Spec::gradient(200, 180) });
    std::fs::write(data.join("data/train/img/patient.dcm"), dcm).unwrap();
    add_rows(&data.join("Vindr_RibCXR_train_mask.json"), &[("data/train/img/patient.dcm", square())]);
    let out = tmp.path().join("out");
    let o = run_expect(run_cmd(DICOM, &data, &out, &["image.size=[32,32]"]).arg("-vv"), 0);
    let mut haystack = [o.stdout, o.stderr].concat();
    for entry in walk(&out) {
        haystack.extend(std::fs::read(entry).unwrap());
    }
    let text = String::from_utf8_lossy(&haystack);
    for (_, _, value) in secret {
        assert!(!text.contains(value), "{value:?} leaked into the output or logs");
    }
    for leaked in ["Synthetic^", "SYNTH0", "19700101"] {
        assert!(!text.contains(leaked), "{leaked:?} (synthetic patient data) leaked");
    }
    assert!(read_json(&out.join("manifest.json"))["splits"][0]["rows"].as_u64().unwrap() >= 1);
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Count committed shard journal records.
fn committed(out: &Path) -> usize {
    std::fs::read_dir(out.join("_cxrshard/shards")).map(|d| d.count()).unwrap_or(0)
}

#[test]
fn killed_runs_resume_to_the_same_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    run_expect(
        bin()
            .args(["synth", "--n", "30", "--seed", "11", "--min-side", "900", "--max-side", "1200", "--out"])
            .arg(&data),
        0,
    );
    let sets =
        ["output.shard_rows=2", "output.row_group_rows=1", "image.size=[64,64]", "run.workers=1", "run.in_flight=1"];
    let clean = tmp.path().join("clean");
    run_pipeline(DICOM, &data, &clean, &sets);
    let crashed = tmp.path().join("crashed");
    let mut interrupted = 0;
    for kill_after in [1, 4, 9] {
        let mut child = run_cmd(DICOM, &data, &crashed, &sets)
            .arg("--resume")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let t0 = Instant::now();
        while committed(&crashed) < kill_after && t0.elapsed() < Duration::from_secs(60) {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        if !crashed.join("manifest.json").exists() {
            interrupted += 1;
        }
    }
    assert!(interrupted >= 2, "the kills should land mid-run (interrupted {interrupted} of 3)");
    run_expect(run_cmd(DICOM, &data, &crashed, &sets).arg("--resume"), 0);
    assert_same_dataset(&clean, &crashed);
    let leftovers: Vec<_> = std::fs::read_dir(crashed.join("data"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().contains('#'))
        .collect();
    assert!(leftovers.is_empty(), "staging files left behind: {leftovers:?}");
}
