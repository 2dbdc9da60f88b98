//! `preview`: images with their rib masks as coloured, labelled overlays.
//!
//! Pure rendering, no I/O. Each mask channel `c` is blended over the grey image with colour
//! [`palette`]`(c)` at [`ALPHA_256`]/256 (channels in order, so overlaps mix); each non-empty
//! channel's label is written at its centroid; a caption bar above the image names the row.
//! Pixels outside every mask keep their grey value (`r == g == b`), and text is black and
//! white, so colour appears exactly where a mask is. Several rows make a contact sheet.

use super::TensorRow;
use image::{imageops, Rgb, RgbImage};

/// Weight of a mask colour, out of 256.
pub const ALPHA_256: u32 = 115;
/// Caption bar height per unit of text scale, in pixels.
pub const CAPTION_PX: u32 = 12;
/// Gap between tiles of a contact sheet, in pixels.
pub const GAP_PX: u32 = 4;
/// Tiles at least this wide get double-size text.
const LARGE_TILE_PX: u32 = 384;
/// Glyph cell of the 8×8 font.
const GLYPH: u32 = 8;

/// The colour of mask channel `c`: hues 18° apart, permuted so neighbouring ribs differ.
pub fn palette(c: usize) -> [u8; 3] {
    let hue = ((c * 7) % 20) as f64 * 18.0;
    let x = 1.0 - ((hue / 60.0) % 2.0 - 1.0).abs();
    let (r, g, b) = match (hue / 60.0) as u32 {
        0 => (1.0, x, 0.0),
        1 => (x, 1.0, 0.0),
        2 => (0.0, 1.0, x),
        3 => (0.0, x, 1.0),
        4 => (x, 0.0, 1.0),
        _ => (1.0, 0.0, x),
    };
    [(r * 255.0) as u8, (g * 255.0) as u8, (b * 255.0) as u8]
}

/// Blend `color` over `v` at [`ALPHA_256`].
pub fn blend(v: u8, color: u8) -> u8 {
    ((u32::from(v) * (256 - ALPHA_256) + u32::from(color) * ALPHA_256 + 128) >> 8) as u8
}

/// The image as 8-bit grey for display (`uint16` keeps the high byte, `float32` 0..1 → 0..255).
pub fn to_gray8(image: &[u8], dtype: &str) -> Vec<u8> {
    match dtype {
        "uint16" => image.chunks_exact(2).map(|b| b[1]).collect(),
        "float32" => image
            .chunks_exact(4)
            .map(|b| (f32::from_le_bytes([b[0], b[1], b[2], b[3]]).clamp(0.0, 1.0) * 255.0).round() as u8)
            .collect(),
        _ => image.to_vec(),
    }
}

/// Render one row as a tile: overlay, optional downscale to at most `max_side`, labels, caption.
pub fn tile(row: &TensorRow<'_>, dtype: &str, shape: [usize; 2], labels: &[String], max_side: Option<u32>) -> RgbImage {
    let [h, w] = shape;
    let gray = to_gray8(row.image, dtype);
    let mut img = RgbImage::from_fn(w as u32, h as u32, |x, y| {
        let v = gray[y as usize * w + x as usize];
        Rgb([v, v, v])
    });
    let plane = h * w;
    let mut centroids = Vec::new();
    for (c, ch) in row.mask.chunks_exact(plane).enumerate().take(labels.len()) {
        let (mut n, mut sx, mut sy) = (0u64, 0u64, 0u64);
        let col = palette(c);
        for (i, _) in ch.iter().enumerate().filter(|(_, &m)| m != 0) {
            let (x, y) = ((i % w) as u32, (i / w) as u32);
            let p = img.get_pixel_mut(x, y);
            *p = Rgb([blend(p[0], col[0]), blend(p[1], col[1]), blend(p[2], col[2])]);
            (n, sx, sy) = (n + 1, sx + u64::from(x), sy + u64::from(y));
        }
        if n > 0 {
            centroids.push((c, sx as f64 / n as f64, sy as f64 / n as f64));
        }
    }
    let mut f = 1.0;
    if let Some(side) = max_side.filter(|&s| (w.max(h) as u32) > s) {
        f = f64::from(side) / w.max(h) as f64;
        let (nw, nh) = (((w as f64 * f).round() as u32).max(1), ((h as f64 * f).round() as u32).max(1));
        img = imageops::resize(&img, nw, nh, imageops::FilterType::Triangle);
    }
    let scale = if img.width() >= LARGE_TILE_PX { 2 } else { 1 };
    for (c, cx, cy) in centroids {
        let text = &labels[c];
        let tw = text.len() as f64 * f64::from(GLYPH * scale);
        let x = (cx * f - tw / 2.0).round() as i64;
        let y = (cy * f - f64::from(GLYPH * scale) / 2.0).round() as i64;
        draw_text(&mut img, text, x, y, scale);
    }
    with_caption(img, row.image_id, scale)
}

fn with_caption(img: RgbImage, text: &str, scale: u32) -> RgbImage {
    let bar = CAPTION_PX * scale;
    let mut out = RgbImage::new(img.width(), img.height() + bar);
    imageops::replace(&mut out, &img, 0, i64::from(bar));
    draw_text(&mut out, text, 2, i64::from((bar - GLYPH * scale) / 2), scale);
    out
}

/// Several tiles in a grid of `ceil(sqrt(n))` columns on a dark background.
pub fn sheet(tiles: &[RgbImage]) -> RgbImage {
    let cols = (tiles.len() as f64).sqrt().ceil().max(1.0) as u32;
    let rows = (tiles.len() as u32).div_ceil(cols).max(1);
    let cw = tiles.iter().map(|t| t.width()).max().unwrap_or(1);
    let ch = tiles.iter().map(|t| t.height()).max().unwrap_or(1);
    let mut out = RgbImage::from_pixel(cols * (cw + GAP_PX) + GAP_PX, rows * (ch + GAP_PX) + GAP_PX, Rgb([24, 24, 24]));
    for (i, t) in tiles.iter().enumerate() {
        let (c, r) = (i as u32 % cols, i as u32 / cols);
        imageops::replace(&mut out, t, i64::from(GAP_PX + c * (cw + GAP_PX)), i64::from(GAP_PX + r * (ch + GAP_PX)));
    }
    out
}

/// White 8×8-font text with a black outline, top-left at `(x, y)`, clipped to the image.
fn draw_text(img: &mut RgbImage, text: &str, x: i64, y: i64, scale: u32) {
    let s = i64::from(scale);
    let on = |ch: char, gx: i64, gy: i64| -> bool {
        let glyph = font8x8::legacy::BASIC_LEGACY[(ch as usize).min(127)];
        (0..8).contains(&gx) && (0..8).contains(&gy) && glyph[gy as usize] & (1 << gx) != 0
    };
    let mut put = |px: i64, py: i64, v: u8| {
        if px >= 0 && py >= 0 && (px as u32) < img.width() && (py as u32) < img.height() {
            img.put_pixel(px as u32, py as u32, Rgb([v, v, v]));
        }
    };
    for pass in [0u8, 255] {
        for (k, ch) in text.chars().enumerate() {
            let ox = x + k as i64 * i64::from(GLYPH) * s;
            for gy in 0..8i64 {
                for gx in 0..8i64 {
                    if !on(ch, gx, gy) {
                        continue;
                    }
                    let (px, py) = (ox + gx * s, y + gy * s);
                    let r = if pass == 0 { 1 } else { 0 };
                    for dy in -r..s + r {
                        for dx in -r..s + r {
                            put(px + dx, py + dy, pass);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn palette_colours_are_distinct_and_not_grey() {
        let cols: Vec<[u8; 3]> = (0..20).map(palette).collect();
        for (i, a) in cols.iter().enumerate() {
            assert!(!(a[0] == a[1] && a[1] == a[2]), "{a:?} is grey");
            assert!(!cols[..i].contains(a), "colour {i} repeats");
        }
    }

    #[test]
    fn overlay_colours_exactly_the_mask_pixels() {
        let (h, w) = (40usize, 30usize);
        let image: Vec<u8> = (0..h * w).map(|i| (i % 200) as u8).collect();
        let mut mask = vec![0u8; 2 * h * w];
        for y in 5..30 {
            for x in 3..25 {
                mask[y * w + x] = 1; // channel 0
            }
        }
        let labels = vec!["A".to_string(), "B".to_string()];
        let row = TensorRow { image_id: "x", image: &image, mask: &mask };
        let t = tile(&row, "uint8", [h, w], &labels, None);
        assert_eq!((t.width(), t.height()), (w as u32, h as u32 + CAPTION_PX));
        let p = t.get_pixel(3, 5 + CAPTION_PX);
        let c = palette(0);
        assert_eq!(p.0, [blend(image[5 * w + 3], c[0]), blend(image[5 * w + 3], c[1]), blend(image[5 * w + 3], c[2])]);
        let q = t.get_pixel(28, 38 + CAPTION_PX);
        assert_eq!(q.0, [image[38 * w + 28]; 3], "outside the masks the image stays grey");
    }
}
