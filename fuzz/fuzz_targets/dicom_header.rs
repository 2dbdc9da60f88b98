//! Fuzz the DICOM path with well-formed files whose technical attributes are arbitrary: the
//! header checks, the modality and VOI transforms (values, LUT sequences, padding), colour and
//! multi-frame policies, every resize filter and dtype, and masks from arbitrary vertices
//! (NaN, infinities, far outside the image), and compressed frames whose frame header declares
//! any size for the codecs behind `dicom-pixeldata`. Every file must give an image or a reject,
//! never a panic. The `decode` target starts from raw bytes, which rarely get past the DICOM
//! parser.
#![no_main]

use arbitrary::Arbitrary;
use cxrshard::config::{self, Overrides};
use cxrshard::source::Decoder;
use cxrshard::transform::process;
use dicom_core::value::{DataSetSequence, PixelFragmentSequence};
use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};
use libfuzzer_sys::fuzz_target;

/// A number attribute: one of the values that break arithmetic, or any `f64`.
#[derive(Debug, Arbitrary)]
enum Num {
    Zero,
    One,
    Minus,
    Huge,
    Tiny,
    Nan,
    Inf,
    Text,
    Any(f64),
}

impl Num {
    fn text(&self) -> String {
        match self {
            Num::Zero => "0".into(),
            Num::One => "1".into(),
            Num::Minus => "-1".into(),
            Num::Huge => "1e308".into(),
            Num::Tiny => "1e-300".into(),
            Num::Nan => "NaN".into(),
            Num::Inf => "-inf".into(),
            Num::Text => "abc".into(),
            // DS values are at most 16 characters.
            Num::Any(v) => format!("{v:.6e}").chars().take(16).collect(),
        }
    }
}

#[derive(Debug, Arbitrary)]
struct LutSpec {
    entries: u16,
    first: i32,
    bits: u8,
    data: Vec<u16>,
}

#[derive(Debug, Arbitrary)]
struct Spec {
    rows: u8,
    cols: u8,
    bits_allocated: u8,
    bits_stored: u8,
    high_bit: u8,
    signed: u8,
    samples_per_pixel: u8,
    photometric: u8,
    planar: Option<u8>,
    frames: Option<Num>,
    rescale: Option<(Num, Num)>,
    windows: Vec<(Num, Num)>,
    voi_function: Option<u8>,
    modality_lut: Option<LutSpec>,
    voi_luts: Vec<LutSpec>,
    padding: Option<(u16, Option<u16>)>,
    presentation_shape: Option<bool>,
    palette: Option<(u16, u16, Vec<u8>)>,
    /// Pixel data: `None` fills exactly the declared size from `seed`.
    pixels: Option<Vec<u8>>,
    seed: u16,
    encapsulated: bool,
    transfer_syntax: u8,
    /// A compressed frame: a frame header of this kind and size before the pixel bytes, in its
    /// transfer syntax (replaces `transfer_syntax`).
    codestream: Option<Codestream>,
    plan: PlanSpec,
    polygons: Vec<Option<Vec<(f64, f64)>>>,
}

/// A frame header for the codecs behind `dicom-pixeldata`: lossless JPEG (`SOF3`), JPEG-LS
/// (`SOF55`) or JPEG 2000 (`SIZ`), declaring its own size, precision and components.
#[derive(Debug, Arbitrary)]
struct Codestream {
    kind: u8,
    rows: u16,
    cols: u16,
    precision: u8,
    components: u8,
    /// JPEG 2000 tile width and height (0: the image's).
    tile: (u16, u16),
}

/// Transfer syntaxes of [`Codestream`] kinds.
const CODESTREAM_SYNTAX: [&str; 4] =
    ["1.2.840.10008.1.2.4.70", "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.201"];

impl Codestream {
    fn syntax(&self) -> &'static str {
        CODESTREAM_SYNTAX[usize::from(self.kind) % CODESTREAM_SYNTAX.len()]
    }

    /// The frame header; the rest of the stream is the fuzzer's bytes.
    fn header(&self) -> Vec<u8> {
        let n = self.components % 5;
        let mut out = Vec::new();
        let jpeg_marker = match self.kind % 4 {
            0 => Some(0xC3),
            1 => Some(0xF7),
            _ => None,
        };
        if let Some(marker) = jpeg_marker {
            out.extend([0xFF, 0xD8, 0xFF, marker]);
            out.extend((8 + 3 * u16::from(n)).to_be_bytes());
            out.push(self.precision);
            out.extend(self.rows.to_be_bytes());
            out.extend(self.cols.to_be_bytes());
            out.push(n);
            for c in 0..n {
                out.extend([c + 1, 0x11, 0]);
            }
        } else {
            out.extend([0xFF, 0x4F, 0xFF, 0x51]);
            out.extend((38 + 3 * u16::from(n)).to_be_bytes());
            out.extend([0, 0]);
            let (w, h) = (u32::from(self.cols), u32::from(self.rows));
            let tile = |t: u16, whole: u32| if t == 0 { whole } else { u32::from(t) };
            for v in [w, h, 0, 0, tile(self.tile.0, w), tile(self.tile.1, h), 0, 0] {
                out.extend(v.to_be_bytes());
            }
            out.extend(u16::from(n).to_be_bytes());
            for _ in 0..n {
                out.extend([self.precision.wrapping_sub(1) & 0x9F, 1, 1]);
            }
        }
        out
    }
}

#[derive(Debug, Arbitrary)]
struct PlanSpec {
    height: u8,
    width: u8,
    letterbox: bool,
    filter: u8,
    dtype: u8,
    window: u8,
    center: f32,
    width_w: f32,
    window_index: u8,
    normalize: bool,
    multiframe_reject: bool,
    luma: bool,
}

const PHOTOMETRIC: [&str; 8] =
    ["MONOCHROME2", "MONOCHROME1", "RGB", "YBR_FULL", "YBR_FULL_422", "PALETTE COLOR", "HSV", ""];
const TRANSFER_SYNTAX: [&str; 5] = [
    uids::EXPLICIT_VR_LITTLE_ENDIAN,
    uids::IMPLICIT_VR_LITTLE_ENDIAN,
    "1.2.840.10008.1.2.2", // Explicit VR Big Endian (retired, still met)
    uids::RLE_LOSSLESS,
    uids::DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN,
];
const FILTERS: [&str; 5] = ["area", "bilinear", "bicubic", "lanczos3", "nearest"];
const DTYPES: [&str; 3] = ["uint8", "uint16", "float32"];
const VOI_FUNCTIONS: [&str; 4] = ["LINEAR", "LINEAR_EXACT", "SIGMOID", "CUBIC"];

fn put(obj: &mut InMemDicomObject, tag: Tag, vr: VR, value: impl Into<PrimitiveValue>) {
    obj.put(DataElement::new(tag, vr, value.into()));
}

fn lut_item(l: &LutSpec) -> InMemDicomObject {
    let mut item = InMemDicomObject::new_empty();
    let desc = [l.entries, l.first as u16, u16::from(l.bits)];
    put(&mut item, tags::LUT_DESCRIPTOR, VR::US, PrimitiveValue::U16(desc.into_iter().collect()));
    put(&mut item, tags::LUT_DATA, VR::OW, PrimitiveValue::U16(l.data.iter().copied().take(1024).collect()));
    item
}

fn sequence(tag: Tag, items: Vec<InMemDicomObject>) -> DataElement<InMemDicomObject> {
    DataElement::new(tag, VR::SQ, DataSetSequence::from(items))
}

fn file(s: &Spec) -> Option<Vec<u8>> {
    let mut obj = InMemDicomObject::new_empty();
    put(&mut obj, tags::SOP_CLASS_UID, VR::UI, uids::DIGITAL_X_RAY_IMAGE_STORAGE_FOR_PRESENTATION);
    put(&mut obj, tags::SOP_INSTANCE_UID, VR::UI, "2.25.1");
    let bits_allocated = match s.bits_allocated % 5 {
        0 | 1 => 16,
        2 => 8,
        3 => 32,
        _ => u16::from(s.bits_allocated),
    };
    put(&mut obj, tags::ROWS, VR::US, u16::from(s.rows));
    put(&mut obj, tags::COLUMNS, VR::US, u16::from(s.cols));
    put(&mut obj, tags::BITS_ALLOCATED, VR::US, bits_allocated);
    put(&mut obj, tags::BITS_STORED, VR::US, u16::from(s.bits_stored));
    put(&mut obj, tags::HIGH_BIT, VR::US, u16::from(s.high_bit));
    put(&mut obj, tags::PIXEL_REPRESENTATION, VR::US, u16::from(s.signed % 3));
    put(&mut obj, tags::SAMPLES_PER_PIXEL, VR::US, u16::from(s.samples_per_pixel % 5));
    put(&mut obj, tags::PHOTOMETRIC_INTERPRETATION, VR::CS, PHOTOMETRIC[usize::from(s.photometric) % 8]);
    if let Some(p) = s.planar {
        put(&mut obj, tags::PLANAR_CONFIGURATION, VR::US, u16::from(p % 3));
    }
    if let Some(f) = &s.frames {
        put(&mut obj, tags::NUMBER_OF_FRAMES, VR::IS, f.text());
    }
    if let Some((slope, intercept)) = &s.rescale {
        put(&mut obj, tags::RESCALE_SLOPE, VR::DS, slope.text());
        put(&mut obj, tags::RESCALE_INTERCEPT, VR::DS, intercept.text());
    }
    if !s.windows.is_empty() {
        let centers: Vec<String> = s.windows.iter().take(4).map(|w| w.0.text()).collect();
        let widths: Vec<String> = s.windows.iter().take(4).map(|w| w.1.text()).collect();
        put(&mut obj, tags::WINDOW_CENTER, VR::DS, PrimitiveValue::Strs(centers.into_iter().collect()));
        put(&mut obj, tags::WINDOW_WIDTH, VR::DS, PrimitiveValue::Strs(widths.into_iter().collect()));
    }
    if let Some(f) = s.voi_function {
        put(&mut obj, tags::VOILUT_FUNCTION, VR::CS, VOI_FUNCTIONS[usize::from(f) % 4]);
    }
    if let Some(l) = &s.modality_lut {
        obj.put(sequence(tags::MODALITY_LUT_SEQUENCE, vec![lut_item(l)]));
    }
    if !s.voi_luts.is_empty() {
        obj.put(sequence(tags::VOILUT_SEQUENCE, s.voi_luts.iter().take(3).map(lut_item).collect()));
    }
    if let Some((value, limit)) = s.padding {
        put(&mut obj, tags::PIXEL_PADDING_VALUE, VR::US, value);
        if let Some(limit) = limit {
            put(&mut obj, tags::PIXEL_PADDING_RANGE_LIMIT, VR::US, limit);
        }
    }
    if let Some(inverse) = s.presentation_shape {
        put(&mut obj, tags::PRESENTATION_LUT_SHAPE, VR::CS, if inverse { "INVERSE" } else { "IDENTITY" });
    }
    if let Some((entries, first, data)) = &s.palette {
        for (desc, lut) in [
            (tags::RED_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR, tags::RED_PALETTE_COLOR_LOOKUP_TABLE_DATA),
            (tags::GREEN_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR, tags::GREEN_PALETTE_COLOR_LOOKUP_TABLE_DATA),
            (tags::BLUE_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR, tags::BLUE_PALETTE_COLOR_LOOKUP_TABLE_DATA),
        ] {
            put(&mut obj, desc, VR::US, PrimitiveValue::U16([*entries, *first, 16].into_iter().collect()));
            let mut bytes: Vec<u8> = data.iter().copied().take(1024).collect();
            bytes.resize(bytes.len() + bytes.len() % 2, 0);
            put(&mut obj, lut, VR::OW, PrimitiveValue::U8(bytes.into_iter().collect()));
        }
    }
    let declared = usize::from(s.rows)
        * usize::from(s.cols)
        * usize::from(s.samples_per_pixel % 5).max(1)
        * usize::from(bits_allocated).div_ceil(8);
    let mut pixels = s.pixels.clone().unwrap_or_else(|| {
        let mut x = u32::from(s.seed) | 1;
        (0..declared)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect()
    });
    let mut ts = TRANSFER_SYNTAX[usize::from(s.transfer_syntax) % TRANSFER_SYNTAX.len()];
    if let Some(c) = &s.codestream {
        ts = c.syntax();
        pixels.splice(0..0, c.header());
    }
    if s.encapsulated || ts == uids::RLE_LOSSLESS || s.codestream.is_some() {
        pixels.resize(pixels.len() + pixels.len() % 2, 0);
        obj.put(DataElement::new(
            tags::PIXEL_DATA,
            VR::OB,
            PixelFragmentSequence::new(Vec::<u32>::new(), vec![pixels]),
        ));
    } else {
        pixels.resize(pixels.len() + pixels.len() % 2, 0);
        put(&mut obj, tags::PIXEL_DATA, VR::OB, PrimitiveValue::U8(pixels.into_iter().collect()));
    }
    let file = obj.with_meta(FileMetaTableBuilder::new().transfer_syntax(ts)).ok()?;
    let mut buf = Vec::new();
    file.write_all(&mut buf).ok()?;
    Some(buf)
}

fn plan(p: &PlanSpec) -> Option<config::Plan> {
    let window = match p.window % 3 {
        0 => "\"file\"".to_string(),
        1 => "\"minmax\"".to_string(),
        _ => format!("{{ center = {:?}, width = {:?} }}", p.center, p.width_w),
    };
    let text = format!(
        "[input]\nroot = \".\"\n[image]\nsize = [{}, {}]\nresize = \"{}\"\nfilter = \"{}\"\ndtype = \"{}\"\n\
         window = {window}\nwindow_index = {}\nnormalize = \"{}\"\nmultiframe = \"{}\"\ncolor = \"{}\"\n\
         [output]\nroot = \".\"\n",
        1 + p.height % 48,
        1 + p.width % 48,
        if p.letterbox { "letterbox" } else { "stretch" },
        FILTERS[usize::from(p.filter) % 5],
        DTYPES[usize::from(p.dtype) % 3],
        p.window_index % 3,
        if p.normalize { "minmax" } else { "none" },
        if p.multiframe_reject { "reject" } else { "first" },
        if p.luma { "luma" } else { "reject" },
    );
    // A window the configuration rejects (width 0, NaN) is the configuration's error, not data.
    config::parse(&text, "fuzz", &Overrides::default()).ok()
}

fuzz_target!(|s: Spec| {
    let (Some(bytes), Some(plan)) = (file(&s), plan(&s.plan)) else { return };
    let polygons: Vec<_> = s
        .polygons
        .iter()
        .take(20)
        .map(|p| p.as_ref().map(|v| v.iter().take(64).map(|&(x, y)| [x, y]).collect()))
        .collect();
    let _ = process(bytes::Bytes::from(bytes), Decoder::Dicom, &polygons, &plan);
});
