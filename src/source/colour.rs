//! Colour DICOM frames to grey, when the pipeline file asks for it (`image.color = "luma"`).
//!
//! Grey is Rec. 601 luma, `0.299 R + 0.587 G + 0.114 B`, rounded: exactly the Y of YBR_FULL,
//! so an `RGB` frame and a `YBR_FULL` frame of the same picture give the same grey. Codecs
//! (JPEG, JPEG 2000, JPEG-LS) hand back RGB; native and RLE frames keep the header's model.

use super::header::{reject, Header};
use super::image::Samples;
use crate::error::InputError;

/// Interleaved (or planar, per `PlanarConfiguration`) 3-sample frame → one grey sample per pixel.
///
/// # Errors
/// A reject for colour models without a defined luma here (`YBR_PARTIAL_420`, ...).
pub fn luma(data: &[u8], h: &Header, decoded_pi: &str, planar: bool) -> Result<Samples, InputError> {
    let n = h.rows as usize * h.cols as usize;
    let wide = h.bits_allocated == 16;
    let sample = |i: usize| -> f64 {
        if wide {
            data.get(2 * i..2 * i + 2).map_or(0.0, |b| u16::from_ne_bytes([b[0], b[1]]) as f64)
        } else {
            data.get(i).map_or(0.0, |&b| b as f64)
        }
    };
    let need = match decoded_pi {
        "YBR_FULL_422" => 2 * n,
        _ => 3 * n,
    } * h.sample_bytes();
    if data.len() < need {
        return Err(reject(format!("colour Pixel Data holds {} bytes, expected {need}", data.len())));
    }
    // Index of channel `c` of pixel `p` in the frame.
    let planar = planar && decoded_pi != "YBR_FULL_422";
    let at = |p: usize, c: usize| if planar { c * n + p } else { 3 * p + c };
    let grey: Vec<f64> = match decoded_pi {
        "RGB" => {
            (0..n).map(|p| 0.299 * sample(at(p, 0)) + 0.587 * sample(at(p, 1)) + 0.114 * sample(at(p, 2))).collect()
        }
        "YBR_FULL" => (0..n).map(|p| sample(at(p, 0))).collect(),
        // Y0 Y1 Cb Cr per pair of pixels (PS3.3 C.7.6.3.1.2).
        "YBR_FULL_422" => (0..n).map(|p| sample(4 * (p / 2) + p % 2)).collect(),
        other => {
            return Err(reject(format!(
                "colour model {other} (header {}): converting it to grey is not supported",
                h.photometric_name
            )))
        }
    };
    Ok(if wide {
        Samples::U16(grey.iter().map(|v| v.round().clamp(0.0, 65535.0) as u16).collect())
    } else {
        Samples::U8(grey.iter().map(|v| v.round().clamp(0.0, 255.0) as u8).collect())
    })
}
