//! `cxrshard decode` end to end: the real binary on synthetic DICOMs, re-encoded where a tool
//! is at hand, read back as NumPy `.npy` files. Reference parity with pydicom lives in
//! `tests/python/check_dicom_parity.py`.

mod common;

use common::{bin, run_expect, synth};
use std::path::Path;

/// A parsed `.npy`: dtype descr, shape, payload.
fn read_npy(path: &Path) -> (String, Vec<usize>, Vec<u8>) {
    let b = std::fs::read(path).expect("read npy");
    assert_eq!(&b[..8], b"\x93NUMPY\x01\x00", "npy magic and version 1.0");
    let hlen = u16::from_le_bytes([b[8], b[9]]) as usize;
    let header = std::str::from_utf8(&b[10..10 + hlen]).unwrap();
    let descr = header.split("'descr': '").nth(1).unwrap().split('\'').next().unwrap().to_string();
    let shape = header.split("'shape': (").nth(1).unwrap().split(')').next().unwrap();
    let shape = shape.split(',').filter(|s| !s.trim().is_empty()).map(|s| s.trim().parse().unwrap()).collect();
    (descr, shape, b[10 + hlen..].to_vec())
}

fn first_dicom(root: &Path) -> std::path::PathBuf {
    let dir = root.join("data/train/img");
    let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files.remove(0)
}

#[test]
fn decode_writes_npy_at_native_and_output_sizes() {
    let tmp = tempfile::tempdir().unwrap();
    synth(tmp.path(), 2, "dicom");
    let dcm = first_dicom(tmp.path());
    let npy = tmp.path().join("a.npy");
    run_expect(bin().arg("decode").arg(&dcm).arg("--out").arg(&npy).args(["--size", "64x48", "--dtype", "uint16"]), 0);
    let (descr, shape, data) = read_npy(&npy);
    assert_eq!((descr.as_str(), shape, data.len()), ("<u2", vec![64, 48], 64 * 48 * 2));
    run_expect(bin().arg("decode").arg(&dcm).arg("--out").arg(&npy).args(["--size", "native"]), 0);
    let (descr, shape, data) = read_npy(&npy);
    assert_eq!(descr, "|u1");
    assert!((160..=260).contains(&shape[0]) && (160..=260).contains(&shape[1]), "{shape:?}");
    assert!(data.iter().any(|&v| v > 200) && data.iter().any(|&v| v < 50), "a windowed CXR spans the range");
    // --raw: stored values, which fit in BitsStored (12 or 14) bits
    run_expect(bin().arg("decode").arg(&dcm).arg("--out").arg(&npy).arg("--raw"), 0);
    let (descr, raw_shape, raw) = read_npy(&npy);
    assert_eq!((descr.as_str(), &raw_shape), ("<u2", &shape));
    assert!(raw.chunks_exact(2).all(|c| u16::from_le_bytes([c[0], c[1]]) < 1 << 14));
}

#[test]
fn decode_writes_png_and_rejects_float_png() {
    let tmp = tempfile::tempdir().unwrap();
    synth(tmp.path(), 2, "dicom");
    let dcm = first_dicom(tmp.path());
    let png = tmp.path().join("a.png");
    run_expect(bin().arg("decode").arg(&dcm).arg("--out").arg(&png).args(["--size", "32x32"]), 0);
    let img = image::open(&png).expect("readable PNG");
    assert_eq!((img.width(), img.height()), (32, 32));
    let out = run_expect(bin().arg("decode").arg(&dcm).arg("--out").arg(&png).args(["--dtype", "float32"]), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("PNG cannot hold"));
}

#[test]
fn undecodable_input_is_an_error_naming_the_problem_not_a_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.dcm");
    std::fs::write(&bad, b"DICM but not really").unwrap();
    let out = run_expect(bin().arg("decode").arg(&bad).args(["--out", "x.npy"]), 1);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a readable DICOM Part 10 file") && !err.contains("panicked"), "{err}");
}

/// Re-encode with dcmtk when it is installed (CI installs it): the decoded stored values of
/// every lossless transfer syntax equal the uncompressed file's.
#[test]
fn lossless_transfer_syntaxes_decode_to_the_same_stored_values() {
    if std::process::Command::new("dcmcrle").arg("--version").output().is_err() {
        eprintln!("dcmtk not installed: skipped (tests/python/check_dicom_parity.py covers it in CI)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    synth(tmp.path(), 2, "dicom");
    let dcm = first_dicom(tmp.path());
    let raw = |path: &Path| {
        let npy = tmp.path().join("r.npy");
        run_expect(bin().arg("decode").arg(path).arg("--out").arg(&npy).arg("--raw"), 0);
        read_npy(&npy)
    };
    let reference = raw(&dcm);
    let encoders: [&[&str]; 6] = [
        &["dcmconv", "+tb"],
        &["dcmconv", "+td"],
        &["dcmcjpeg", "+e1"],
        &["dcmcjpeg", "+el", "+sv", "6"],
        &["dcmcjpls"],
        &["dcmcrle"],
    ];
    for cmd in encoders {
        let enc = tmp.path().join("enc.dcm");
        let st = std::process::Command::new(cmd[0]).args(&cmd[1..]).arg(&dcm).arg(&enc).status().unwrap();
        assert!(st.success(), "{cmd:?} failed");
        assert_eq!(raw(&enc), reference, "{cmd:?}");
    }
}
