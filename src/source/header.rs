//! The allow-listed technical attributes of a DICOM file, read and checked before any pixel
//! is touched: geometry, sample layout, photometric interpretation, the modality and VOI
//! transforms (values and LUT sequences), Presentation LUT Shape and pixel padding.
//!
//! Nothing else is read from a file. Every problem is an [`InputError`] naming the attribute,
//! what was found and what was expected.

use super::image::{DisplayLuts, Lut, Padding, Photometric, VoiFunction};
use crate::error::{InputError, Stage};
use dicom_core::Tag;
use dicom_dictionary_std::tags;
use dicom_object::{DefaultDicomObject, InMemDicomObject};

/// Largest decoded frame accepted, in pixels (a decompression-bomb guard; 16k x 16k).
pub const MAX_PIXELS: u64 = 16_384 * 16_384;

/// Largest LUT accepted, in entries (the standard's maximum: a 16-bit descriptor, 0 = 65536).
const MAX_LUT_ENTRIES: usize = 65_536;

pub(crate) fn reject(reason: impl Into<String>) -> InputError {
    InputError::new(Stage::Decode, reason)
}

/// Colour models a file may declare (decoded to grey only on request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Colour {
    /// Greyscale, MONOCHROME1 or MONOCHROME2.
    Grey(Photometric),
    /// Three samples per pixel: `RGB` or `YBR_*` (see `Header::photometric_name`).
    Colour,
    /// `PALETTE COLOR`: one sample per pixel indexing the Red/Green/Blue Palette Color LUTs.
    Palette,
}

/// The allow-listed technical attributes of one file.
#[derive(Debug, Clone)]
pub struct Header {
    /// Rows.
    pub rows: u32,
    /// Columns.
    pub cols: u32,
    /// Samples per pixel (1 or 3).
    pub samples_per_pixel: u16,
    /// Bits allocated (8 or 16).
    pub bits_allocated: u16,
    /// Bits stored.
    pub bits_stored: u16,
    /// Pixel Representation 1.
    pub signed: bool,
    /// Photometric Interpretation as written.
    pub photometric_name: String,
    /// Greyscale or colour.
    pub colour: Colour,
    /// Planar Configuration 1 (colour planes one after the other).
    pub planar: bool,
    /// Number of Frames (1 when absent).
    pub frames: u32,
    /// Rescale (slope, intercept).
    pub rescale: Option<(f64, f64)>,
    /// (center, width) pairs.
    pub windows: Vec<(f64, f64)>,
    /// VOI LUT Function.
    pub voi_function: VoiFunction,
    /// LUT sequences, presentation shape, padding.
    pub luts: DisplayLuts,
    /// Transfer syntax UID.
    pub transfer_syntax: String,
    /// Red, green and blue Palette Color LUTs (PALETTE COLOR only).
    pub palette: Option<[Lut; 3]>,
}

impl Header {
    /// Read and check the header of a parsed file.
    ///
    /// # Errors
    /// A reject naming the first attribute that is missing, malformed or unsupported.
    pub fn read(obj: &DefaultDicomObject) -> Result<Self, InputError> {
        let transfer_syntax = obj.meta().transfer_syntax().trim_end_matches('\0').to_string();
        let rows = required_int(obj, tags::ROWS, "Rows")?;
        let cols = required_int(obj, tags::COLUMNS, "Columns")?;
        let samples_per_pixel = optional_int(obj, tags::SAMPLES_PER_PIXEL).unwrap_or(1) as u16;
        let bits_allocated = required_int(obj, tags::BITS_ALLOCATED, "BitsAllocated")? as u16;
        let bits_stored = optional_int(obj, tags::BITS_STORED).unwrap_or(bits_allocated as u32) as u16;
        let signed = optional_int(obj, tags::PIXEL_REPRESENTATION).unwrap_or(0) == 1;
        let photometric_name = string(obj, tags::PHOTOMETRIC_INTERPRETATION).unwrap_or_default();
        if rows == 0 || cols == 0 || rows as u64 * cols as u64 > MAX_PIXELS {
            return Err(reject(format!("image is {rows}x{cols}, expected 1..={MAX_PIXELS} pixels")));
        }
        let colour = colour_model(&photometric_name, samples_per_pixel)?;
        if !(bits_allocated == 8 || bits_allocated == 16) || bits_stored == 0 || bits_stored > bits_allocated {
            return Err(reject(format!(
                "BitsAllocated {bits_allocated} / BitsStored {bits_stored}: expected 8 or 16 bits allocated with 1..=allocated bits stored"
            )));
        }
        let luts = DisplayLuts {
            modality: sequence_luts(obj, tags::MODALITY_LUT_SEQUENCE, "ModalityLUTSequence", signed)?
                .into_iter()
                .next(),
            voi: sequence_luts(obj, tags::VOILUT_SEQUENCE, "VOILUTSequence", signed)?,
            presentation_inverse: string(obj, tags::PRESENTATION_LUT_SHAPE).as_deref() == Some("INVERSE"),
            padding: padding(obj, signed),
        };
        let palette = if colour == Colour::Palette { Some(palette(obj)?) } else { None };
        Ok(Header {
            rows,
            cols,
            samples_per_pixel,
            bits_allocated,
            bits_stored,
            signed,
            colour,
            planar: optional_int(obj, tags::PLANAR_CONFIGURATION) == Some(1),
            frames: string(obj, tags::NUMBER_OF_FRAMES).and_then(|s| s.parse().ok()).unwrap_or(1).max(1),
            photometric_name,
            rescale: rescale(obj)?,
            windows: windows(obj),
            voi_function: voi_function(obj),
            luts,
            transfer_syntax,
            palette,
        })
    }

    /// Bytes per sample.
    pub fn sample_bytes(&self) -> usize {
        self.bits_allocated as usize / 8
    }
}

fn colour_model(pi: &str, spp: u16) -> Result<Colour, InputError> {
    match (pi, spp) {
        ("MONOCHROME1", 1) => Ok(Colour::Grey(Photometric::Monochrome1)),
        ("MONOCHROME2", 1) => Ok(Colour::Grey(Photometric::Monochrome2)),
        ("RGB" | "YBR_FULL" | "YBR_FULL_422" | "YBR_ICT" | "YBR_RCT" | "YBR_PARTIAL_420", 3) => Ok(Colour::Colour),
        ("PALETTE COLOR", 1) => Ok(Colour::Palette),
        _ => Err(reject(format!(
            "PhotometricInterpretation {pi:?} with SamplesPerPixel {spp}: expected MONOCHROME1/MONOCHROME2 \
             or PALETTE COLOR (1 sample) or RGB/YBR (3 samples); others are not supported"
        ))),
    }
}

fn required_int(obj: &InMemDicomObject, tag: Tag, name: &str) -> Result<u32, InputError> {
    let e = obj.get(tag).ok_or_else(|| reject(format!("missing {name} {tag}")))?;
    e.to_int::<u32>().map_err(|err| reject(format!("{name} {tag}: {err}")))
}

fn optional_int(obj: &InMemDicomObject, tag: Tag) -> Option<u32> {
    obj.get(tag).and_then(|e| e.to_int::<u32>().ok())
}

fn string(obj: &InMemDicomObject, tag: Tag) -> Option<String> {
    obj.get(tag)
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim_matches(|c: char| c == '\0' || c.is_whitespace()).to_string())
}

fn floats(obj: &InMemDicomObject, tag: Tag) -> Vec<f64> {
    obj.get(tag).and_then(|e| e.to_multi_float64().ok()).unwrap_or_default()
}

fn rescale(obj: &InMemDicomObject) -> Result<Option<(f64, f64)>, InputError> {
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

fn windows(obj: &InMemDicomObject) -> Vec<(f64, f64)> {
    let c = floats(obj, tags::WINDOW_CENTER);
    let w = floats(obj, tags::WINDOW_WIDTH);
    c.into_iter().zip(w).filter(|(c, w)| c.is_finite() && w.is_finite() && *w > 0.0).collect()
}

fn voi_function(obj: &InMemDicomObject) -> VoiFunction {
    match string(obj, tags::VOILUT_FUNCTION).as_deref() {
        Some("LINEAR_EXACT") => VoiFunction::LinearExact,
        Some("SIGMOID") => VoiFunction::Sigmoid,
        _ => VoiFunction::Linear,
    }
}

/// A US/SS value from an ambiguous-VR element as the signedness of the pixels says.
fn as_signed_if(v: i64, signed: bool) -> i32 {
    if signed && v >= 0x8000 {
        (v - 0x1_0000) as i32
    } else {
        v as i32
    }
}

fn padding(obj: &InMemDicomObject, signed: bool) -> Option<Padding> {
    let read = |tag| {
        let v = obj.get(tag)?.to_int::<i64>().ok()?;
        // SS may have been read as negative already; US ≥ 2^15 is re-read as SS when signed.
        Some(if v < 0 { v as i32 } else { as_signed_if(v, signed) })
    };
    let value = read(tags::PIXEL_PADDING_VALUE)?;
    Some(Padding { value, limit: read(tags::PIXEL_PADDING_RANGE_LIMIT) })
}

/// The LUTs of a Modality/VOI LUT Sequence, in item order.
fn sequence_luts(obj: &InMemDicomObject, tag: Tag, name: &str, signed: bool) -> Result<Vec<Lut>, InputError> {
    let Some(items) = obj.get(tag).and_then(|e| e.items()) else { return Ok(Vec::new()) };
    items
        .iter()
        .enumerate()
        .map(|(n, item)| lut(item, signed).map_err(|e| reject(format!("{name} item {n}: {e}"))))
        .collect()
}

fn lut(item: &InMemDicomObject, signed: bool) -> Result<Lut, String> {
    let desc: Vec<i64> = item
        .get(tags::LUT_DESCRIPTOR)
        .ok_or("missing LUTDescriptor (0028,3002)")?
        .to_multi_int::<i64>()
        .map_err(|e| format!("LUTDescriptor: {e}"))?;
    let [entries, first, bits] = desc[..] else {
        return Err(format!("LUTDescriptor has {} values, expected 3", desc.len()));
    };
    let entries = if entries == 0 { MAX_LUT_ENTRIES } else { (entries as usize).min(MAX_LUT_ENTRIES) };
    if !(1..=16).contains(&bits) {
        return Err(format!("LUTDescriptor bits per entry {bits}: expected 1..=16"));
    }
    let elem = item.get(tags::LUT_DATA).ok_or("missing LUTData (0028,3006)")?;
    let data: Vec<u16> = match elem.value().primitive() {
        Some(dicom_core::PrimitiveValue::U8(v)) if bits <= 8 => v.iter().map(|&b| b as u16).collect(),
        _ => elem.to_multi_int::<u16>().map_err(|e| format!("LUTData: {e}"))?.into_iter().collect(),
    };
    if data.len() < entries {
        return Err(format!("LUTData has {} entries, the descriptor says {entries}", data.len()));
    }
    let first = if first < 0 { first as i32 } else { as_signed_if(first, signed) };
    Ok(Lut { first, bits: bits as u16, data: data[..entries].to_vec() })
}

/// The Red, Green and Blue Palette Color LUTs (PS3.3 C.7.6.3.1.5-6). Entries are 8- or 16-bit
/// as the data's length says (as pydicom reads them: some files declare 16 bits and store bytes);
/// segmented palettes are not supported.
fn palette(obj: &InMemDicomObject) -> Result<[Lut; 3], InputError> {
    let one = |desc: Tag, data: Tag, colour: &str| -> Result<Lut, InputError> {
        let name = format!("{colour} Palette Color LUT");
        let e = |m: String| reject(format!("PALETTE COLOR: {name}: {m}"));
        let d: Vec<i64> = obj
            .get(desc)
            .ok_or_else(|| e(format!("missing descriptor {desc}")))?
            .to_multi_int::<i64>()
            .map_err(|err| e(format!("descriptor: {err}")))?;
        let [entries, first, _bits] = d[..] else {
            return Err(e(format!("descriptor has {} values, expected 3", d.len())));
        };
        let entries = if entries == 0 { MAX_LUT_ENTRIES } else { (entries as usize).min(MAX_LUT_ENTRIES) };
        let data =
            obj.get(data).ok_or_else(|| e(format!("missing data {data} (segmented palettes are not supported)")))?;
        let (values, bits) = palette_entries(data.value().primitive(), entries).ok_or_else(|| {
            e(format!("LUT data does not hold {entries} 8- or 16-bit entries as the descriptor says"))
        })?;
        Ok(Lut { first: first as i32, bits, data: values })
    };
    Ok([
        one(tags::RED_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR, tags::RED_PALETTE_COLOR_LOOKUP_TABLE_DATA, "Red")?,
        one(tags::GREEN_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR, tags::GREEN_PALETTE_COLOR_LOOKUP_TABLE_DATA, "Green")?,
        one(tags::BLUE_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR, tags::BLUE_PALETTE_COLOR_LOOKUP_TABLE_DATA, "Blue")?,
    ])
}

/// `entries` LUT values and their width from a palette's data, however it was parsed (bytes or
/// little-endian words): 8-bit entries when the data is `entries` bytes long, 16-bit when twice.
fn palette_entries(value: Option<&dicom_core::PrimitiveValue>, entries: usize) -> Option<(Vec<u16>, u16)> {
    use dicom_core::PrimitiveValue as P;
    let bytes: Vec<u8> = match value? {
        P::U8(v) => v.to_vec(),
        P::U16(v) => v.iter().flat_map(|w| w.to_le_bytes()).collect(),
        _ => return None,
    };
    match bytes.len() / entries {
        1 => Some((bytes[..entries].iter().map(|&b| b as u16).collect(), 8)),
        2 => Some((bytes[..2 * entries].chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect(), 16)),
        _ => None,
    }
}

/// A readable name for a transfer syntax (falls back to the UID).
pub fn transfer_syntax_name(uid: &str) -> String {
    use dicom_transfer_syntax_registry::TransferSyntaxIndex;
    dicom_transfer_syntax_registry::TransferSyntaxRegistry
        .get(uid)
        .map(|ts| format!("{} ({uid})", ts.name()))
        .unwrap_or_else(|| format!("unknown ({uid})"))
}
