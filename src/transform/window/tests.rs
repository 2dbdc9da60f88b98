//! Known answers from DICOM PS3.3 C.11.2.1.2 (LINEAR), C.11.2.1.3 (LINEAR_EXACT, SIGMOID).
use super::*;
use crate::config::{Filter, ResizeMode};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

#[test]
fn linear_window_matches_the_standard() {
    // c = 100, w = 21: x <= c - 0.5 - (w-1)/2 = 89.5 → y_min; x > c - 0.5 + (w-1)/2 = 109.5 → y_max
    let f = VoiFunction::Linear;
    assert_eq!(voi(89.5, 100.0, 21.0, f), 0.0);
    assert!(close(voi(90.0, 100.0, 21.0, f), 0.5 / 20.0));
    assert!(close(voi(100.0, 100.0, 21.0, f), (0.5 / 20.0) + 0.5));
    assert!(close(voi(109.5, 100.0, 21.0, f), 1.0));
    assert_eq!(voi(109.6, 100.0, 21.0, f), 1.0);
    // width 1 is a threshold at c - 0.5
    assert_eq!(voi(99.5, 100.0, 1.0, f), 0.0);
    assert_eq!(voi(99.6, 100.0, 1.0, f), 1.0);
}

#[test]
fn linear_exact_and_sigmoid_match_the_standard() {
    assert_eq!(voi(90.0, 100.0, 20.0, VoiFunction::LinearExact), 0.0);
    assert!(close(voi(100.0, 100.0, 20.0, VoiFunction::LinearExact), 0.5));
    assert!(close(voi(105.0, 100.0, 20.0, VoiFunction::LinearExact), 0.75));
    assert_eq!(voi(110.1, 100.0, 20.0, VoiFunction::LinearExact), 1.0);
    assert!(close(voi(100.0, 100.0, 20.0, VoiFunction::Sigmoid), 0.5));
    assert!(close(voi(110.0, 100.0, 20.0, VoiFunction::Sigmoid), 1.0 / (1.0 + (-2.0f64).exp())));
}

#[test]
fn stored_values_are_masked_and_sign_extended() {
    assert_eq!(stored_value(0xF123, 12, false), 0x123);
    assert_eq!(stored_value(0x0FFF, 12, true), -1);
    assert_eq!(stored_value(0x0800, 12, true), -2048);
    assert_eq!(stored_value(0x07FF, 12, true), 2047);
    assert_eq!(stored_value(0xFFFF, 16, true), -1);
    assert_eq!(stored_value(0xFFFF, 16, false), 65535);
}

fn plan(window: WindowChoice, dtype: DType) -> ImagePlan {
    ImagePlan {
        height: 2,
        width: 2,
        resize: ResizeMode::Stretch,
        filter: Filter::Area,
        dtype,
        window,
        window_index: 0,
        normalize: Normalize::None,
        multiframe: crate::config::MultiFrame::First,
        color: crate::config::ColorPolicy::Reject,
    }
}

fn dicom(samples: Vec<u16>, photometric: Photometric) -> SourceImage {
    SourceImage {
        width: 2,
        height: 2,
        samples: Samples::U16(samples.into()),
        bits_stored: 12,
        signed: false,
        photometric,
        rescale: None,
        windows: vec![(2048.0, 4096.0), (100.0, 50.0)],
        voi_function: VoiFunction::Linear,
        luts: Default::default(),
        kind: SourceKind::Dicom,
        transfer_syntax: None,
    }
}

#[test]
fn file_window_then_dtype_scaling() {
    let img = dicom(vec![0, 2048, 4095, 1000], Photometric::Monochrome2);
    let (plane, w) = apply(&img, &plan(WindowChoice::File, DType::Uint8)).unwrap();
    assert_eq!((w.center, w.width, w.source), (2048.0, 4096.0, WindowSource::File));
    // LINEAR: y = (x - 2047.5) / 4095 + 0.5
    let expect = |x: f64| (((x - 2047.5) / 4095.0 + 0.5) * 255.0).round() as u8;
    assert_eq!(plane, Plane::U8(vec![expect(0.0), expect(2048.0), expect(4095.0), expect(1000.0)]));
}

#[test]
fn monochrome1_is_inverted_after_the_window() {
    let samples = vec![0, 75, 125, 4095];
    let mut p = plan(WindowChoice::File, DType::Uint8);
    p.window_index = 1; // c = 100, w = 50: 74.5 → 0, 124.5 → 1
    let (m2, _) = apply(&dicom(samples.clone(), Photometric::Monochrome2), &p).unwrap();
    let (m1, _) = apply(&dicom(samples, Photometric::Monochrome1), &p).unwrap();
    let y75: f64 = ((75.0 - 99.5) / 49.0 + 0.5) * 255.0;
    assert_eq!(m2, Plane::U8(vec![0, y75.round() as u8, 255, 255]));
    assert_eq!(m1, Plane::U8(vec![255, (255.0 - y75).round() as u8, 0, 0]));
}

#[test]
fn rescale_applies_before_the_window() {
    let mut img = dicom(vec![0, 512, 1024, 1536], Photometric::Monochrome2);
    img.rescale = Some((2.0, -1024.0)); // modality: -1024, 0, 1024, 2048
    let fixed = WindowChoice::Fixed { center: 0.0, width: 2049.0 }; // -1024.5 .. 1023.5 linear
    let (plane, _) = apply(&img, &plan(fixed, DType::Float32)).unwrap();
    let Plane::F32(v) = plane else { panic!() };
    // -1024 is just above the lower edge (c - 0.5 - (w-1)/2 = -1024.5)
    assert!((v[0] as f64 - (-1023.5 / 2048.0 + 0.5)).abs() < 1e-7);
    assert!((v[1] as f64 - (0.5 / 2048.0 + 0.5)).abs() < 1e-6);
    assert_eq!(&v[2..], &[1.0, 1.0]);
}

#[test]
fn no_window_falls_back_to_minmax_for_dicom_and_full_range_for_rasters() {
    let mut img = dicom(vec![100, 200, 300, 300], Photometric::Monochrome2);
    img.windows.clear();
    let (plane, w) = apply(&img, &plan(WindowChoice::File, DType::Uint16)).unwrap();
    assert_eq!(w.source, WindowSource::MinMax);
    assert_eq!(plane, Plane::U16(vec![0, 32768, 65535, 65535]));
    let raster = SourceImage {
        samples: Samples::U8(vec![0, 10, 128, 255]),
        bits_stored: 8,
        kind: SourceKind::Raster,
        windows: vec![],
        ..img
    };
    let (plane, w) = apply(&raster, &plan(WindowChoice::File, DType::Uint8)).unwrap();
    assert_eq!(w.source, WindowSource::FullRange);
    assert_eq!(plane, Plane::U8(vec![0, 10, 128, 255]), "display-ready rasters pass through unchanged");
}

/// The min..max window is the least and greatest modality value of the samples' stored values
/// (low bits, sign-extended, rescaled), computed here sample by sample, for every bit depth,
/// signedness and sign of the slope; with padding declared, the padding value takes no part.
#[test]
fn minmax_window_spans_the_stored_values_modality_range() {
    let mut noise = crate::transform::area::tests::xorshift(11);
    for bits_stored in [1u16, 7, 8, 12, 14, 16] {
        for signed in [false, true] {
            for rescale in [None, Some((1.5, -1024.0)), Some((-0.75, 300.0))] {
                for eight_bit in [false, true] {
                    let raw: Vec<u16> = (&mut noise).take(999).map(|x| (x >> 48) as u16).collect();
                    // Few distinct values, so the extremes are also hit by other samples.
                    let raw: Vec<u16> = raw.iter().map(|&r| if r % 3 == 0 { r } else { r & 0xF0F0 }).collect();
                    let samples = match eight_bit {
                        true => Samples::U8(raw.iter().map(|&r| r as u8).collect()),
                        false => Samples::U16(raw.clone().into()),
                    };
                    let sample_bits = if eight_bit { 8 } else { 16 };
                    let mask = (1u32 << bits_stored.min(sample_bits)) - 1;
                    let modality = |r: u16| {
                        let s = f64::from(stored_value((u32::from(r) & mask) as u16, bits_stored, signed));
                        rescale.map_or(s, |(slope, intercept)| s * slope + intercept)
                    };
                    let values: Vec<f64> = match &samples {
                        Samples::U8(v) => v.iter().map(|&r| modality(u16::from(r))).collect(),
                        Samples::U16(v) => v.iter().map(|&r| modality(r)).collect(),
                    };
                    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
                    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let img = SourceImage {
                        width: 999,
                        height: 1,
                        samples,
                        bits_stored,
                        signed,
                        rescale,
                        windows: vec![],
                        ..dicom(vec![0; 4], Photometric::Monochrome2)
                    };
                    let (_, w) = table(&img, &plan(WindowChoice::MinMax, DType::Uint8)).unwrap();
                    let case = format!("{bits_stored} bits, signed {signed}, {rescale:?}, 8-bit samples {eight_bit}");
                    assert_eq!((w.center, w.width), ((lo + hi) / 2.0, (hi - lo).max(f64::MIN_POSITIVE)), "{case}");
                }
            }
        }
    }
}

/// A min..max read through a reader in bands gives the window and table read in place; a failed
/// read rejects the image at the read stage.
#[test]
fn minmax_read_through_a_reader_is_the_same() {
    use crate::transform::staged::tests::Memory;
    let (w, h) = (900usize, 400usize); // 1,800 bytes a row: 145 rows a band
    let raw: Vec<u16> = crate::transform::area::tests::xorshift(3).take(w * h).map(|x| (x >> 52) as u16).collect();
    let img = SourceImage {
        width: w as u32,
        height: h as u32,
        samples: Samples::U16(raw.into()),
        windows: vec![],
        rescale: Some((-1.0, 4095.0)),
        ..dicom(vec![0; 4], Photometric::Monochrome1)
    };
    let p = plan(WindowChoice::MinMax, DType::Uint8);
    let (t, win) = table(&img, &p).unwrap();
    let (t2, win2) = table_reading(&img, &p, Some(&Memory { fail: false })).unwrap();
    assert_eq!((t.values, t.affine, win), (t2.values, t2.affine, win2));
    let e = table_reading(&img, &p, Some(&Memory { fail: true })).unwrap_err();
    assert_eq!(e.stage, Stage::Read);
    // A file window needs no pass: nothing is read.
    assert!(table_reading(
        &img,
        &plan(WindowChoice::Fixed { center: 100.0, width: 50.0 }, DType::Uint8),
        Some(&Memory { fail: true })
    )
    .is_ok());
    // The pass over the values present (a modality LUT, padding, a min..max normalisation)
    // reads through the reader too: same table, and a failed read is a read-stage reject.
    let mut with_lut = img.clone();
    with_lut.luts.modality = Some(lut(0, 16, (0..4096).map(|v| 4095 - v / 2).collect()));
    let mut with_padding = img.clone();
    with_padding.luts.padding = Some(crate::source::image::Padding { value: 0, limit: Some(40) });
    let mut normalised = plan(WindowChoice::Fixed { center: 2000.0, width: 1500.0 }, DType::Uint8);
    normalised.normalize = Normalize::MinMax;
    for (case, img, p) in
        [("modality LUT", &with_lut, &p), ("padding", &with_padding, &p), ("normalize", &img, &normalised)]
    {
        let (t, win) = table(img, p).unwrap();
        let (t2, win2) = table_reading(img, p, Some(&Memory { fail: false })).unwrap();
        assert_eq!((t.values, t.affine, win), (t2.values, t2.affine, win2), "{case}");
        let e = table_reading(img, p, Some(&Memory { fail: true })).unwrap_err();
        assert_eq!(e.stage, Stage::Read, "{case}");
    }
}

#[test]
fn minmax_normalisation_stretches_the_windowed_range() {
    let img = dicom(vec![1948, 2048, 2148, 2048], Photometric::Monochrome2);
    let mut p = plan(WindowChoice::File, DType::Uint8);
    p.normalize = Normalize::MinMax;
    let (plane, _) = apply(&img, &p).unwrap();
    assert_eq!(plane, Plane::U8(vec![0, 128, 255, 128]));
}

#[test]
fn invalid_fixed_window_is_rejected() {
    let img = dicom(vec![0; 4], Photometric::Monochrome2);
    let err = apply(&img, &plan(WindowChoice::Fixed { center: f64::NAN, width: 10.0 }, DType::Uint8)).unwrap_err();
    assert_eq!(err.stage, Stage::Window);
}

fn lut(first: i32, bits: u16, data: Vec<u16>) -> crate::source::image::Lut {
    crate::source::image::Lut { first, bits, data }
}

#[test]
fn modality_lut_sequence_replaces_rescale() {
    let mut img = dicom(vec![0, 1, 2, 9], Photometric::Monochrome2);
    img.rescale = Some((100.0, 100.0)); // ignored: the LUT takes precedence (PS3.3 C.11.1)
    img.luts.modality = Some(lut(1, 8, vec![10, 20, 30])); // 0 → clamps to 10, 9 → clamps to 30
    let (plane, _) = apply(&img, &plan(WindowChoice::Fixed { center: 20.0, width: 20.0 }, DType::Float32)).unwrap();
    let fixed = |x: f64| voi(x, 20.0, 20.0, VoiFunction::Linear) as f32;
    assert_eq!(plane, Plane::F32(vec![fixed(10.0), fixed(10.0), fixed(20.0), fixed(30.0)]));
}

#[test]
fn voi_lut_sequence_is_preferred_and_scaled_by_its_bit_depth() {
    let mut img = dicom(vec![0, 1, 2, 3], Photometric::Monochrome2);
    img.luts.voi = vec![lut(1, 10, vec![0, 1023]), lut(0, 8, vec![255, 0, 0, 0])];
    let (plane, w) = apply(&img, &plan(WindowChoice::File, DType::Uint8)).unwrap();
    assert_eq!((w.function, w.source), (VoiFunction::Lut, WindowSource::File));
    assert_eq!(plane, Plane::U8(vec![0, 0, 255, 255]));
    let mut p = plan(WindowChoice::File, DType::Uint8);
    p.window_index = 1;
    assert_eq!(apply(&img, &p).unwrap().0, Plane::U8(vec![255, 0, 0, 0]));
    // an explicit window in the pipeline file overrides the file's LUT
    let (_, w) = apply(&img, &plan(WindowChoice::MinMax, DType::Uint8)).unwrap();
    assert_eq!(w.source, WindowSource::MinMax);
}

#[test]
fn presentation_lut_inverse_inverts_once_even_with_monochrome1() {
    let mut img = dicom(vec![0, 4095, 0, 4095], Photometric::Monochrome2);
    img.luts.presentation_inverse = true;
    let p = plan(WindowChoice::File, DType::Uint8);
    assert_eq!(apply(&img, &p).unwrap().0, Plane::U8(vec![255, 0, 255, 0]));
    img.photometric = Photometric::Monochrome1; // the DX IOD requires INVERSE with MONOCHROME1
    assert_eq!(apply(&img, &p).unwrap().0, Plane::U8(vec![255, 0, 255, 0]));
}

#[test]
fn padding_is_black_and_outside_the_minmax_range() {
    let mut img = dicom(vec![0xFFFF, 100, 300, 0xFFFE], Photometric::Monochrome1);
    img.bits_stored = 16;
    img.signed = true;
    img.windows.clear();
    img.luts.padding = Some(crate::source::image::Padding { value: -1, limit: Some(-2) });
    let (plane, w) = apply(&img, &plan(WindowChoice::File, DType::Uint8)).unwrap();
    assert_eq!((w.center, w.width), (200.0, 200.0), "min..max of 100 and 300 only");
    assert_eq!(plane, Plane::U8(vec![0, 255, 0, 0]), "MONOCHROME1: 100 → white, 300 → black, padding → 0");
}

/// Display chains of every common kind: their affine form, when one is kept, is the table at
/// every bit pattern, and resizing through it gives the lookup's bytes. Most chains get one
/// (both the `f32` and the `f64` form occur); SIGMOID, padding and signed data do not.
#[test]
fn the_affine_form_is_the_table_and_resizes_alike() {
    let mut x = 0x2545_f491u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let (w, h) = (301u32, 157u32);
    let (mut chains, mut narrow, mut wide, mut clamped, mut negative_zero) = (0, 0, 0, 0, 0);
    let mut wide_clamped = 0;
    for i in 0..96 {
        let bits = [10u16, 12, 14, 16][i % 4];
        let words: Vec<u16> = (0..w * h).map(|_| next() as u16).collect();
        let mut img = dicom(words, [Photometric::Monochrome1, Photometric::Monochrome2][i / 4 % 2]);
        (img.width, img.height, img.bits_stored) = (w, h, bits);
        let top = f64::from(1u32 << bits);
        img.rescale = [None, Some((0.5, 0.0)), Some((2.0, -1024.0)), Some((1.0, 7.0))][i / 8 % 4];
        let centre = top * (0.2 + 0.6 * (next() % 1000) as f64 / 1000.0);
        let width = (top * (0.05 + 0.9 * (next() % 1000) as f64 / 1000.0)).round() + (next() % 100) as f64 / 100.0;
        img.windows = vec![(centre, width)];
        img.voi_function = [VoiFunction::Linear, VoiFunction::LinearExact][i / 32 % 2];
        let mut p = plan(WindowChoice::File, [DType::Uint8, DType::Uint16][i / 64]);
        (p.width, p.height) = (64, 40);
        p.normalize = if i % 3 == 0 { Normalize::MinMax } else { Normalize::None };
        let (mut table, _) = table(&img, &p).unwrap();
        chains += 1;
        let Some(f) = table.affine else { continue };
        if f.is_wide() {
            wide += 1
        } else {
            narrow += 1
        }
        clamped += usize::from(f.is_clamped());
        wide_clamped += usize::from(f.is_wide() && f.is_clamped());
        // A clamped line may give -0.0 for a sample just below 0: the resize must not see it.
        negative_zero += usize::from((0..=u16::MAX).any(|s| f.value(s).is_sign_negative()));
        let every = |v: &dyn Fn(usize) -> f32| (0..=u16::MAX).all(|s| f.value(s) == v(usize::from(s)));
        match &table.values {
            Values::U8(t) => assert!(every(&|s| f32::from(t[s])), "chain {i}: u8 table"),
            Values::U16(t) => assert!(every(&|s| f32::from(t[s])), "chain {i}: u16 table"),
            Values::F32(_) => panic!("float tables have no affine form"),
        }
        let through = crate::transform::resize::resize_table(&img.samples, &table, w, h, &p, None).unwrap();
        table.affine = None;
        let looked_up = crate::transform::resize::resize_table(&img.samples, &table, w, h, &p, None).unwrap();
        assert_eq!(through, looked_up, "chain {i}: resized through the affine form");
    }
    assert!(narrow + wide >= chains * 9 / 10, "{} of {chains} chains fitted", narrow + wide);
    assert!(narrow > 0 && wide > 0, "f32 forms {narrow}, f64 forms {wide}");
    assert!(wide_clamped > 0, "{wide_clamped} of the {wide} f64 forms clamp the stored values");
    assert!(clamped * 2 > narrow && negative_zero > 0, "{clamped} of {narrow} clamped, {negative_zero} with -0.0");
}

#[test]
fn chains_that_are_not_affine_keep_the_lookup() {
    let p = plan(WindowChoice::File, DType::Uint8);
    let ramp: Vec<u16> = (0..4096).collect();
    let linear = dicom(ramp.clone(), Photometric::Monochrome2);
    assert!(table(&linear, &p).unwrap().0.affine.is_some(), "a LINEAR window is affine");
    let mut sigmoid = linear.clone();
    sigmoid.voi_function = VoiFunction::Sigmoid;
    assert!(table(&sigmoid, &p).unwrap().0.affine.is_none(), "SIGMOID");
    let mut padded = linear.clone();
    padded.luts.padding = Some(crate::source::image::Padding { value: 3000, limit: None });
    assert!(table(&padded, &p).unwrap().0.affine.is_none(), "a padding value inside the ramp");
    let mut signed = linear;
    signed.signed = true;
    assert!(table(&signed, &p).unwrap().0.affine.is_none(), "signed stored values wrap at the sign bit");
    assert!(table(&signed, &plan(WindowChoice::File, DType::Float32)).unwrap().0.affine.is_none(), "float output");
}

#[test]
fn rounding_without_the_library_call_equals_round() {
    let mut values = vec![
        0.0,
        -0.0,
        0.5,
        1.5,
        2.5,
        -0.5,
        -2.5,
        254.5,
        255.5,
        65534.5,
        0.49999999999999994,
        -0.49999999999999994,
        1.0 - f64::EPSILON / 2.0,
        4_503_599_627_370_495.5,
        4_503_599_627_370_496.0,
        9.0e18,
        -9.0e18,
        1e300,
        f64::MIN_POSITIVE,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ];
    // Every quarter and its neighbours one ulp away, over the ranges tables are scaled to.
    for q in (0..4 * 65536).step_by(7) {
        let v = q as f64 / 4.0;
        values.extend([v, f64::from_bits(v.to_bits() + 1), f64::from_bits(v.to_bits().saturating_sub(1)), -v]);
    }
    for v in values {
        assert_eq!(round_half_away(v).to_bits(), v.round().to_bits(), "{v:e}");
    }
    assert!(round_half_away(f64::NAN).is_nan());
}

/// The table made one step at a time over all values is the chain applied value by value: for
/// signed and unsigned samples, with and without a rescale, each VOI function, inverted or not.
#[test]
fn the_table_is_the_chain_at_every_value() {
    let mut checked = 0;
    for (i, function) in [VoiFunction::Linear, VoiFunction::LinearExact, VoiFunction::Sigmoid].into_iter().enumerate() {
        for signed in [false, true] {
            for rescale in [None, Some((0.5, -1024.0)), Some((3.0, 7.5))] {
                for (photometric, window) in
                    [(Photometric::Monochrome2, (300.0, 1500.0)), (Photometric::Monochrome1, (-20.0, 1.0))]
                {
                    let mut img = dicom(vec![0; 4], photometric);
                    (img.signed, img.rescale, img.voi_function, img.windows) =
                        (signed, rescale, function, vec![window]);
                    let (table, _) = table(&img, &plan(WindowChoice::File, DType::Uint8)).unwrap();
                    let Values::U8(t) = &table.values else { panic!("a uint8 table") };
                    let (c, w) = window;
                    for raw in 0..=u16::MAX {
                        let s = f64::from(stored_value(raw, 12, signed));
                        let m = rescale.map_or(s, |(slope, intercept)| s * slope + intercept);
                        let v = voi(m, c, w, function);
                        let v = if photometric == Photometric::Monochrome1 { 1.0 - v } else { v };
                        assert_eq!(t[usize::from(raw)], (v * 255.0).round() as u8, "case {i}: sample {raw}");
                    }
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 36);
}
