//! End-to-end tests of [`generate`] on tiny datasets: determinism across thread counts, the
//! annotation JSON shape, DICOM/PNG read-back, and option validation.

use super::*;
use dicom_dictionary_std::tags;
use serde_json::Value;
use std::collections::BTreeMap;

/// A unique scratch folder removed on drop (no extra dev-dependency needed).
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("cxrshard-synth-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn small(out: &Path, format: SynthFormat, threads: usize) -> SynthOptions {
    SynthOptions {
        out: out.to_path_buf(),
        n: 10,
        seed: 42,
        format,
        min_side: 64,
        max_side: 96,
        threads,
        ..SynthOptions::default()
    }
}

/// All files under `dir`, keyed by path relative to `dir`.
fn read_tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap().to_path_buf();
                files.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

fn load_json(out: &Path, split: &str) -> serde_json::Map<String, Value> {
    let text = std::fs::read(out.join(format!("Vindr_RibCXR_{split}_mask.json"))).unwrap();
    match serde_json::from_slice(&text).unwrap() {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

fn polygon(v: &Value) -> Vec<(f64, f64)> {
    let pts = v.as_array().expect("polygon is a list");
    let coord = |p: &Value, k: &str| p[k].as_f64().expect("numeric coordinate");
    pts.iter().map(|p| (coord(p, "x"), coord(p, "y"))).collect()
}

/// Even-odd point-in-polygon test.
fn inside(pts: &[(f64, f64)], x: f64, y: f64) -> bool {
    let mut c = false;
    for (a, b) in pts.iter().zip(pts.iter().cycle().skip(1)) {
        if (a.1 <= y) != (b.1 <= y) && x < a.0 + (y - a.1) * (b.0 - a.0) / (b.1 - a.1) {
            c = !c;
        }
    }
    c
}

/// Mean display value over rib pixels and over the whole image.
fn rib_and_image_mean(display: &[f64], cols: usize, ribs: &[Vec<(f64, f64)>]) -> (f64, f64) {
    // Bounding boxes first: the even-odd test is slow in unoptimised test builds.
    let boxes: Vec<(f64, f64, f64, f64)> = ribs
        .iter()
        .map(|p| {
            let init = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
            p.iter().fold(init, |b, &(x, y)| (b.0.min(x), b.1.min(y), b.2.max(x), b.3.max(y)))
        })
        .collect();
    let in_rib = |x: f64, y: f64| {
        ribs.iter().zip(&boxes).any(|(p, b)| x >= b.0 && y >= b.1 && x <= b.2 && y <= b.3 && inside(p, x, y))
    };
    let (mut sum, mut n) = (0.0, 0usize);
    for (i, v) in display.iter().enumerate() {
        if in_rib((i % cols) as f64, (i / cols) as f64) {
            sum += v;
            n += 1;
        }
    }
    assert!(n > 0, "no rib pixels");
    (sum / n as f64, display.iter().sum::<f64>() / display.len() as f64)
}

/// Ribs of row `row` of a split's annotations.
fn ribs_of(ann: &serde_json::Map<String, Value>, row: &str) -> Vec<Vec<(f64, f64)>> {
    let keys = anatomy::RIB_KEYS.iter();
    keys.filter_map(|k| ann[*k][row].as_array().map(|_| polygon(&ann[*k][row]))).collect()
}

#[test]
fn output_is_identical_for_any_thread_count() {
    let (a, b) = (TempDir::new("det-a"), TempDir::new("det-b"));
    for format in [SynthFormat::Dicom, SynthFormat::Png] {
        let sa = generate(&small(&a.0, format, 1)).unwrap();
        let sb = generate(&small(&b.0, format, 3)).unwrap();
        assert_eq!((sa.train, sa.val, sa.bytes), (sb.train, sb.val, sb.bytes));
        let (ta, tb) = (read_tree(&a.0), read_tree(&b.0));
        assert_eq!(ta.len(), tb.len());
        assert!(ta == tb, "outputs differ between 1 and 3 threads ({format:?})");
    }
}

#[test]
fn json_has_vindr_shape() {
    let tmp = TempDir::new("json");
    let summary = generate(&small(&tmp.0, SynthFormat::Png, 2)).unwrap();
    assert_eq!((summary.train, summary.val), (8, 2));
    let mut nones = 0;
    for (split, count) in [("train", 8), ("val", 2)] {
        let ann = load_json(&tmp.0, split);
        let mut expected = vec!["img".to_owned()];
        expected.extend(anatomy::RIB_KEYS.iter().map(|k| k.to_string()));
        assert_eq!(ann.keys().cloned().collect::<Vec<_>>(), expected);
        for row in 0..count {
            let r = row.to_string();
            let rel = ann["img"][&r].as_str().unwrap();
            assert_eq!(rel, format!("data/{split}/img/VinDr_RibCXR_{split}_{row:03}.png"));
            let img = image::open(tmp.0.join(rel)).unwrap();
            let (w, h) = (f64::from(img.width()), f64::from(img.height()));
            for key in anatomy::RIB_KEYS {
                let cell = &ann[key][&r];
                if cell.as_str() == Some("None") {
                    nones += 1;
                    continue;
                }
                let pts = polygon(cell);
                assert!((20..=60).contains(&pts.len()), "{key}: {} points", pts.len());
                assert!(pts.iter().all(|&(x, y)| (0.0..w).contains(&x) && (0.0..h).contains(&y)));
            }
        }
        assert_eq!(ann["img"].as_object().unwrap().len(), count);
    }
    assert!(nones > 0, "expected a few missing ribs in 10 images");
}

#[test]
fn dicom_attributes_read_back() {
    let tmp = TempDir::new("dicom");
    let opts = SynthOptions { min_side: 128, max_side: 160, ..small(&tmp.0, SynthFormat::Dicom, 2) };
    generate(&opts).unwrap();
    let ann = load_json(&tmp.0, "train");
    for row in 0..8 {
        let rel = format!("data/train/img/VinDr_RibCXR_train_{row:03}.dcm");
        let obj = dicom_object::open_file(tmp.0.join(&rel)).unwrap();
        let int = |tag| obj.element(tag).unwrap().to_int::<u16>().unwrap();
        let text = |tag| obj.element(tag).unwrap().to_str().unwrap().trim().to_owned();
        let (rows, cols, bits) = (int(tags::ROWS), int(tags::COLUMNS), int(tags::BITS_STORED));
        assert!((128..=160).contains(&rows) && (128..=160).contains(&cols));
        assert!(bits == 12 || bits == 14);
        assert_eq!(int(tags::HIGH_BIT), bits - 1);
        assert_eq!(int(tags::BITS_ALLOCATED), 16);
        assert_eq!(text(tags::SOP_CLASS_UID), "1.2.840.10008.5.1.4.1.1.1.1");
        assert!(text(tags::PATIENT_ID).starts_with("SYNTH"));
        let photometric = text(tags::PHOTOMETRIC_INTERPRETATION);
        assert!(photometric == "MONOCHROME1" || photometric == "MONOCHROME2");
        let bytes = obj.element(tags::PIXEL_DATA).unwrap().to_bytes().unwrap();
        let stored: Vec<u16> = bytes.chunks_exact(2).map(|b| u16::from_le_bytes([b[0], b[1]])).collect();
        assert_eq!(stored.len(), usize::from(rows) * usize::from(cols));
        assert!(stored.iter().all(|&v| v < 1 << bits));
        assert!(stored.iter().any(|&v| v != stored[0]), "constant image");
        let display = to_display(&obj, &stored, photometric == "MONOCHROME1");
        let (rib, mean) = rib_and_image_mean(&display, usize::from(cols), &ribs_of(&ann, &row.to_string()));
        assert!(rib > mean, "{rel}: rib mean {rib} <= image mean {mean}");
    }
}

/// Modality LUT, first VOI window (or min-max), MONOCHROME1 inversion: display in [0, 1].
fn to_display(obj: &dicom_object::DefaultDicomObject, stored: &[u16], mono1: bool) -> Vec<f64> {
    let float = |tag, default: f64| obj.element_opt(tag).unwrap().map_or(default, |e| e.to_multi_float64().unwrap()[0]);
    let (slope, intercept) = (float(tags::RESCALE_SLOPE, 1.0), float(tags::RESCALE_INTERCEPT, 0.0));
    let values: Vec<f64> = stored.iter().map(|&v| f64::from(v) * slope + intercept).collect();
    let (min, max) = values.iter().fold((f64::MAX, f64::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    let centre = float(tags::WINDOW_CENTER, (min + max) / 2.0);
    let width = float(tags::WINDOW_WIDTH, (max - min).max(1.0));
    values
        .iter()
        .map(|v| ((v - (centre - width / 2.0)) / width).clamp(0.0, 1.0))
        .map(|d| if mono1 { 1.0 - d } else { d })
        .collect()
}

#[test]
fn png_decodes_with_bright_ribs() {
    let tmp = TempDir::new("png");
    let opts = SynthOptions { min_side: 128, max_side: 160, ..small(&tmp.0, SynthFormat::Png, 2) };
    generate(&opts).unwrap();
    let ann = load_json(&tmp.0, "val");
    for row in ["0", "1"] {
        let img = image::open(tmp.0.join(ann["img"][row].as_str().unwrap())).unwrap();
        assert_eq!(img.color(), image::ColorType::L8);
        let gray = img.to_luma8();
        let display: Vec<f64> = gray.as_raw().iter().map(|&v| f64::from(v)).collect();
        assert!(display.iter().any(|&v| v != display[0]), "constant image");
        let (rib, mean) = rib_and_image_mean(&display, gray.width() as usize, &ribs_of(&ann, row));
        assert!(rib > mean, "rib mean {rib} <= image mean {mean}");
    }
}

#[test]
fn formats_share_geometry() {
    let (a, b) = (TempDir::new("geo-a"), TempDir::new("geo-b"));
    generate(&small(&a.0, SynthFormat::Dicom, 2)).unwrap();
    generate(&small(&b.0, SynthFormat::Png, 2)).unwrap();
    for split in ["train", "val"] {
        let (ja, jb) = (load_json(&a.0, split), load_json(&b.0, split));
        for key in anatomy::RIB_KEYS {
            assert_eq!(ja[key], jb[key], "{split} {key}");
        }
    }
}

#[test]
fn seeds_change_output() {
    let (a, b) = (TempDir::new("seed-a"), TempDir::new("seed-b"));
    generate(&small(&a.0, SynthFormat::Png, 2)).unwrap();
    generate(&SynthOptions { seed: 43, ..small(&b.0, SynthFormat::Png, 2) }).unwrap();
    assert_ne!(read_tree(&a.0), read_tree(&b.0));
}

#[test]
fn invalid_options_are_config_errors() {
    let base = SynthOptions::default();
    let cases = [
        SynthOptions { n: 0, ..base.clone() },
        SynthOptions { min_side: 10, max_side: 20, ..base.clone() },
        SynthOptions { min_side: 300, max_side: 200, ..base.clone() },
        SynthOptions { max_side: 70_000, ..base.clone() },
        SynthOptions { val_fraction: 1.0, ..base.clone() },
        SynthOptions { val_fraction: -0.1, ..base.clone() },
        SynthOptions { val_fraction: f64::NAN, ..base.clone() },
    ];
    for opts in cases {
        match generate(&opts) {
            Err(Error::Config { problems, .. }) => assert_eq!(problems.len(), 1, "{problems:?}"),
            other => panic!("expected a config error for {opts:?}, got {other:?}"),
        }
    }
    let all_bad = SynthOptions { n: 0, min_side: 8, val_fraction: 2.0, ..base };
    match generate(&all_bad) {
        Err(Error::Config { problems, .. }) => assert_eq!(problems.len(), 3),
        other => panic!("expected a config error, got {other:?}"),
    }
}

#[test]
fn unwritable_output_is_io_error() {
    let tmp = TempDir::new("io");
    std::fs::create_dir_all(&tmp.0).unwrap();
    let file = tmp.0.join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    match generate(&small(&file, SynthFormat::Png, 1)) {
        Err(Error::Io { path, .. }) => assert!(path.starts_with(&file)),
        other => panic!("expected an I/O error, got {other:?}"),
    }
}

#[test]
fn val_fraction_zero_gives_empty_val_split() {
    let tmp = TempDir::new("noval");
    let opts = SynthOptions { n: 3, val_fraction: 0.0, ..small(&tmp.0, SynthFormat::Png, 0) };
    let summary = generate(&opts).unwrap();
    assert_eq!((summary.train, summary.val), (3, 0));
    assert!(load_json(&tmp.0, "val")["img"].as_object().unwrap().is_empty());
}
