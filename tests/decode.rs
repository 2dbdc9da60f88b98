//! `cxrshard decode` end to end: the real binary on synthetic DICOMs, re-encoded where a tool
//! is at hand, read back as NumPy `.npy` files. Reference parity with pydicom lives in
//! `tests/python/check_dicom_parity.py`.

mod common;

use common::dicom::{encode_encapsulated, encode_with, Spec};
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

/// A synthetic 12-bit frame: a ramp with a ripple, 96 rows × 128 columns, values 50..=3800.
fn source_12bit() -> (usize, usize, Vec<u16>) {
    let (rows, cols) = (96, 128);
    let v = |y: f64, x: f64| 200.0 + 24.0 * x + 4.0 * y + 150.0 * (x / 6.0).sin() * (y / 8.0).cos();
    let pixels = (0..rows * cols).map(|i| v((i / cols) as f64, (i % cols) as f64).round() as u16).collect();
    (rows, cols, pixels)
}

/// A 12-bit lossy JPEG (SOF1, JPEG Extended Process 4) of a greyscale frame, quality 90, by
/// libjpeg-turbo's encoder (the crate's own dependency, so no tool needs installing; dcmtk's
/// encoder is covered by tests/python/check_dicom_parity.py).
fn jpeg12(pixels: &[u16], rows: usize, cols: usize) -> Vec<u8> {
    use std::ffi::c_int;
    use turbojpeg_sys as tj;
    let src: Vec<i16> = pixels.iter().map(|&v| v as i16).collect();
    // SAFETY: a fresh handle; `src` holds rows × cols grey samples; the output buffer is
    // allocated by the library and freed with tj3Free after copying.
    unsafe {
        let h = tj::tj3Init(tj::TJINIT_TJINIT_COMPRESS as c_int);
        assert!(!h.is_null());
        assert_eq!(tj::tj3Set(h, tj::TJPARAM_TJPARAM_QUALITY as c_int, 90), 0);
        assert_eq!(tj::tj3Set(h, tj::TJPARAM_TJPARAM_SUBSAMP as c_int, tj::TJSAMP_TJSAMP_GRAY as c_int), 0);
        let (mut buf, mut size) = (std::ptr::null_mut(), 0);
        let rc = tj::tj3Compress12(
            h,
            src.as_ptr(),
            cols as c_int,
            0,
            rows as c_int,
            tj::TJPF_TJPF_GRAY as c_int,
            &mut buf,
            &mut size,
        );
        assert_eq!(rc, 0, "tj3Compress12");
        let out = std::slice::from_raw_parts(buf, size as usize).to_vec();
        tj::tj3Free(buf.cast());
        tj::tj3Destroy(h);
        out
    }
}

const JPEG_EXTENDED: &str = "1.2.840.10008.1.2.4.51";

/// Largest stored-value error accepted for the quality-90 12-bit JPEG of `source_12bit` (0.5 % of
/// the 12-bit range; a decoder that drops the 4 low bits or decodes 8-bit would be off by more).
const JPEG12_TOLERANCE: i32 = 20;

fn write_jpeg12_dicom(dir: &Path, name: &str, rows: u16, stream: Vec<u8>) -> std::path::PathBuf {
    let spec = Spec { rows, cols: 128, samples_per_pixel: 1, photometric: "MONOCHROME2", pixels: None, extra: vec![] };
    let path = dir.join(name);
    std::fs::write(&path, encode_encapsulated(&spec, JPEG_EXTENDED, stream)).unwrap();
    path
}

#[test]
fn jpeg_extended_12_bit_decodes_to_the_source_pixels_within_the_lossy_tolerance() {
    let tmp = tempfile::tempdir().unwrap();
    let (rows, cols, source) = source_12bit();
    let stream = jpeg12(&source, rows, cols);
    let sof1_12bit_grey = [0xFF, 0xC1, 0x00, 0x0B, 0x0C];
    assert!(stream.windows(5).any(|w| w == sof1_12bit_grey), "an SOF1 (extended sequential), 12-bit frame");
    let dcm = write_jpeg12_dicom(tmp.path(), "j12.dcm", rows as u16, stream);
    let npy = tmp.path().join("r.npy");
    run_expect(bin().arg("decode").arg(&dcm).arg("--out").arg(&npy).arg("--raw"), 0);
    let (descr, shape, data) = read_npy(&npy);
    assert_eq!((descr.as_str(), shape), ("<u2", vec![rows, cols]));
    let raw: Vec<i32> = data.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]) as i32).collect();
    let errors: Vec<i32> = raw.iter().zip(&source).map(|(&r, &s)| (r - s as i32).abs()).collect();
    let max_error = *errors.iter().max().unwrap();
    let mean_error = errors.iter().sum::<i32>() as f64 / errors.len() as f64;
    assert!(max_error <= JPEG12_TOLERANCE && mean_error < 3.0, "max {max_error}, mean {mean_error:.2}");
    assert!(*raw.iter().max().unwrap() > 3500, "the full 12-bit range comes back");
    // the display chain on top: window 2048/4096 (PS3.3 C.11.2.1.2) of the source, within the
    // lossy error scaled to 8 bits, plus one level of rounding
    run_expect(bin().arg("decode").arg(&dcm).arg("--out").arg(&npy).args(["--size", "native"]), 0);
    let (descr, _, shown) = read_npy(&npy);
    assert_eq!(descr, "|u1");
    let window = |x: f64| (((x - 2047.5) / 4095.0 + 0.5).clamp(0.0, 1.0) * 255.0).round() as i32;
    let worst = shown.iter().zip(&source).map(|(&d, &s)| (d as i32 - window(s as f64)).abs()).max().unwrap();
    assert!(worst <= 1 + JPEG12_TOLERANCE * 255 / 4095, "display differs from the source's by {worst}");
}

#[test]
fn truncated_or_mismatched_12_bit_jpeg_is_a_reject_naming_the_syntax_not_a_crash() {
    let tmp = tempfile::tempdir().unwrap();
    let (rows, cols, source) = source_12bit();
    let stream = jpeg12(&source, rows, cols);
    let cases = [
        ("truncated.dcm", rows as u16, stream[..stream.len() / 2].to_vec(), "Premature end of JPEG file"),
        ("rows.dcm", 2 * rows as u16, stream.clone(), "the JPEG codestream is 96x128 (rows x columns)"),
        ("garbage.dcm", rows as u16, b"\xFF\xD8\xFF\xC1 not a JPEG".to_vec(), "libjpeg-turbo"),
    ];
    for (name, header_rows, stream, expected) in cases {
        let dcm = write_jpeg12_dicom(tmp.path(), name, header_rows, stream);
        let out = run_expect(bin().arg("decode").arg(&dcm).args(["--out", "x.npy"]), 1);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(JPEG_EXTENDED) && err.contains(expected) && !err.contains("panicked"), "{name}: {err}");
    }
}

/// PALETTE COLOR with `image.color = "luma"`: indices through the three LUTs, then Rec. 601 luma;
/// rejected by default.
#[test]
fn palette_color_is_rejected_by_default_and_converted_to_luma_on_request() {
    use dicom_core::{DataElement, PrimitiveValue, VR};
    use dicom_dictionary_std::tags;
    let tmp = tempfile::tempdir().unwrap();
    // 4 x 4 indices 0..=15; red rises, blue falls, green is a step at index 8; first mapped = 0
    let red: Vec<u16> = (0..16).map(|i| i * 4000).collect();
    let green: Vec<u16> = (0..16).map(|i| if i < 8 { 0 } else { 30000 }).collect();
    let blue: Vec<u16> = (0..16).map(|i| 65535 - i * 4000).collect();
    let lut = |desc, data, v: &Vec<u16>| {
        [
            DataElement::new(desc, VR::US, PrimitiveValue::from([16u16, 0, 16])),
            DataElement::new(data, VR::OW, PrimitiveValue::U16(v.iter().copied().collect())),
        ]
    };
    let mut more = Vec::new();
    more.extend(lut(tags::RED_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR, tags::RED_PALETTE_COLOR_LOOKUP_TABLE_DATA, &red));
    more.extend(lut(
        tags::GREEN_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR,
        tags::GREEN_PALETTE_COLOR_LOOKUP_TABLE_DATA,
        &green,
    ));
    more.extend(lut(
        tags::BLUE_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR,
        tags::BLUE_PALETTE_COLOR_LOOKUP_TABLE_DATA,
        &blue,
    ));
    let spec = Spec {
        rows: 4,
        cols: 4,
        samples_per_pixel: 1,
        photometric: "PALETTE COLOR",
        pixels: Some((0..16).collect()),
        extra: vec![],
    };
    let dcm = tmp.path().join("palette.dcm");
    std::fs::write(&dcm, encode_with(&spec, more)).unwrap();
    let npy = tmp.path().join("p.npy");
    let out = run_expect(bin().arg("decode").arg(&dcm).arg("--out").arg(&npy), 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("PALETTE COLOR) and image.color = \"reject\""));
    run_expect(bin().arg("decode").arg(&dcm).arg("--out").arg(&npy).args(["--raw", "--set", "image.color=luma"]), 0);
    let (descr, shape, data) = read_npy(&npy);
    assert_eq!((descr.as_str(), shape), ("<u2", vec![4, 4]));
    let grey: Vec<u16> = data.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
    let expected: Vec<u16> = (0..16)
        .map(|i| (0.299 * red[i] as f64 + 0.587 * green[i] as f64 + 0.114 * blue[i] as f64).round() as u16)
        .collect();
    assert_eq!(grey, expected);
    // by hand: 0.114 × 65535; 0.299 × 32000 + 0.587 × 30000 + 0.114 × 33535
    assert_eq!((grey[0], grey[8]), (7471, 31001));
}

/// The in-place path (samples viewed in the file's buffer) gives exactly the copying path's
/// image, and falls back to a copy when the buffer leaves the samples unaligned.
#[test]
fn samples_read_in_place_equal_the_copied_samples() {
    use cxrshard::source::decode::{decode_dicom, decode_dicom_bytes, DecodeOptions};
    use cxrshard::source::image::Samples;
    let tmp = tempfile::tempdir().unwrap();
    synth(tmp.path(), 1, "dicom");
    let file = std::fs::read(first_dicom(tmp.path())).unwrap();
    let opts = DecodeOptions::default();
    let copied = decode_dicom(&file, &opts).unwrap();
    let in_place = decode_dicom_bytes(&bytes::Bytes::from(file.clone()), &opts).unwrap();
    assert_eq!(in_place, copied);
    let Samples::U16(words) = &in_place.samples else { panic!("synthetic DICOMs are 16-bit") };
    assert!(words.is_shared(), "a native little-endian frame is read in place");
    // The same file one byte into a buffer: its samples are now at an odd address.
    let mut shifted = vec![0u8];
    shifted.extend_from_slice(&file);
    let shifted = bytes::Bytes::from(shifted).slice(1..);
    let copy = decode_dicom_bytes(&shifted, &opts).unwrap();
    let Samples::U16(words) = &copy.samples else { panic!("16-bit") };
    assert!(!words.is_shared(), "unaligned samples are copied");
    assert_eq!(copy, copied);
}

/// A native frame's samples come from the top-level Pixel Data element, never from a Pixel
/// Data nested in a sequence before it: here an Icon Image Sequence (0088,0200) holds an icon
/// as large as the image itself, of other values, ahead of the image's own Pixel Data.
#[test]
fn samples_come_from_the_top_level_pixel_data_not_an_icon_before_it() {
    use cxrshard::source::decode::{decode_dicom, decode_dicom_bytes, DecodeOptions};
    use cxrshard::source::image::Samples;
    use dicom_core::value::DataSetSequence;
    use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
    use dicom_dictionary_std::tags;
    use dicom_object::InMemDicomObject;
    let spec = Spec::gradient(8, 8);
    let image = spec.pixels.clone().unwrap();
    let icon_values: Vec<u16> = vec![4095; 64];
    let icon = InMemDicomObject::from_element_iter([
        DataElement::new(tags::ROWS, VR::US, PrimitiveValue::from(8u16)),
        DataElement::new(tags::COLUMNS, VR::US, PrimitiveValue::from(8u16)),
        DataElement::new(tags::PIXEL_DATA, VR::OW, PrimitiveValue::U16(icon_values.iter().copied().collect())),
    ]);
    let sequence = DataElement::new(Tag(0x0088, 0x0200), VR::SQ, DataSetSequence::from(vec![icon]));
    let file = encode_with(&spec, vec![sequence]);
    let icon_at = file.windows(4).position(|w| w == [0xE0, 0x7F, 0x10, 0x00]).unwrap();
    let image_at = file.windows(4).rposition(|w| w == [0xE0, 0x7F, 0x10, 0x00]).unwrap();
    assert!(icon_at < image_at, "the icon's Pixel Data comes first in the file");
    let opts = DecodeOptions::default();
    for decoded in [decode_dicom(&file, &opts).unwrap(), decode_dicom_bytes(&bytes::Bytes::from(file), &opts).unwrap()]
    {
        let Samples::U16(words) = &decoded.samples else { panic!("16-bit samples") };
        assert_eq!(&words[..], &image[..]);
    }
}

/// An RLE Lossless frame whose header is cut short or counts other segments than a sample has
/// bytes is a reject naming the header. (`dicom-pixeldata`, which decoded RLE before, allocated
/// an offset per counted segment, up to 16 GiB for four bytes of garbage, found by the
/// `dicom_header` fuzz target.)
#[test]
fn rle_frame_with_a_bad_header_is_a_reject_not_a_huge_allocation() {
    use cxrshard::source::decode::{decode_dicom, DecodeOptions};
    const RLE_LOSSLESS: &str = "1.2.840.10008.1.2.5";
    let spec = Spec { pixels: None, ..Spec::gradient(16, 16) };
    let mut counted = vec![0u8; 64];
    counted[..4].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    let mut none = vec![0u8; 64];
    none[..4].copy_from_slice(&0u32.to_le_bytes());
    let cases = [
        (counted, "frame 0's header says 4294967280 segments, expected 2 (1 sample(s) of 2 byte(s)"),
        (none, "frame 0's header says 0 segments, expected 2"),
        (vec![1, 0, 0, 0, 64, 0, 0, 0], "frame 0 is 8 bytes, shorter than the 64-byte RLE header"),
    ];
    for (fragment, expected) in cases {
        let file = encode_encapsulated(&spec, RLE_LOSSLESS, fragment);
        let err = decode_dicom(&file, &DecodeOptions::default()).unwrap_err().to_string();
        assert!(err.contains(expected), "{err}");
    }
    // A well-formed header is decoded: 16-bit samples are two segments, high bytes then low
    // bytes, each 256 bytes as two PackBits literal runs of 128.
    let values: Vec<u16> = (0..256u16).map(|i| (i * 37) % 4096).collect();
    let segment = |byte: fn(u16) -> u8| -> Vec<u8> {
        values.chunks(128).flat_map(|run| std::iter::once(127).chain(run.iter().map(|&v| byte(v)))).collect()
    };
    let fragment = rle_frame(segment(|v| (v >> 8) as u8), segment(|v| v as u8));
    let file = encode_encapsulated(&spec, RLE_LOSSLESS, fragment);
    let image = decode_dicom(&file, &DecodeOptions::default()).unwrap();
    let cxrshard::source::image::Samples::U16(words) = &image.samples else { panic!("16-bit samples") };
    assert_eq!(&words[..], &values[..]);
}

/// An RLE fragment of a 16-bit frame: two segments, each a value's high or low byte of `runs`,
/// a list of (value, pixels) written as PackBits runs of up to 128.
fn rle_fragment(runs: &[(u16, usize)]) -> Vec<u8> {
    let segment = |byte: fn(u16) -> u8| -> Vec<u8> {
        let mut out = Vec::new();
        for &(v, n) in runs {
            let mut left = n;
            while left > 0 {
                let k = left.min(128);
                out.extend([(257 - k) as u8, byte(v)]);
                left -= k;
            }
        }
        out
    };
    rle_frame(segment(|v| (v >> 8) as u8), segment(|v| v as u8))
}

/// An RLE frame of a 16-bit image: its header, then the segments of the high and low bytes.
fn rle_frame(high: Vec<u8>, low: Vec<u8>) -> Vec<u8> {
    let mut frame = vec![0u8; 64];
    frame[..4].copy_from_slice(&2u32.to_le_bytes());
    frame[4..8].copy_from_slice(&64u32.to_le_bytes());
    frame[8..12].copy_from_slice(&(64 + high.len() as u32).to_le_bytes());
    frame.extend(high);
    frame.extend(low);
    frame
}

/// A near-blank CXR-sized RLE frame compressed ~64:1 decodes to its samples: `dicom-pixeldata`
/// refused any frame of 16 MiB or more compressed past 32:1 ("Could not allocate frame"), and
/// pydicom decodes it. A segment that decodes short is a reject naming it, as pydicom's is.
#[test]
fn rle_compressed_past_32_to_1_decodes_and_a_short_segment_is_a_reject() {
    use cxrshard::source::decode::{decode_dicom, DecodeOptions};
    const RLE_LOSSLESS: &str = "1.2.840.10008.1.2.5";
    let (rows, cols) = (3000usize, 3000usize);
    let spec = Spec { pixels: None, ..Spec::gradient(rows as u16, cols as u16) };
    // the top third 1000, the rest 3000 (above 255: both bytes vary)
    let runs = [(1000u16, rows * cols / 3), (3000, rows * cols - rows * cols / 3)];
    let fragment = rle_fragment(&runs);
    assert!(rows * cols * 2 / fragment.len() >= 60, "{} bytes", fragment.len());
    let image = decode_dicom(&encode_encapsulated(&spec, RLE_LOSSLESS, fragment), &DecodeOptions::default()).unwrap();
    let cxrshard::source::image::Samples::U16(words) = &image.samples else { panic!("16-bit samples") };
    assert_eq!(words.len(), rows * cols);
    assert!(words[..rows * cols / 3].iter().all(|&w| w == 1000) && words[rows * cols / 3..].iter().all(|&w| w == 3000));
    // a pixel short
    let short = rle_fragment(&[(1000, rows * cols - 1)]);
    let err = decode_dicom(&encode_encapsulated(&spec, RLE_LOSSLESS, short), &DecodeOptions::default()).unwrap_err();
    let expected = "segment 1 of frame 0 decodes to 8999999 bytes, 9000000 expected";
    assert!(err.to_string().contains(expected), "{err}");
}

/// A compressed frame whose own frame header declares another size than Rows and Columns is a
/// reject naming both, before a codec sizes its output from it: a 900-byte lossless JPEG whose
/// header said 16384 x 16384 under a 16 x 16 DICOM took 1.75 GB, a JPEG 2000 one 1.24 GB.
#[test]
fn codestream_declaring_another_frame_than_the_header_is_a_reject_before_decoding() {
    use cxrshard::source::decode::{decode_dicom, DecodeOptions};
    let spec = Spec { pixels: None, ..Spec::gradient(16, 16) };
    let jpeg = |marker: u8, rows: u16, cols: u16| -> Vec<u8> {
        let mut s = vec![0xFF, 0xD8, 0xFF, marker, 0, 11, 16];
        s.extend(rows.to_be_bytes());
        s.extend(cols.to_be_bytes());
        s.extend([1, 1, 0x11, 0, 0xFF, 0xDA, 0, 8, 1, 1, 0, 1, 0, 0, 0xFF, 0xD9]);
        s
    };
    let j2k = |size: u32, components: u16| -> Vec<u8> {
        let mut s = vec![0xFF, 0x4F, 0xFF, 0x51, 0, 41, 0, 0];
        for v in [size, size, 0, 0, size, size, 0, 0] {
            s.extend(v.to_be_bytes());
        }
        s.extend(components.to_be_bytes());
        s.extend([7, 1, 1, 0xFF, 0xD9, 0]);
        s
    };
    let big = "16384x16384 (rows x columns), the header says 16x16";
    let cases = [
        ("1.2.840.10008.1.2.4.70", jpeg(0xC3, 16384, 16384), format!("the JPEG codestream is {big}")),
        ("1.2.840.10008.1.2.4.57", jpeg(0xC3, 16, 9), "the JPEG codestream is 16x9".to_string()),
        ("1.2.840.10008.1.2.4.80", jpeg(0xF7, 16384, 16384), format!("the JPEG codestream is {big}")),
        ("1.2.840.10008.1.2.4.90", j2k(16384, 1), format!("the JPEG 2000 codestream is {big}")),
        (
            "1.2.840.10008.1.2.4.91",
            j2k(16, 3),
            "the JPEG 2000 codestream has 3 components, the header says SamplesPerPixel 1".into(),
        ),
        ("1.2.840.10008.1.2.4.201", j2k(16384, 1), format!("the JPEG 2000 codestream is {big}")),
        (
            "1.2.840.10008.1.2.4.81",
            vec![0xFF, 0xD8, 0xFF, 0xD9],
            "no frame header in the JPEG codestream of frame 0".into(),
        ),
    ];
    for (ts, fragment, expected) in cases {
        let file = encode_encapsulated(&spec, ts, fragment);
        let err = decode_dicom(&file, &DecodeOptions::default()).unwrap_err().to_string();
        assert!(err.contains(&expected) && err.contains(ts), "{ts}: {err}");
    }
}

/// A JPEG 2000 frame compressed far past 64:1 decodes to its samples: `dicom-pixeldata`'s
/// adapter refuses such frames of 16 MiB or more ("Could not allocate frame"), which made a
/// CXR-sized file written by `gdcmconv --j2k --lossy -r 100` a reject although pydicom decodes it.
/// The fixture is 3,866 bytes for 18 MB of samples, each its row index (tests/data/README.md).
#[test]
fn jpeg_2000_compressed_past_64_to_1_decodes_to_its_samples() {
    use cxrshard::source::decode::{decode_dicom, DecodeOptions};
    use cxrshard::source::image::Samples;
    let codestream = include_bytes!("data/rows-3000x3000.j2k").to_vec();
    let spec = Spec { pixels: None, ..Spec::gradient(3000, 3000) };
    for ts in ["1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91"] {
        let file = encode_encapsulated(&spec, ts, codestream.clone());
        let decoded = decode_dicom(&file, &DecodeOptions::default()).unwrap_or_else(|e| panic!("{ts}: {e}"));
        let Samples::U16(words) = &decoded.samples else { panic!("16-bit samples") };
        assert_eq!(words.len(), 3000 * 3000);
        assert!(words.chunks(3000).enumerate().all(|(row, r)| r.iter().all(|&v| usize::from(v) == row)), "{ts}");
    }
}

/// A JPEG 2000 codestream tiled into tens of thousands of tiles is a reject before `openjp2`
/// sets them up: the fixture's `SIZ` rewritten to 16 x 16 tiles (35,344) took 388 MB.
#[test]
fn jpeg_2000_in_tens_of_thousands_of_tiles_is_a_reject_before_decoding() {
    use cxrshard::source::decode::{decode_dicom, DecodeOptions};
    let mut codestream = include_bytes!("data/rows-3000x3000.j2k").to_vec();
    // SOC, SIZ marker, Lsiz, Rsiz, Xsiz, Ysiz, XOsiz, YOsiz, then XTsiz and YTsiz
    codestream[24..32].copy_from_slice(&[0, 0, 0, 16, 0, 0, 0, 16]);
    let spec = Spec { pixels: None, ..Spec::gradient(3000, 3000) };
    let file = encode_encapsulated(&spec, "1.2.840.10008.1.2.4.90", codestream);
    let err = decode_dicom(&file, &DecodeOptions::default()).unwrap_err().to_string();
    assert!(err.contains("the JPEG 2000 codestream has 35344 tiles, more than 4096"), "{err}");
}

/// A binary value whose length is no whole number of values is a reject naming it. Written as a
/// 2-byte `FL`, Pixel Representation made `dicom-parser` read no value, then the next element's
/// header 2 bytes early: a 658-byte file (found by the `decode` fuzz target) read a 4 GiB length
/// there and took 4.2 GB of memory.
#[test]
fn a_value_split_mid_number_is_a_reject_before_the_parser_reads_out_of_step() {
    use cxrshard::source::decode::{decode_dicom, DecodeOptions};
    let mut file = encode_with(&Spec::gradient(16, 16), vec![]);
    let us = [0x28, 0x00, 0x03, 0x01, b'U', b'S', 2, 0];
    let at = file.windows(us.len()).position(|w| w == us).expect("Pixel Representation as US");
    file[at + 4..at + 6].copy_from_slice(b"FL");
    let err = decode_dicom(&file, &DecodeOptions::default()).unwrap_err().to_string();
    let expected = format!("element (0028,0103) at byte {at} is FL of 2 bytes, not a whole number of 4-byte values");
    assert!(err.contains(&expected), "{err}");
}

/// A Deflated Explicit VR Little Endian file whose data set inflates to far more than its header
/// declares (a 16 x 16 image with 256 MiB of Pixel Data, a ~250 KB file) is a reject naming the
/// sizes, before the parser inflates it into memory.
#[test]
fn deflated_data_set_larger_than_its_header_declares_is_a_reject() {
    use cxrshard::source::decode::{decode_dicom, DecodeOptions};
    use std::io::Write;
    fn element(tag: (u16, u16), vr: &[u8; 2], value: &[u8]) -> Vec<u8> {
        let mut e = [tag.0.to_le_bytes(), tag.1.to_le_bytes()].concat();
        e.extend_from_slice(vr);
        if matches!(vr, b"OB" | b"OW") {
            e.extend_from_slice(&[0, 0]);
            e.extend_from_slice(&(value.len() as u32).to_le_bytes());
        } else {
            e.extend_from_slice(&(value.len() as u16).to_le_bytes());
        }
        e.extend_from_slice(value);
        e
    }
    let ui = |s: &str| {
        let mut b = s.as_bytes().to_vec();
        b.resize(b.len().next_multiple_of(2), 0);
        b
    };
    let meta = [
        element((2, 1), b"OB", &[0, 1]),
        element((2, 2), b"UI", &ui("1.2.840.10008.5.1.4.1.1.1.1")),
        element((2, 3), b"UI", &ui("2.25.1")),
        element((2, 0x10), b"UI", &ui("1.2.840.10008.1.2.1.99")),
    ]
    .concat();
    let mut file = vec![0u8; 128];
    file.extend_from_slice(b"DICM");
    file.extend(element((2, 0), b"UL", &(meta.len() as u32).to_le_bytes()));
    file.extend(meta);
    let us = |v: u16| v.to_le_bytes();
    let data_set = [
        element((0x28, 2), b"US", &us(1)),
        element((0x28, 4), b"CS", b"MONOCHROME2 "),
        element((0x28, 0x10), b"US", &us(16)),
        element((0x28, 0x11), b"US", &us(16)),
        element((0x28, 0x100), b"US", &us(16)),
        element((0x28, 0x101), b"US", &us(12)),
        element((0x28, 0x102), b"US", &us(11)),
        element((0x28, 0x103), b"US", &us(0)),
    ]
    .concat();
    let pixels = 256usize << 20;
    let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(&data_set).unwrap();
    z.write_all(&[0xE0, 0x7F, 0x10, 0x00, b'O', b'W', 0, 0]).unwrap();
    z.write_all(&(pixels as u32).to_le_bytes()).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..pixels >> 20 {
        z.write_all(&zeros).unwrap();
    }
    file.extend(z.finish().unwrap());
    assert!(file.len() < 4 << 20, "a small file: {} bytes", file.len());
    let err = decode_dicom(&file, &DecodeOptions::default()).unwrap_err().to_string();
    let expected = format!(
        "the data set inflates to {} bytes, more than the 512 bytes of samples the header declares (1 frame(s) of \
         16x16, 1 sample(s) of 16 bits) and 64 MiB of other attributes",
        data_set.len() + 12 + pixels
    );
    assert!(err.contains(&expected), "{err}");
}
