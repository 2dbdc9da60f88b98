//! Image decoders: DICOM through `dicom-object` + `dicom-pixeldata`, rasters through `image`.
//!
//! Decoders only read: they return stored values and the allow-listed technical attributes
//! in a [`SourceImage`]; all display maths (modality LUT, VOI, inversion) lives in
//! `transform::window`. `dicom-pixeldata` is used without its conversion helpers (which
//! would apply or skip LUTs and invert MONOCHROME1 on their own) and without rayon, so that
//! nothing is applied twice and there is no nested thread pool. Every failure is an
//! [`InputError`] saying what was found and what was expected; nothing here panics on data.

use super::image::{Photometric, Samples, SourceImage, SourceKind, VoiFunction};
use crate::error::{InputError, Stage};
use dicom_dictionary_std::tags;
use dicom_object::file::ReadPreamble;
use dicom_object::{DefaultDicomObject, OpenFileOptions};
use dicom_pixeldata::PixelDecoder;

/// Largest decoded frame accepted, in pixels (a decompression-bomb guard; 16k x 16k).
pub const MAX_PIXELS: u64 = 16_384 * 16_384;

fn reject(reason: impl Into<String>) -> InputError {
    InputError::new(Stage::Decode, reason)
}

/// Decode frame 0 of a DICOM Part 10 file held in memory.
///
/// The header (everything before Pixel Data) is parsed by `dicom-object`. For the native
/// little-endian transfer syntaxes the samples are then read straight from the file's
/// bytes; every other case goes through `dicom-pixeldata`'s decoder.
pub fn decode_dicom(bytes: &[u8]) -> Result<SourceImage, InputError> {
    let head = OpenFileOptions::new()
        .read_preamble(ReadPreamble::Auto)
        .read_until(tags::PIXEL_DATA)
        .from_reader(bytes)
        .map_err(|e| reject(format!("not a readable DICOM Part 10 file: {e}")))?;
    let header = Header::read(&head)?;
    let samples = match native_pixel_range(bytes, &header) {
        Some(range) => samples_from_bytes(&bytes[range], &header)?,
        None => decode_with_pixeldata(bytes, &header)?,
    };
    Ok(SourceImage {
        width: header.cols,
        height: header.rows,
        samples,
        bits_stored: header.bits_stored,
        signed: header.signed,
        photometric: header.photometric,
        rescale: header.rescale,
        windows: header.windows,
        voi_function: header.voi_function,
        kind: SourceKind::Dicom,
        transfer_syntax: Some(header.transfer_syntax),
    })
}

/// The general path: parse the whole file and let `dicom-pixeldata` decode frame 0.
fn decode_with_pixeldata(bytes: &[u8], header: &Header) -> Result<Samples, InputError> {
    let obj = OpenFileOptions::new()
        .read_preamble(ReadPreamble::Auto)
        .from_reader(bytes)
        .map_err(|e| reject(format!("not a readable DICOM Part 10 file: {e}")))?;
    if obj.get(tags::PIXEL_DATA).is_none() {
        return Err(reject("no Pixel Data (7FE0,0010) element"));
    }
    let decoded = obj.decode_pixel_data_frame(0).map_err(|e| {
        reject(format!(
            "cannot decode Pixel Data (transfer syntax {}): {e}",
            transfer_syntax_name(&header.transfer_syntax)
        ))
    })?;
    samples_from_bytes(decoded.data(), header)
}

const IMPLICIT_VR_LE: &str = "1.2.840.10008.1.2";
const EXPLICIT_VR_LE: &str = "1.2.840.10008.1.2.1";

/// Where frame 0's samples are in a native little-endian file: the value of the first
/// top-level-looking Pixel Data element header (tag, VR `OB`/`OW` for explicit VR, a defined
/// length that fits in the file and covers one frame). `None` sends the file to the general
/// decoder, which handles everything else.
fn native_pixel_range(bytes: &[u8], h: &Header) -> Option<std::ops::Range<usize>> {
    let explicit = match h.transfer_syntax.as_str() {
        EXPLICIT_VR_LE => true,
        IMPLICIT_VR_LE => false,
        _ => return None,
    };
    let need = h.rows as usize * h.cols as usize * (h.bits_allocated as usize / 8);
    let tag = [0xE0, 0x7F, 0x10, 0x00];
    let u32_at = |i: usize| bytes.get(i..i + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize);
    (0..bytes.len().saturating_sub(8)).filter(|&i| bytes[i..i + 4] == tag).find_map(|i| {
        let (len, start) = if explicit {
            let vr = &bytes[i + 4..i + 8];
            if !(vr == b"OW\0\0" || vr == b"OB\0\0") {
                return None;
            }
            (u32_at(i + 8)?, i + 12)
        } else {
            (u32_at(i + 4)?, i + 8)
        };
        (len != 0xFFFF_FFFF && len >= need && start + len <= bytes.len()).then_some(start..start + need)
    })
}

/// The allow-listed technical attributes, checked before touching Pixel Data.
struct Header {
    rows: u32,
    cols: u32,
    bits_allocated: u16,
    bits_stored: u16,
    signed: bool,
    photometric: Photometric,
    rescale: Option<(f64, f64)>,
    windows: Vec<(f64, f64)>,
    voi_function: VoiFunction,
    transfer_syntax: String,
}

impl Header {
    fn read(obj: &DefaultDicomObject) -> Result<Self, InputError> {
        let transfer_syntax = obj.meta().transfer_syntax().trim_end_matches('\0').to_string();
        let rows = required_int(obj, tags::ROWS, "Rows")?;
        let cols = required_int(obj, tags::COLUMNS, "Columns")?;
        let samples_per_pixel = optional_int(obj, tags::SAMPLES_PER_PIXEL).unwrap_or(1);
        let bits_allocated = required_int(obj, tags::BITS_ALLOCATED, "BitsAllocated")? as u16;
        let bits_stored = optional_int(obj, tags::BITS_STORED).unwrap_or(bits_allocated as u32) as u16;
        let signed = optional_int(obj, tags::PIXEL_REPRESENTATION).unwrap_or(0) == 1;
        let pi = string(obj, tags::PHOTOMETRIC_INTERPRETATION).unwrap_or_default();
        if rows == 0 || cols == 0 || rows as u64 * cols as u64 > MAX_PIXELS {
            return Err(reject(format!("image is {rows}x{cols}, expected 1..={MAX_PIXELS} pixels")));
        }
        let photometric = match (pi.as_str(), samples_per_pixel) {
            ("MONOCHROME1", 1) => Photometric::Monochrome1,
            ("MONOCHROME2", 1) => Photometric::Monochrome2,
            _ => {
                return Err(reject(format!(
                    "PhotometricInterpretation {pi:?} with SamplesPerPixel {samples_per_pixel}: only greyscale MONOCHROME1/MONOCHROME2 is supported"
                )))
            }
        };
        if !(bits_allocated == 8 || bits_allocated == 16) || bits_stored == 0 || bits_stored > bits_allocated {
            return Err(reject(format!(
                "BitsAllocated {bits_allocated} / BitsStored {bits_stored}: expected 8 or 16 bits allocated with 1..=allocated bits stored"
            )));
        }
        Ok(Header {
            rows,
            cols,
            bits_allocated,
            bits_stored,
            signed,
            photometric,
            rescale: rescale(obj)?,
            windows: windows(obj),
            voi_function: voi_function(obj),
            transfer_syntax,
        })
    }
}

fn samples_from_bytes(data: &[u8], h: &Header) -> Result<Samples, InputError> {
    let n = h.rows as usize * h.cols as usize;
    let need = n * (h.bits_allocated as usize / 8);
    if data.len() < need {
        return Err(reject(format!(
            "Pixel Data holds {} bytes, expected at least {need} for {}x{} at {} bits allocated",
            data.len(),
            h.rows,
            h.cols,
            h.bits_allocated
        )));
    }
    Ok(match h.bits_allocated {
        8 => Samples::U8(data[..n].to_vec()),
        _ => Samples::U16(data[..need].chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect()),
    })
}

fn required_int(obj: &DefaultDicomObject, tag: dicom_core::Tag, name: &str) -> Result<u32, InputError> {
    let e = obj.get(tag).ok_or_else(|| reject(format!("missing {name} {tag}")))?;
    e.to_int::<u32>().map_err(|err| reject(format!("{name} {tag}: {err}")))
}

fn optional_int(obj: &DefaultDicomObject, tag: dicom_core::Tag) -> Option<u32> {
    obj.get(tag).and_then(|e| e.to_int::<u32>().ok())
}

fn string(obj: &DefaultDicomObject, tag: dicom_core::Tag) -> Option<String> {
    obj.get(tag)
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim_matches(|c: char| c == '\0' || c.is_whitespace()).to_string())
}

fn floats(obj: &DefaultDicomObject, tag: dicom_core::Tag) -> Vec<f64> {
    obj.get(tag).and_then(|e| e.to_multi_float64().ok()).unwrap_or_default()
}

fn rescale(obj: &DefaultDicomObject) -> Result<Option<(f64, f64)>, InputError> {
    let slope = floats(obj, tags::RESCALE_SLOPE);
    let intercept = floats(obj, tags::RESCALE_INTERCEPT);
    if slope.is_empty() && intercept.is_empty() {
        return Ok(None);
    }
    let s = slope.first().copied().unwrap_or(1.0);
    let i = intercept.first().copied().unwrap_or(0.0);
    if !s.is_finite() || !i.is_finite() || s == 0.0 {
        return Err(InputError::new(
            Stage::Window,
            format!("RescaleSlope {s} / RescaleIntercept {i}: expected finite values and a non-zero slope"),
        ));
    }
    Ok(Some((s, i)))
}

fn windows(obj: &DefaultDicomObject) -> Vec<(f64, f64)> {
    let c = floats(obj, tags::WINDOW_CENTER);
    let w = floats(obj, tags::WINDOW_WIDTH);
    c.into_iter().zip(w).filter(|(c, w)| c.is_finite() && w.is_finite() && *w > 0.0).collect()
}

fn voi_function(obj: &DefaultDicomObject) -> VoiFunction {
    match string(obj, tags::VOILUT_FUNCTION).as_deref() {
        Some("LINEAR_EXACT") => VoiFunction::LinearExact,
        Some("SIGMOID") => VoiFunction::Sigmoid,
        _ => VoiFunction::Linear,
    }
}

/// A readable name for common transfer syntaxes (falls back to the UID).
pub fn transfer_syntax_name(uid: &str) -> String {
    use dicom_transfer_syntax_registry::TransferSyntaxIndex;
    dicom_transfer_syntax_registry::TransferSyntaxRegistry
        .get(uid)
        .map(|ts| format!("{} ({uid})", ts.name()))
        .unwrap_or_else(|| format!("unknown ({uid})"))
}

/// Decode a raster image (PNG, JPEG, ...) as greyscale: 8- and 16-bit grey are kept as is;
/// colour is converted to luma (Rec. 709 weights, the `image` crate's conversion).
pub fn decode_raster(bytes: &[u8]) -> Result<SourceImage, InputError> {
    use image::DynamicImage;
    let reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| reject(format!("cannot read image header: {e}")))?;
    let (w, h) = reader.into_dimensions().map_err(|e| reject(format!("not a readable image: {e}")))?;
    if w == 0 || h == 0 || w as u64 * h as u64 > MAX_PIXELS {
        return Err(reject(format!("image is {h}x{w}, expected 1..={MAX_PIXELS} pixels")));
    }
    let img = image::load_from_memory(bytes).map_err(|e| reject(format!("cannot decode image: {e}")))?;
    let (samples, bits) = match img {
        DynamicImage::ImageLuma8(b) => (Samples::U8(b.into_raw()), 8),
        DynamicImage::ImageLuma16(b) => (Samples::U16(b.into_raw()), 16),
        DynamicImage::ImageLumaA16(_) | DynamicImage::ImageRgb16(_) | DynamicImage::ImageRgba16(_) => {
            (Samples::U16(img.into_luma16().into_raw()), 16)
        }
        other => (Samples::U8(other.into_luma8().into_raw()), 8),
    };
    Ok(SourceImage {
        width: w,
        height: h,
        samples,
        bits_stored: bits,
        signed: false,
        photometric: Photometric::Monochrome2,
        rescale: None,
        windows: Vec::new(),
        voi_function: VoiFunction::Linear,
        kind: SourceKind::Raster,
        transfer_syntax: None,
    })
}
