//! Colour DICOM frames to grey, when the pipeline file asks for it (`image.color = "luma"`).
//!
//! Grey is Rec. 601 luma, `0.299 R + 0.587 G + 0.114 B`, rounded: exactly the Y of YBR_FULL,
//! so an `RGB` frame and a `YBR_FULL` frame of the same picture give the same grey. Codecs
//! (JPEG, JPEG 2000, JPEG-LS) hand back RGB; native and RLE frames keep the header's model.
//! PALETTE COLOR indices go through the Red/Green/Blue Palette Color LUTs first (inputs
//! clamped to each table, as pydicom's `apply_color_lut`), then the same luma.

use super::header::{reject, Header};
use super::image::{stored_value, Lut, Samples};
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
        Samples::U16(grey.iter().map(|v| v.round().clamp(0.0, 65535.0) as u16).collect::<Vec<_>>().into())
    } else {
        Samples::U8(grey.iter().map(|v| v.round().clamp(0.0, 255.0) as u8).collect())
    })
}

/// PALETTE COLOR frame → grey: each stored index (`bits_stored` low bits, sign-extended when
/// `signed`) through the three LUTs, then Rec. 601 luma, rounded. Grey samples are as wide as
/// the widest LUT entries (8 or 16 bits); the luma of every possible index is computed once.
pub fn palette_luma(indices: &Samples, bits_stored: u16, signed: bool, rgb: &[Lut; 3]) -> Samples {
    let bits = bits_stored.clamp(1, 16);
    let grey = |raw: u16| {
        let index = stored_value(raw, bits_stored, signed) as f64;
        let [r, g, b] = [0, 1, 2].map(|c| rgb[c].lookup(index));
        (0.299 * r + 0.587 * g + 0.114 * b).round()
    };
    let table: Vec<f64> = (0..=(u16::MAX >> (16 - bits))).map(grey).collect();
    let at = |raw: u16| table[(raw as usize) & (table.len() - 1)];
    let wide = rgb.iter().any(|l| l.bits > 8);
    match (indices, wide) {
        (Samples::U8(v), false) => Samples::U8(v.iter().map(|&i| at(i as u16) as u8).collect()),
        (Samples::U16(v), false) => Samples::U8(v.iter().map(|&i| at(i) as u8).collect()),
        (Samples::U8(v), true) => Samples::U16(v.iter().map(|&i| at(i as u16) as u16).collect::<Vec<_>>().into()),
        (Samples::U16(v), true) => Samples::U16(v.iter().map(|&i| at(i) as u16).collect::<Vec<_>>().into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lut(first: i32, bits: u16, data: &[u16]) -> Lut {
        Lut { first, bits, data: data.to_vec() }
    }

    #[test]
    fn palette_indices_map_through_each_lut_then_to_luma() {
        // index 0 → black, 1 → pure red, 2 → pure green, 3 → pure blue, 4 → white; first = 0
        let rgb = [
            lut(0, 16, &[0, 65535, 0, 0, 65535]),
            lut(0, 16, &[0, 0, 65535, 0, 65535]),
            lut(0, 16, &[0, 0, 0, 65535, 65535]),
        ];
        let grey = palette_luma(&Samples::U8(vec![0, 1, 2, 3, 4, 9]), 8, false, &rgb);
        // 0.299 × 65535 = 19594.97, 0.587 × 65535 = 38469.05, 0.114 × 65535 = 7470.99;
        // index 9 is past the tables' end: their last entries (white)
        assert_eq!(grey, Samples::U16(vec![0, 19595, 38469, 7471, 65535, 65535].into()));
    }

    #[test]
    fn palette_inputs_below_first_mapped_clamp_and_8_bit_tables_give_8_bit_grey() {
        let rgb = [lut(10, 8, &[100, 200]), lut(10, 8, &[100, 200]), lut(10, 8, &[100, 200])];
        let grey = palette_luma(&Samples::U16(vec![0, 10, 11, 0xF00B].into()), 12, false, &rgb);
        // 0 < first → entry 0; 0xF00B masked to 12 bits is 11 → entry 1
        assert_eq!(grey, Samples::U8(vec![100, 100, 200, 200]));
    }
}
