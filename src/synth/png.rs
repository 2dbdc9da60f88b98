//! 8-bit grayscale PNG encoding of one synthetic image, display-ready like the public
//! VinDr-RibCXR release.
//!
//! Invariants: bone is bright (no inversion needed), and the 1st..99th percentile range of
//! the noise-free content is stretched over 0..=255, so the image is never constant.

use super::render::Field;
use crate::error::{Error, Result};
use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, ImageEncoder};
use rand_chacha::ChaCha8Rng;

/// Render `field` with `noise` and encode it as an 8-bit grayscale PNG in memory.
pub fn encode(field: &Field, rng: &mut ChaCha8Rng, noise: f32) -> Result<Vec<u8>> {
    let lo = field.percentile(1.0);
    // Guard against a degenerate (flat) field so the stretch never divides by zero.
    let span = (field.percentile(99.0) - lo).max(1e-3);
    let pixels: Vec<u8> = field.upsample(rng, noise, |p| (((p - lo) / span).clamp(0.0, 1.0) * 255.0).round() as u8);
    let (rows, cols) = field.dims();
    let mut buf = Vec::new();
    // The default (fast) compression keeps generation I/O-light and quick.
    PngEncoder::new(&mut buf)
        .write_image(&pixels, cols as u32, rows as u32, ExtendedColorType::L8)
        .map_err(|e| Error::Internal(format!("synth: encoding PNG: {e}")))?;
    Ok(buf)
}
