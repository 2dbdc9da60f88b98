//! Resizing to the output geometry with `fast_image_resize` (single-threaded per image: the
//! pipeline already runs one image per core).
//!
//! `stretch` scales each axis to the output size, as the VinDr-RibCXR authors train;
//! `letterbox` keeps the aspect ratio, centres the image and pads with 0. The returned
//! [`Geometry`] says exactly how original pixel coordinates map to output ones
//! (`x' = x * scale_x + pad_x`), which the mask rasteriser and the output rows use.
//! This file is the one place where pipeline-file filter names map to library types.

use crate::config::{Filter, ImagePlan, ResizeMode};
use crate::error::{InputError, Stage};
use crate::source::image::Samples;
use crate::transform::affine::{Affine, Stored, Widen};
use crate::transform::area;
use crate::transform::staged::{ReadAt, Staged};
use crate::transform::window::{Plane, Table, Values};
use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};

/// How original coordinates map into the output image.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Geometry {
    /// Output pixels per original pixel, horizontally.
    pub scale_x: f64,
    /// Output pixels per original pixel, vertically.
    pub scale_y: f64,
    /// Columns of padding on the left (letterbox).
    pub pad_x: u32,
    /// Rows of padding on top (letterbox).
    pub pad_y: u32,
    /// Size of the resized content, before padding.
    pub content_width: u32,
    /// Height of the resized content, before padding.
    pub content_height: u32,
}

/// Compute the geometry for an input of `w x h` under the plan.
pub fn geometry(w: u32, h: u32, plan: &ImagePlan) -> Geometry {
    let (ow, oh) = (plan.width, plan.height);
    let (cw, ch) = match plan.resize {
        ResizeMode::Stretch => (ow, oh),
        ResizeMode::Letterbox => {
            let s = (ow as f64 / w as f64).min(oh as f64 / h as f64);
            let cw = ((w as f64 * s).round() as u32).clamp(1, ow);
            let ch = ((h as f64 * s).round() as u32).clamp(1, oh);
            (cw, ch)
        }
    };
    Geometry {
        scale_x: cw as f64 / w as f64,
        scale_y: ch as f64 / h as f64,
        pad_x: (ow - cw) / 2,
        pad_y: (oh - ch) / 2,
        content_width: cw,
        content_height: ch,
    }
}

fn algorithm(f: Filter) -> ResizeAlg {
    match f {
        Filter::Area => ResizeAlg::Convolution(FilterType::Box),
        Filter::Bilinear => ResizeAlg::Convolution(FilterType::Bilinear),
        Filter::Bicubic => ResizeAlg::Convolution(FilterType::CatmullRom),
        Filter::Lanczos3 => ResizeAlg::Convolution(FilterType::Lanczos3),
        Filter::Nearest => ResizeAlg::Nearest,
    }
}

/// Resize a native-size plane to the output size; returns little-endian sample bytes of
/// `height * width * dtype size` and the geometry applied. `area` downscaling of 8- and 16-bit
/// planes is OpenCV's `INTER_AREA` exactly ([`super::area`]); the rest is `fast_image_resize`.
pub fn resize(plane: &Plane, w: u32, h: u32, plan: &ImagePlan) -> Result<(Vec<u8>, Geometry), InputError> {
    let g = geometry(w, h, plan);
    let (src_bytes, pt, sample): (&[u8], PixelType, usize) = match plane {
        Plane::U8(v) => (v, PixelType::U8, 1),
        Plane::U16(v) => (bytemuck::cast_slice(v), PixelType::U16, 2),
        Plane::F32(v) => (bytemuck::cast_slice(v), PixelType::F32, 4),
    };
    let fail = |e: &dyn std::fmt::Display| {
        InputError::new(Stage::Resize, format!("resizing {w}x{h} to {}x{}: {e}", g.content_width, g.content_height))
    };
    if (g.content_width, g.content_height) == (w, h) {
        // Same size: the samples as they are (no filter can improve on identity).
        let out = match plane {
            Plane::U8(v) => v.clone(),
            Plane::U16(v) => le_bytes(v),
            Plane::F32(v) => le_bytes(v),
        };
        return Ok((place(out, &g, plan, sample), g));
    }
    if plan.filter == Filter::Area {
        let (native, content) = ((w as usize, h as usize), content_size(&g));
        let exact = match plane {
            Plane::U8(v) => area::resize(v, native, content, |s| s),
            Plane::U16(v) => area::resize(v, native, content, |s| s).map(|v| le_bytes(&v)),
            Plane::F32(_) => None,
        };
        if let Some(out) = exact {
            return Ok((place(out, &g, plan, sample), g));
        }
    }
    let src = ImageRef::new(w, h, src_bytes, pt).map_err(|e| fail(&e))?;
    let mut content = aligned_image(g.content_width, g.content_height, pt);
    let options = ResizeOptions::new().resize_alg(algorithm(plan.filter));
    let mut dst =
        Image::from_slice_u8(g.content_width, g.content_height, content.bytes_mut(), pt).map_err(|e| fail(&e))?;
    Resizer::new().resize(&src, &mut dst, &options).map_err(|e| fail(&e))?;
    Ok((place(content.into_le_bytes(), &g, plan, sample), g))
}

/// Map `samples` through the display `table` and resize them. With the `area` filter and
/// 8- or 16-bit output, downscaling is one pass that looks each sample up as it averages it
/// ([`area::resize`]); otherwise the native-size plane is made ([`Table::map`]) and resized.
/// Either way the result is that of [`resize`] on the mapped plane. With a `reader`, the one
/// pass reads the samples through it in bands ([`Staged`]) instead of from their memory.
///
/// # Errors
/// A failed resize, or a failed read through `reader` (`Stage::Read`).
pub fn resize_table(
    samples: &Samples,
    table: &Table,
    w: u32,
    h: u32,
    plan: &ImagePlan,
    reader: Option<&dyn ReadAt>,
) -> Result<(Vec<u8>, Geometry), InputError> {
    let g = geometry(w, h, plan);
    if plan.filter == Filter::Area {
        let (native, content) = ((w as usize, h as usize), content_size(&g));
        // The affine form replaces the lookups where it runs vectorised (else a lookup is faster).
        let affine = table.affine.filter(|_| Affine::vectorised());
        let fused = match &table.values {
            Values::U8(t) => area_lookup(samples, t, affine, native, content, reader),
            Values::U16(t) => area_lookup(samples, t, affine, native, content, reader).map(|r| r.map(|v| le_bytes(&v))),
            Values::F32(_) => None,
        };
        if let Some(out) = fused {
            let out = out.map_err(|e| {
                InputError::new(
                    Stage::Read,
                    format!("reading the pixel data ({w}x{h}) from the file: {e} (was it changed during the run?)"),
                )
            })?;
            let sample = if matches!(table.values, Values::U8(_)) { 1 } else { 2 };
            return Ok((place(out, &g, plan, sample), g));
        }
    }
    resize(&table.map(samples), w, h, plan)
}

/// [`area::resize`] of the samples looked up in `table`; `None` when that is not an area
/// downscale or the table does not cover every bit pattern (then the caller maps and resizes).
/// The table as a fixed-size array lets a `u8`/`u16` index need no bounds check. With
/// `affine` (equal to the table at every bit pattern) the general case computes the values
/// instead of looking them up.
fn area_lookup<T: area::AreaPixel>(
    samples: &Samples,
    table: &[T],
    affine: Option<Affine>,
    native: (usize, usize),
    content: (usize, usize),
    reader: Option<&dyn ReadAt>,
) -> Option<std::io::Result<Vec<T>>> {
    match samples {
        Samples::U8(v) => {
            let t: &[T; 256] = table.try_into().ok()?;
            area_rows(v, native, content, |s| t[usize::from(s)], affine, reader)
        }
        Samples::U16(v) => {
            let t: &[T; 65536] = table.try_into().ok()?;
            area_rows(v, native, content, |s| t[usize::from(s)], affine, reader)
        }
    }
}

/// The area pass over `samples`, their values computed by `affine` or looked up by `value`.
fn area_rows<S: bytemuck::Pod + Stored + Widen, T: area::AreaPixel>(
    samples: &[S],
    native: (usize, usize),
    content: (usize, usize),
    value: impl Fn(S) -> T,
    affine: Option<Affine>,
    reader: Option<&dyn ReadAt>,
) -> Option<std::io::Result<Vec<T>>> {
    match affine {
        Some(f) => area_pass(samples, native, content, &value, |b, r, sw| f.fill_block(b, r, sw), reader),
        None => area_pass(samples, native, content, &value, |b, r, sw| area::fill_block(b, r, sw, &value), reader),
    }
}

/// The area pass over `samples` read in place, or in bands through `reader`.
fn area_pass<S: bytemuck::Pod, T: area::AreaPixel>(
    samples: &[S],
    native: (usize, usize),
    content: (usize, usize),
    value: impl Fn(S) -> T,
    fill: impl Fn(&mut [f32], &[S], usize),
    reader: Option<&dyn ReadAt>,
) -> Option<std::io::Result<Vec<T>>> {
    let Some(reader) = reader else {
        return area::resize_filled(samples, native, content, value, fill, |_| {}).map(Ok);
    };
    if native.0.checked_mul(native.1) != Some(samples.len()) {
        return None;
    }
    let mut rows = Staged::new(samples, native.0, reader)?;
    let out = area::resize_rows(&mut rows, native, content, value, fill)?;
    Some(rows.finish().map(|()| out))
}

/// `(width, height)` of the resized content.
pub fn content_size(g: &Geometry) -> (usize, usize) {
    (g.content_width as usize, g.content_height as usize)
}

/// Samples as little-endian bytes.
pub fn le_bytes<T: bytemuck::Pod>(v: &[T]) -> Vec<u8> {
    if cfg!(target_endian = "little") {
        return bytemuck::cast_slice(v).to_vec();
    }
    let size = std::mem::size_of::<T>();
    bytemuck::cast_slice::<T, u8>(v).chunks_exact(size).flat_map(|c| c.iter().rev().copied()).collect()
}

/// The resized content in its place in the output: as is, or padded (letterbox).
pub fn place(content: Vec<u8>, g: &Geometry, plan: &ImagePlan, sample: usize) -> Vec<u8> {
    if (g.content_width, g.content_height) == (plan.width, plan.height) {
        content
    } else {
        pad(&content, g, plan, sample)
    }
}

/// A sample buffer aligned for its type (fast_image_resize checks alignment).
enum Aligned {
    U8(Vec<u8>),
    U16(Vec<u16>),
    F32(Vec<f32>),
}

fn aligned_image(w: u32, h: u32, pt: PixelType) -> Aligned {
    let n = w as usize * h as usize;
    match pt {
        PixelType::U16 => Aligned::U16(vec![0; n]),
        PixelType::F32 => Aligned::F32(vec![0.0; n]),
        _ => Aligned::U8(vec![0; n]),
    }
}

impl Aligned {
    fn bytes_mut(&mut self) -> &mut [u8] {
        match self {
            Aligned::U8(v) => v,
            Aligned::U16(v) => bytemuck::cast_slice_mut(v),
            Aligned::F32(v) => bytemuck::cast_slice_mut(v),
        }
    }
    fn into_le_bytes(self) -> Vec<u8> {
        match self {
            Aligned::U8(v) => v,
            Aligned::U16(v) => le_bytes(&v),
            Aligned::F32(v) => le_bytes(&v),
        }
    }
}

/// Place the content in a zero canvas of the output size at (pad_x, pad_y).
fn pad(content: &[u8], g: &Geometry, plan: &ImagePlan, sample: usize) -> Vec<u8> {
    let row_out = plan.width as usize * sample;
    let row_in = g.content_width as usize * sample;
    let mut out = vec![0u8; plan.height as usize * row_out];
    for (y, src_row) in content.chunks_exact(row_in).enumerate() {
        let start = (y + g.pad_y as usize) * row_out + g.pad_x as usize * sample;
        out[start..start + row_in].copy_from_slice(src_row);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{DType, Normalize, WindowChoice};

    fn plan(h: u32, w: u32, resize: ResizeMode) -> ImagePlan {
        ImagePlan {
            height: h,
            width: w,
            resize,
            filter: Filter::Area,
            dtype: DType::Uint8,
            window: WindowChoice::File,
            window_index: 0,
            normalize: Normalize::None,
            multiframe: crate::config::MultiFrame::First,
            color: crate::config::ColorPolicy::Reject,
        }
    }

    #[test]
    fn area_downscale_averages_blocks() {
        // 4x4 → 2x2: each output pixel is the mean of a 2x2 block
        let src: Vec<u8> = vec![0, 0, 100, 100, 0, 0, 100, 100, 200, 200, 50, 50, 200, 200, 50, 50];
        let (out, g) = resize(&Plane::U8(src), 4, 4, &plan(2, 2, ResizeMode::Stretch)).unwrap();
        assert_eq!(out, vec![0, 100, 200, 50]);
        assert_eq!((g.scale_x, g.scale_y, g.pad_x, g.pad_y), (0.5, 0.5, 0, 0));
    }

    /// The one-pass lookup-and-resize gives what mapping the plane and resizing it gives, for
    /// every table type, filter and layout (the area cases take the fused path).
    #[test]
    fn resize_table_equals_mapping_then_resizing() {
        let mut x = 7u32;
        let mut next = || {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (x >> 16) as u16
        };
        let (w, h) = (37u32, 23u32);
        let words: Vec<u16> = (0..w * h).map(|_| next() & 0x0fff).collect();
        let bytes: Vec<u8> = (0..w * h).map(|_| next() as u8).collect();
        let u8_table = |n: usize| Table::lookup_only(Values::U8((0..n).map(|i| (i * 7 % 251) as u8).collect()));
        let u16_table =
            |n: usize| Table::lookup_only(Values::U16((0..n).map(|i| (i * 40_503 % 65_521) as u16).collect()));
        let f32_table =
            |n: usize| Table::lookup_only(Values::F32((0..n).map(|i| (i % 1000) as f32 / 1000.0).collect()));
        for (samples, n) in [(Samples::U16(words.into()), 65536), (Samples::U8(bytes), 256)] {
            for (kind, table) in [("u8", u8_table(n)), ("u16", u16_table(n)), ("f32", f32_table(n))] {
                for filter in [Filter::Area, Filter::Bilinear] {
                    for (oh, ow, mode) in
                        [(9, 11, ResizeMode::Stretch), (16, 16, ResizeMode::Letterbox), (23, 37, ResizeMode::Stretch)]
                    {
                        let mut p = plan(oh, ow, mode);
                        p.filter = filter;
                        let fused = resize_table(&samples, &table, w, h, &p, None).unwrap();
                        let mapped = resize(&table.map(&samples), w, h, &p).unwrap();
                        assert_eq!(fused, mapped, "{n}-entry {kind} table, {filter:?} {oh}x{ow} {mode:?}");
                    }
                }
            }
        }
    }

    /// Samples read in bands through a reader (several bands here) resize as samples read in
    /// place, with a lookup table or its affine form; a failed read rejects the image at the
    /// read stage.
    #[test]
    fn samples_read_through_a_reader_resize_the_same() {
        use crate::transform::staged::tests::Memory;
        let (w, h) = (700u32, 400u32); // 1,400 bytes a row: 187 rows a band
        let words: Vec<u16> =
            crate::transform::area::tests::xorshift(5).take((w * h) as usize).map(|x| (x >> 52) as u16).collect();
        let samples = Samples::U16(words.into());
        let display: Vec<f64> = (0..65536).map(|x| (f64::from(x) / 4095.0).clamp(0.0, 1.0)).collect();
        let values: Vec<u8> = display.iter().map(|v| (v * 255.0).round_ties_even() as u8).collect();
        let fitted: Vec<f32> = values.iter().map(|&v| f32::from(v)).collect();
        let mut affine = Table::lookup_only(Values::U8(values.clone()));
        affine.affine = Affine::fit(&display, &fitted, 255.0);
        assert!(affine.affine.is_some(), "a plain linear window fits");
        for table in [Table::lookup_only(Values::U8(values)), affine] {
            for (oh, ow) in [(128, 100), (200, 350)] {
                let p = plan(oh, ow, ResizeMode::Stretch);
                let in_place = resize_table(&samples, &table, w, h, &p, None).unwrap();
                let read = resize_table(&samples, &table, w, h, &p, Some(&Memory { fail: false })).unwrap();
                assert_eq!(in_place, read, "{oh}x{ow}");
                let e = resize_table(&samples, &table, w, h, &p, Some(&Memory { fail: true })).unwrap_err();
                assert_eq!(e.stage, Stage::Read);
                assert!(e.reason.contains("the file shrank"), "{}", e.reason);
            }
        }
    }

    #[test]
    fn letterbox_keeps_aspect_and_centres() {
        let src = Plane::U16(vec![1000; 8 * 4]); // 8 wide, 4 high
        let mut p = plan(8, 8, ResizeMode::Letterbox);
        p.dtype = DType::Uint16;
        let (out, g) = resize(&src, 8, 4, &p).unwrap();
        assert_eq!((g.content_width, g.content_height, g.pad_x, g.pad_y), (8, 4, 0, 2));
        assert_eq!(out.len(), 8 * 8 * 2);
        let samples: Vec<u16> = out.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
        assert!(samples[..16].iter().all(|&s| s == 0), "top padding");
        assert!(samples[16..48].iter().all(|&s| s == 1000), "content");
        assert!(samples[48..].iter().all(|&s| s == 0), "bottom padding");
    }

    #[test]
    fn float_planes_resize() {
        let (out, _) = resize(&Plane::F32(vec![0.25; 16]), 4, 4, &plan(3, 3, ResizeMode::Stretch)).unwrap();
        let v: Vec<f32> = out.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
        assert!(v.iter().all(|&x| (x - 0.25).abs() < 1e-6), "{v:?}");
    }
}
