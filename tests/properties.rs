//! Property tests for the pure core: arbitrary input never panics, outputs stay in range.

use cxrshard::config::{ColorPolicy, DType, Filter, ImagePlan, MultiFrame, Normalize, ResizeMode, WindowChoice};
use cxrshard::source::annotations;
use cxrshard::source::decode::{decode_dicom, decode_raster, DecodeOptions};
use cxrshard::source::image::{Photometric, Samples, SourceImage, SourceKind, VoiFunction};
use cxrshard::transform::rasterize::nonzero_bbox;
use cxrshard::transform::resize::Geometry;
use cxrshard::transform::{masks, window};
use proptest::prelude::*;

fn labels() -> Vec<String> {
    vec!["R1".into(), "L1".into()]
}

/// A one-row DICOM image with a rescale and one file window.
#[allow(clippy::too_many_arguments)]
fn one_row(
    samples: Vec<u16>,
    bits_stored: u16,
    signed: bool,
    mono1: bool,
    rescale: (f64, f64),
    window: (f64, f64),
    function: VoiFunction,
) -> SourceImage {
    SourceImage {
        width: samples.len() as u32,
        height: 1,
        samples: Samples::U16(samples.into()),
        bits_stored,
        signed,
        photometric: if mono1 { Photometric::Monochrome1 } else { Photometric::Monochrome2 },
        rescale: Some(rescale),
        windows: vec![window],
        voi_function: function,
        kind: SourceKind::Dicom,
        transfer_syntax: None,
        luts: Default::default(),
    }
}

/// A plan for the display chain alone: the file's window, or min..max with normalisation.
fn window_plan(dtype: DType, minmax: bool) -> ImagePlan {
    ImagePlan {
        height: 1,
        width: 1,
        resize: ResizeMode::Stretch,
        filter: Filter::Area,
        dtype,
        window: if minmax { WindowChoice::MinMax } else { WindowChoice::File },
        window_index: 0,
        normalize: if minmax { Normalize::MinMax } else { Normalize::None },
        multiframe: MultiFrame::First,
        color: ColorPolicy::Reject,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn annotation_parser_never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = annotations::parse(&bytes, "fuzz.json", &labels());
    }

    #[test]
    fn annotation_parser_never_panics_on_json_shapes(
        img in prop_oneof![Just("\"a.png\"".to_string()), Just("7".to_string()), Just("null".to_string())],
        poly in prop_oneof![
            Just("\"None\"".to_string()),
            Just("[]".to_string()),
            Just("[{\"x\": 1}]".to_string()),
            Just("[[1, 2], [3, 4], [5, NaN]]".to_string()),
            (any::<f64>(), any::<f64>()).prop_map(|(x, y)| format!("[{{\"x\": {x:?}, \"y\": {y:?}}}, {{\"x\": 0, \"y\": 0}}, {{\"x\": 1, \"y\": 1}}]")),
        ],
    ) {
        let json = format!("{{\"img\": {{\"0\": {img}}}, \"R1\": {{\"0\": {poly}}}, \"L1\": {{\"0\": \"None\"}}}}");
        let _ = annotations::parse(json.as_bytes(), "t.json", &labels());
    }

    #[test]
    fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let opts = DecodeOptions { multiframe: MultiFrame::First, color: ColorPolicy::Luma };
        let _ = decode_dicom(&bytes, &opts);
        let _ = decode_raster(&bytes);
        let mut dicm = vec![0u8; 128];
        dicm.extend_from_slice(b"DICM");
        dicm.extend_from_slice(&bytes);
        let _ = decode_dicom(&dicm, &opts);
    }

    #[test]
    fn masks_stay_inside_the_image_and_are_binary(
        polys in proptest::collection::vec(
            proptest::option::of(proptest::collection::vec((-1e7f64..1e7, -1e7f64..1e7).prop_map(|(x, y)| [x, y]), 3..12)),
            1..4,
        ),
        w in 1u32..40, h in 1u32..40, sx in 0.001f64..4.0, sy in 0.001f64..4.0,
    ) {
        let g = Geometry { scale_x: sx, scale_y: sy, pad_x: 0, pad_y: 0, content_width: w, content_height: h };
        let (mask, bboxes, _) = masks(&polys, &g, w, h);
        prop_assert_eq!(mask.len(), polys.len() * (w * h) as usize);
        prop_assert!(mask.iter().all(|&v| v <= 1));
        for (c, bb) in bboxes.iter().enumerate() {
            let area = mask[c * (w * h) as usize..(c + 1) * (w * h) as usize].iter().filter(|&&v| v == 1).count();
            match bb {
                Some([x0, y0, x1, y1]) => prop_assert!(*x0 >= 0 && *y0 >= 0 && *x1 < w as i32 && *y1 < h as i32 && x0 <= x1 && y0 <= y1 && area > 0),
                None => prop_assert_eq!(area, 0),
            }
        }
    }

    #[test]
    fn mask_boxes_equal_a_scan_of_the_whole_plane(
        polys in proptest::collection::vec(
            proptest::option::of(proptest::collection::vec((-20f64..60.0, -20f64..60.0).prop_map(|(x, y)| [x, y]), 3..12)),
            1..4,
        ),
        w in 1u32..40, h in 1u32..40,
    ) {
        // The boxes come from scanning only the vertices' box: the same as scanning everything.
        let g = Geometry { scale_x: 1.0, scale_y: 1.0, pad_x: 0, pad_y: 0, content_width: w, content_height: h };
        let (mask, bboxes, _) = masks(&polys, &g, w, h);
        let plane = (w * h) as usize;
        for (c, bb) in bboxes.iter().enumerate() {
            let full = nonzero_bbox(&mask[c * plane..(c + 1) * plane], w as usize, h as usize)
                .map(|(a, b, c, d)| [a as i32, b as i32, c as i32, d as i32]);
            prop_assert_eq!(*bb, full);
        }
    }

    #[test]
    fn window_output_stays_in_the_dtype_range(
        samples in proptest::collection::vec(any::<u16>(), 1..64),
        bits_stored in 1u16..=16, signed in any::<bool>(), mono1 in any::<bool>(),
        center in -1e6f64..1e6, width in 1.0f64..1e6, slope in prop_oneof![Just(1.0), -4.0f64..4.0], intercept in -5e4f64..5e4,
        function in prop_oneof![Just(VoiFunction::Linear), Just(VoiFunction::LinearExact), Just(VoiFunction::Sigmoid)],
        minmax in any::<bool>(),
    ) {
        prop_assume!(slope != 0.0);
        let img = one_row(samples, bits_stored, signed, mono1, (slope, intercept), (center, width), function);
        for dtype in [DType::Uint8, DType::Uint16, DType::Float32] {
            let (plane, _) = window::apply(&img, &window_plan(dtype, minmax)).unwrap();
            if let window::Plane::F32(v) = plane {
                prop_assert!(v.iter().all(|x| x.is_finite() && (0.0..=1.0).contains(x)));
            }
        }
    }

    /// The display chain, folded into a table over stored values, equals the chain run on each
    /// pixel on its own (PS3.3 order: mask and sign-extend, rescale, VOI, MONOCHROME1 inversion),
    /// whatever sits in the bits above BitsStored.
    #[test]
    fn window_table_equals_the_chain_per_pixel(
        samples in proptest::collection::vec(any::<u16>(), 1..64),
        bits_stored in 1u16..=16, signed in any::<bool>(), mono1 in any::<bool>(),
        center in -7e4f64..7e4, width in 1.0f64..1e5, slope in prop_oneof![Just(1.0), -4.0f64..4.0], intercept in -5e4f64..5e4,
        function in prop_oneof![Just(VoiFunction::Linear), Just(VoiFunction::LinearExact), Just(VoiFunction::Sigmoid)],
    ) {
        let img = one_row(samples.clone(), bits_stored, signed, mono1, (slope, intercept), (center, width), function);
        let (plane, _) = window::apply(&img, &window_plan(DType::Uint16, false)).unwrap();
        let expected: Vec<u16> = samples.iter().map(|&raw| {
            let m = window::stored_value(raw, bits_stored, signed) as f64 * slope + intercept;
            let v = window::voi(m, center, width, function);
            ((if mono1 { 1.0 - v } else { v }) * 65535.0).round() as u16
        }).collect();
        prop_assert_eq!(plane, window::Plane::U16(expected));
    }
}
