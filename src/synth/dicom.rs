//! DICOM Part 10 encoding of one synthetic chest X-ray.
//!
//! Output is a complete file (preamble, `DICM`, file meta group, data set) in Explicit VR
//! Little Endian, SOP class Digital X-Ray Image Storage - For Presentation. Invariants:
//! - `BitsAllocated` 16, `BitsStored` 12 or 14, `HighBit` = `BitsStored - 1`, unsigned, and
//!   every stored value is `< 2^BitsStored`;
//! - `MONOCHROME1` images store inverted values, so after the display pipeline (rescale,
//!   window, MONOCHROME1 inversion) bone is bright in every file;
//! - window values are in rescaled (modality) units and bracket the bulk of the image;
//! - patient attributes are obviously synthetic and UIDs are deterministic in (seed, index).

use super::render::{percentile_sorted, Field};
use crate::error::{Error, Result};
use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::{meta::FileMetaTableBuilder, InMemDicomObject};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// Implementation Class UID of this generator (a fixed UUID-derived `2.25` UID).
const IMPLEMENTATION_CLASS_UID: &str = "2.25.268737295405946386458135932618186366443";
/// Implementation Version Name written to the file meta group.
const IMPLEMENTATION_VERSION_NAME: &str = "CXRSHARD_SYNTH";

/// Per-image header choices. Drawn for every image whatever the output format, so the RNG
/// stream (and thus the geometry drawn after it) is the same for DICOM and PNG output.
#[derive(Debug, Clone)]
pub struct Header {
    bits_stored: u16,
    mono1: bool,
    /// 0: no VOI window, 1: one window, 2: two windows (VM 2; the first one is meant).
    windows: u8,
    /// (slope, intercept) when the modality LUT is given.
    rescale: Option<(f64, f64)>,
    /// Detector range as fractions of the maximum stored value.
    range: (f64, f64),
    /// Window centre jitter in units of the percentile span, and width factor.
    jitter: (f64, f64),
}

impl Header {
    /// Draw the header choices (frequencies as in the Python reference generator).
    pub fn draw(rng: &mut ChaCha8Rng) -> Self {
        let bits_stored = if rng.random_bool(0.5) { 12 } else { 14 };
        let mono1 = rng.random_bool(0.15);
        let has_window = rng.random_bool(0.9);
        let two = rng.random_bool(0.2);
        let has_rescale = rng.random_bool(0.3);
        let slope = [0.5, 1.0, 2.0][rng.random_range(0..3usize)];
        let intercept = [-1024.0, 0.0, 100.0][rng.random_range(0..3usize)];
        let range = (rng.random_range(0.02..0.10), rng.random_range(0.80..0.97));
        let z: f64 = StandardNormal.sample(rng);
        let jitter = (z * 0.03, rng.random_range(0.85..1.15));
        Header {
            bits_stored,
            mono1,
            windows: if !has_window {
                0
            } else if two {
                2
            } else {
                1
            },
            rescale: has_rescale.then_some((slope, intercept)),
            range,
            jitter,
        }
    }

    fn max_value(&self) -> u16 {
        (1u16 << self.bits_stored) - 1
    }
}

/// Render `field` to stored values and encode the complete DICOM file for image `index`.
pub fn encode(
    header: &Header,
    field: &Field,
    rng: &mut ChaCha8Rng,
    noise: f32,
    (seed, index): (u64, usize),
) -> Result<Vec<u8>> {
    let maxval = f32::from(header.max_value());
    let lo = (header.range.0 as f32) * maxval;
    let hi = (header.range.1 as f32) * maxval;
    let mono1 = header.mono1;
    let stored: Vec<u16> = field.upsample(rng, noise, |p| {
        let raw = lo + p * (hi - lo);
        let raw = if mono1 { maxval - raw } else { raw };
        raw.round().clamp(0.0, maxval) as u16
    });
    let (rows, cols) = field_dims(field);
    let window = window(header, &stored, rows, cols);
    let mut pixels = Vec::with_capacity(stored.len() * 2);
    for v in &stored {
        pixels.extend_from_slice(&v.to_le_bytes());
    }
    drop(stored);
    let mut obj = InMemDicomObject::new_empty();
    put_identity(&mut obj, seed, index);
    put_image(&mut obj, header, rows, cols);
    put_luts(&mut obj, header, window);
    put(&mut obj, tags::PIXEL_DATA, VR::OW, pixels);
    write(obj)
}

fn field_dims(field: &Field) -> (u16, u16) {
    let (rows, cols) = field.dims();
    // Options validation caps sides at u16::MAX (Rows/Columns are US).
    (rows as u16, cols as u16)
}

/// Window (centre, width) in rescaled units from the 1st..99th percentiles of a subsample.
fn window(header: &Header, stored: &[u16], rows: u16, cols: u16) -> (f64, f64) {
    let (rows, cols) = (usize::from(rows), usize::from(cols));
    let step = (rows.min(cols) / 256).max(1);
    let mut sample: Vec<u16> =
        (0..rows).step_by(step).flat_map(|r| stored[r * cols..(r + 1) * cols].iter().step_by(step).copied()).collect();
    sample.sort_unstable();
    // The modality LUT is increasing (slope > 0), so percentiles commute with it.
    let (slope, intercept) = header.rescale.unwrap_or((1.0, 0.0));
    let p_lo = percentile_sorted(&sample, 1.0) * slope + intercept;
    let p_hi = percentile_sorted(&sample, 99.0) * slope + intercept;
    let centre = (p_lo + p_hi) / 2.0 + header.jitter.0 * (p_hi - p_lo);
    let width = ((p_hi - p_lo) * header.jitter.1).max(2.0);
    (centre, width)
}

fn put(obj: &mut InMemDicomObject, tag: Tag, vr: VR, value: impl Into<PrimitiveValue>) {
    obj.put(DataElement::new(tag, vr, value.into()));
}

/// Decimal string (DS) value: at most 16 characters, as the standard requires.
fn ds(x: f64) -> String {
    let mut s = format!("{x:.2}");
    s.truncate(16);
    s
}

fn multi(values: &[String]) -> PrimitiveValue {
    PrimitiveValue::Strs(values.iter().cloned().collect())
}

/// SOP, study, series and patient attributes.
fn put_identity(obj: &mut InMemDicomObject, seed: u64, index: usize) {
    let sop = uid(seed, index, 1);
    put(obj, tags::SOP_CLASS_UID, VR::UI, uids::DIGITAL_X_RAY_IMAGE_STORAGE_FOR_PRESENTATION);
    put(obj, tags::SOP_INSTANCE_UID, VR::UI, sop);
    put(obj, tags::STUDY_INSTANCE_UID, VR::UI, uid(seed, index, 2));
    put(obj, tags::SERIES_INSTANCE_UID, VR::UI, uid(seed, index, 3));
    put(obj, tags::IMAGE_TYPE, VR::CS, multi(&["ORIGINAL".into(), "PRIMARY".into()]));
    // Obviously synthetic patient data, so tests can assert it never leaks downstream.
    put(obj, tags::PATIENT_NAME, VR::PN, format!("Synthetic^{index:05}"));
    put(obj, tags::PATIENT_ID, VR::LO, format!("SYNTH{index:05}"));
    put(obj, tags::PATIENT_BIRTH_DATE, VR::DA, "19700101");
    put(obj, tags::PATIENT_SEX, VR::CS, "O");
    put(obj, tags::STUDY_DATE, VR::DA, "20200101");
    put(obj, tags::CONTENT_DATE, VR::DA, "20200101");
    put(obj, tags::STUDY_TIME, VR::TM, "120000");
    put(obj, tags::CONTENT_TIME, VR::TM, "120000");
    put(obj, tags::MODALITY, VR::CS, "DX");
    put(obj, tags::MANUFACTURER, VR::LO, "cxrshard synth");
    put(obj, tags::BODY_PART_EXAMINED, VR::CS, "CHEST");
    put(obj, tags::VIEW_POSITION, VR::CS, "PA");
    put(obj, tags::PRESENTATION_INTENT_TYPE, VR::CS, "FOR PRESENTATION");
    put(obj, tags::SERIES_NUMBER, VR::IS, "1");
    put(obj, tags::INSTANCE_NUMBER, VR::IS, "1");
}

/// Image pixel module attributes (everything but the pixel data itself).
fn put_image(obj: &mut InMemDicomObject, h: &Header, rows: u16, cols: u16) {
    let photometric = if h.mono1 { "MONOCHROME1" } else { "MONOCHROME2" };
    put(obj, tags::SAMPLES_PER_PIXEL, VR::US, 1u16);
    put(obj, tags::PHOTOMETRIC_INTERPRETATION, VR::CS, photometric);
    put(obj, tags::ROWS, VR::US, rows);
    put(obj, tags::COLUMNS, VR::US, cols);
    let spacing = multi(&["0.15".into(), "0.15".into()]);
    put(obj, tags::PIXEL_SPACING, VR::DS, spacing);
    put(obj, tags::BITS_ALLOCATED, VR::US, 16u16);
    put(obj, tags::BITS_STORED, VR::US, h.bits_stored);
    put(obj, tags::HIGH_BIT, VR::US, h.bits_stored - 1);
    put(obj, tags::PIXEL_REPRESENTATION, VR::US, 0u16);
}

/// Modality LUT (rescale) and VOI LUT (window) attributes; the window is in rescaled units.
fn put_luts(obj: &mut InMemDicomObject, h: &Header, win: (f64, f64)) {
    if let Some((slope, intercept)) = h.rescale {
        put(obj, tags::RESCALE_INTERCEPT, VR::DS, ds(intercept));
        put(obj, tags::RESCALE_SLOPE, VR::DS, ds(slope));
        put(obj, tags::RESCALE_TYPE, VR::LO, "US");
    }
    let (centre, width) = win;
    match h.windows {
        0 => {}
        1 => {
            put(obj, tags::WINDOW_CENTER, VR::DS, ds(centre));
            put(obj, tags::WINDOW_WIDTH, VR::DS, ds(width));
        }
        _ => {
            // A second, alternative window as some modalities offer; readers use the first.
            let centres = multi(&[ds(centre), ds(centre * 1.1)]);
            let widths = multi(&[ds(width), ds(width * 0.8)]);
            put(obj, tags::WINDOW_CENTER, VR::DS, centres);
            put(obj, tags::WINDOW_WIDTH, VR::DS, widths);
        }
    }
}

/// Wrap in a file meta group and serialise the whole Part 10 file to memory.
fn write(obj: InMemDicomObject) -> Result<Vec<u8>> {
    let meta = FileMetaTableBuilder::new()
        .transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN)
        .implementation_class_uid(IMPLEMENTATION_CLASS_UID)
        .implementation_version_name(IMPLEMENTATION_VERSION_NAME);
    // Writing to memory cannot fail on I/O, so any failure here is a bug in this module.
    let file = obj.with_meta(meta).map_err(|e| Error::Internal(format!("synth: building DICOM meta group: {e}")))?;
    let mut buf = Vec::new();
    file.write_all(&mut buf).map_err(|e| Error::Internal(format!("synth: encoding DICOM: {e}")))?;
    Ok(buf)
}

/// A deterministic `2.25.<decimal>` UID (at most 44 characters) for (seed, index, kind).
pub fn uid(seed: u64, index: usize, kind: u64) -> String {
    let a = splitmix(seed ^ splitmix(index as u64 ^ splitmix(kind)));
    let b = splitmix(a ^ kind.rotate_left(32));
    let v = (u128::from(a) << 64 | u128::from(b)).max(1);
    format!("2.25.{v}")
}

/// SplitMix64 finaliser: a cheap, well-mixed bijection on u64.
fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_are_valid_and_distinct() {
        let a = uid(0, 0, 1);
        assert!(a.len() <= 64 && a.starts_with("2.25.") && !a[5..].starts_with('0'));
        assert!(a[5..].chars().all(|c| c.is_ascii_digit()));
        assert_ne!(a, uid(0, 1, 1));
        assert_ne!(a, uid(1, 0, 1));
        assert_ne!(a, uid(0, 0, 2));
        assert_eq!(a, uid(0, 0, 1));
    }

    #[test]
    fn ds_fits_sixteen_chars() {
        assert_eq!(ds(-1024.0), "-1024.00");
        assert_eq!(ds(0.5), "0.50");
        assert!(ds(-1.0e20).len() <= 16);
    }
}
