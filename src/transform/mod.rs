//! Pure per-image transforms: the display chain, resizing and mask rasterisation, and
//! [`process`], which runs them in order on one input. Nothing here does I/O or needs a
//! runtime; the pipeline calls [`process`] on its CPU pool. The display chain becomes a lookup
//! table ([`window::table`]) that the resize applies as it reads the samples
//! ([`resize::resize_table`], [`area`]), so no native-size display image is made.

pub mod affine;
pub mod area;
pub mod rasterize;
pub mod resize;
pub mod simd;
pub mod staged;
pub mod window;

use crate::config::{ImagePlan, Plan};
use crate::error::InputError;
use crate::source::annotations::Polygon;
use crate::source::decode::{decode_dicom_bytes, decode_raster, DecodeOptions};
use crate::source::image::{Photometric, SourceImage};
use crate::source::Decoder;
use crate::storage::Input;
use resize::Geometry;
use window::AppliedWindow;

/// One input turned into output tensors and per-row facts.
#[derive(Debug, Clone)]
pub struct Processed {
    /// `H x W` samples of the output dtype, little-endian, C order.
    pub image: Vec<u8>,
    /// `C x H x W` bytes, 0 or 1.
    pub mask: Vec<u8>,
    /// Per label: inclusive `[x_min, y_min, x_max, y_max]` of the mask, `None` if empty.
    pub bboxes: Vec<BBox>,
    /// Original rows.
    pub orig_height: u32,
    /// Original columns.
    pub orig_width: u32,
    /// Mapping from original to output coordinates.
    pub geometry: Geometry,
    /// The window applied.
    pub window: AppliedWindow,
    /// Photometric interpretation of the source.
    pub photometric: Photometric,
    /// Transfer syntax UID (DICOM only).
    pub transfer_syntax: Option<String>,
    /// Polygon vertices that fell outside the output image (filled with clipping).
    pub clipped_points: u32,
    /// Time spent in each stage (for the run report only).
    pub times: StageTimes,
}

/// Seconds spent per stage on one image.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct StageTimes {
    /// Parse + decode.
    pub decode: f64,
    /// The display table: modality LUT, VOI, inversion, normalisation, dtype (and the min..max
    /// pass when a window needs it).
    pub window: f64,
    /// Looking every sample up in the display table, and resizing (one pass for `area`).
    pub resize: f64,
    /// Mask rasterisation.
    pub rasterize: f64,
    /// Compressing the image and mask into Parquet pages (in the CPU job of a run; 0 when
    /// the sink compresses).
    pub compress: f64,
}

impl std::ops::AddAssign for StageTimes {
    fn add_assign(&mut self, o: Self) {
        self.decode += o.decode;
        self.window += o.window;
        self.resize += o.resize;
        self.rasterize += o.rasterize;
        self.compress += o.compress;
    }
}

/// Decode, window, resize and rasterise one input. The input is not held longer than needed:
/// dropped right after decoding when the samples were decoded into memory. Samples in a mapped
/// file are read from the file in bands ([`staged`]) by every pass (a min..max, the resize),
/// never through the mapping: its sample pages never become the process's memory. Either way
/// the input is gone before the masks are made.
pub fn process(
    input: impl Into<Input>,
    decoder: Decoder,
    polygons: &[Option<Polygon>],
    plan: &Plan,
) -> Result<Processed, InputError> {
    let input = input.into();
    let mut clock = std::time::Instant::now();
    let mut lap = || {
        let now = std::time::Instant::now();
        let dt = (now - clock).as_secs_f64();
        clock = now;
        dt
    };
    let mut times = StageTimes::default();
    let src = decode(input.bytes(), decoder, &plan.image)?;
    times.decode = lap();
    // Samples decoded into memory do not need the input any more.
    let input = input.contains(src.samples.as_bytes()).then_some(input);
    // Samples in a mapped file are read from the file in bands, not through the mapping.
    let reader = input.as_ref().filter(|i| i.is_mapped()).map(|i| i as &dyn staged::ReadAt);
    let (table, window) = window::table_reading(&src, &plan.image, reader)?;
    times.window = lap();
    let (image, geometry) = resize::resize_table(&src.samples, &table, src.width, src.height, &plan.image, reader)?;
    times.resize = lap();
    // The input is no longer needed: freed (or unmapped) before the masks are made.
    let SourceImage { height, width, photometric, transfer_syntax, samples, .. } = src;
    drop((samples, input));
    let (mask, bboxes, clipped_points) = masks(polygons, &geometry, plan.image.width, plan.image.height);
    times.rasterize = lap();
    Ok(Processed {
        image,
        mask,
        bboxes,
        orig_height: height,
        orig_width: width,
        geometry,
        window,
        photometric,
        transfer_syntax,
        clipped_points,
        times,
    })
}

/// Decode one input with the decoder and pipeline-file choices `run` uses.
/// DICOM samples are read in place from `bytes` where the file allows it.
pub fn decode(bytes: &bytes::Bytes, decoder: Decoder, plan: &ImagePlan) -> Result<SourceImage, InputError> {
    match decoder {
        Decoder::Dicom => decode_dicom_bytes(bytes, &DecodeOptions::from_plan(plan)),
        Decoder::Raster => decode_raster(bytes),
    }
}

/// Rasterise every label's polygon into its own channel of a `[C, H, W]` 0/1 tensor; also
/// returns per-label boxes and how many vertices fell outside the image (they are clipped).
///
/// Vertices map to output pixels as `rint(x * scale_x + pad_x)` (round half to even, like
/// NumPy's `rint` in the authors' loader), then are filled with OpenCV's `fillPoly` rule.
pub fn masks(polygons: &[Option<Polygon>], g: &Geometry, width: u32, height: u32) -> (Vec<u8>, Vec<BBox>, u32) {
    let (w, h) = (width as usize, height as usize);
    let mut mask = mask_buffer(polygons.len() * w * h);
    let mut bboxes = Vec::with_capacity(polygons.len());
    let mut clipped = 0u32;
    for (plane, poly) in mask.chunks_exact_mut(w * h).zip(polygons) {
        let Some(poly) = poly else {
            bboxes.push(None);
            continue;
        };
        let pts: Vec<(i32, i32)> =
            poly.iter().map(|&[x, y]| (to_pixel(x, g.scale_x, g.pad_x), to_pixel(y, g.scale_y, g.pad_y))).collect();
        let outside = pts.iter().filter(|&&(x, y)| x < 0 || y < 0 || x >= width as i32 || y >= height as i32);
        clipped = clipped.saturating_add(outside.count() as u32);
        let filled = rasterize::fill_polygon_written(plane, w, h, &pts, 1);
        bboxes.push(filled.map(|(x0, y0, x1, y1)| [x0 as i32, y0 as i32, x1 as i32, y1 as i32]));
    }
    let written =
        Written { address: mask.as_ptr() as usize, len: mask.len(), width: w, height: h, bboxes: bboxes.clone() };
    WRITTEN.set(Some(written));
    (mask, bboxes, clipped)
}

/// The byte ranges of a `[C, H, W]` mask (`width` = W, `height` = H) that may hold non-zero
/// bytes, in order: each label's box, row by row, from its first column to its last. Every
/// byte outside them is zero ([`Processed::bboxes`] are the boxes of the mask's ones).
pub fn mask_content(bboxes: &[BBox], width: usize, height: usize) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
    let plane = width * height;
    let boxes = bboxes.iter().enumerate().filter_map(|(c, bbox)| bbox.map(|b| (c, b)));
    boxes.flat_map(move |(c, b)| {
        let [x0, y0, x1, y1] = b.map(|v| v.max(0) as usize);
        let (x1, y1) = (x1.min(width.saturating_sub(1)), y1.min(height.saturating_sub(1)));
        (y0..=y1).map(move |y| c * plane + y * width + x0..c * plane + y * width + x1 + 1)
    })
}

/// Where the last mask made on a thread may hold ones: its buffer (by address and length),
/// its size and its labels' boxes ([`mask_content`]).
struct Written {
    address: usize,
    len: usize,
    width: usize,
    height: usize,
    bboxes: Vec<BBox>,
}

impl Written {
    /// Zero `mask`'s written regions, if it is the buffer these are of: it is then all zeros.
    fn clear(&self, mask: &mut [u8]) -> bool {
        if mask.as_ptr() as usize != self.address || mask.len() != self.len {
            return false;
        }
        mask_content(&self.bboxes, self.width, self.height).for_each(|r| mask[r].fill(0));
        true
    }
}

thread_local! {
    /// A mask buffer given back by [`recycle_mask`], for the next image made on this thread,
    /// and whether it is all zeros already.
    static SPARE_MASK: std::cell::Cell<(Vec<u8>, bool)> = const { std::cell::Cell::new((Vec::new(), false)) };
    /// The regions the last [`masks`] on this thread wrote, for [`recycle_mask`] to clear.
    static WRITTEN: std::cell::Cell<Option<Written>> = const { std::cell::Cell::new(None) };
}

/// Give a mask's buffer back once its bytes are used (compressed), so that the next image
/// processed on this thread fills it again instead of allocating its own. Masks are the
/// largest buffers of a run (5.2 MB at 512² × 20): allocated and freed per image they are
/// what other buffers split the heap around, and it kept growing over the first few hundred
/// images. One spare per thread; a buffer given back on a thread that makes no masks is
/// freed with the thread.
///
/// The mask made last on this thread is given back cleared where its polygons were filled
/// (about a tenth of it for ribs), not rewritten whole: zeroing 5.2 MB an image was 4% of a
/// run's CPU time. Any other buffer is zeroed whole when it is next used.
pub fn recycle_mask(mut mask: Vec<u8>) {
    let clean = WRITTEN.take().is_some_and(|w| w.clear(&mut mask));
    SPARE_MASK.set((mask, clean));
}

/// `n` zero bytes for a mask: this thread's spare buffer ([`recycle_mask`]) if it is large
/// enough (kept as it is when cleared already and `n` long), else new memory with its zeros
/// written ([`written_zeros`]).
fn mask_buffer(n: usize) -> Vec<u8> {
    let (mut spare, clean) = SPARE_MASK.take();
    if clean && spare.len() == n {
        debug_assert!(spare.iter().all(|&b| b == 0), "a recycled mask left with ones");
        return spare;
    }
    if spare.capacity() < n {
        return written_zeros(n);
    }
    spare.clear();
    spare.resize(n, 0);
    spare
}

/// `n` zero bytes, every one written. `vec![0; n]` asks the allocator for zeroed memory, and
/// memory fresh from the kernel is zero without being written: the pages of a mask that are
/// only ever read (most of them: outside the ribs) stay mapped to the kernel's shared zero
/// page. Once the mask is freed and its memory reused, say as the next file's read buffer, the
/// first write to each of those pages faults again and flushes the other cores' TLBs (an
/// inter-processor interrupt per 4 KiB page): 6% of a 512² run's CPU time, half of a 1024²
/// run's. Writing the zeros costs a `memset` only on memory new to the process.
fn written_zeros(n: usize) -> Vec<u8> {
    let mut v: Vec<u8> = Vec::with_capacity(n);
    // Opaque to the optimiser, so the allocation and the fill are not merged back into a
    // zeroed allocation.
    std::hint::black_box(&mut v);
    v.resize(n, 0);
    v
}

/// Inclusive `[x_min, y_min, x_max, y_max]` of a mask channel, `None` when empty.
pub type BBox = Option<[i32; 4]>;

fn to_pixel(v: f64, scale: f64, pad: u32) -> i32 {
    // `as` saturates, so absurd coordinates clip instead of wrapping.
    (v * scale + pad as f64).round_ties_even() as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> Geometry {
        Geometry { scale_x: 1.0, scale_y: 1.0, pad_x: 0, pad_y: 0, content_width: 16, content_height: 16 }
    }

    #[test]
    fn rectangle_fills_exact_pixel_count_and_bbox() {
        let rect = vec![[2.0, 3.0], [7.0, 3.0], [7.0, 9.0], [2.0, 9.0]];
        let (mask, bb, clipped) = masks(&[Some(rect), None], &identity(), 16, 16);
        assert_eq!(clipped, 0);
        assert_eq!(mask.len(), 2 * 256);
        assert_eq!(mask[..256].iter().filter(|&&v| v == 1).count(), 6 * 7);
        assert_eq!(bb[0], Some([2, 3, 7, 9]));
        assert!(mask[256..].iter().all(|&v| v == 0), "\"None\" rib gives an empty channel");
        assert_eq!(bb[1], None);
    }

    /// A mask given back is cleared where it was filled (and, if it is not the last one made
    /// on the thread, whole), so the next image's masks are those of fresh memory.
    #[test]
    fn recycled_masks_come_back_all_zero() {
        std::thread::spawn(|| {
            let rect = vec![[2.0, 3.0], [7.0, 3.0], [7.0, 9.0], [2.0, 9.0]];
            let spill = vec![[-5.0, 2.0], [30.0, 2.0], [10.0, 40.0]];
            let around = vec![[-10.0, -10.0], [30.0, -10.0], [30.0, 30.0], [-10.0, 30.0]];
            let tri = vec![[1.0, 14.0], [14.0, 1.0], [15.0, 15.0]];
            let a = [Some(rect.clone()), Some(spill), Some(around), None];
            let b = [None, Some(tri.clone()), Some(rect), Some(tri)];
            let expected = masks(&b, &identity(), 16, 16);
            for last in [true, false] {
                let (used, ..) = masks(&a, &identity(), 16, 16);
                assert!(used.iter().filter(|&&v| v == 1).count() > 256, "a's masks fill most of the image");
                if last {
                    recycle_mask(used);
                } else {
                    recycle_mask(used.clone()); // not the buffer the regions are of: zeroed whole
                }
                let again = masks(&b, &identity(), 16, 16);
                assert_eq!(again, expected, "b's masks after a's (given back as made last: {last})");
            }
        })
        .join()
        .unwrap();
    }

    #[test]
    fn overlapping_ribs_stay_overlapping() {
        let a = vec![[0.0, 0.0], [8.0, 0.0], [8.0, 8.0], [0.0, 8.0]];
        let b = vec![[4.0, 4.0], [12.0, 4.0], [12.0, 12.0], [4.0, 12.0]];
        let (mask, _, _) = masks(&[Some(a), Some(b)], &identity(), 16, 16);
        let overlap = (0..256).filter(|&i| mask[i] == 1 && mask[256 + i] == 1).count();
        assert_eq!(overlap, 5 * 5);
    }

    #[test]
    fn points_outside_the_image_are_clipped_and_counted() {
        let poly = vec![[-5.0, 2.0], [10.0, 2.0], [10.0, 40.0], [-5.0, 40.0]];
        let (mask, bb, clipped) = masks(&[Some(poly)], &identity(), 16, 16);
        assert_eq!(clipped, 3);
        assert_eq!(bb[0], Some([0, 2, 10, 15]));
        assert_eq!(mask.iter().filter(|&&v| v == 1).count(), 11 * 14);
    }

    #[test]
    fn coordinates_are_scaled_like_the_authors_loader() {
        // x * 512 / 2048 with rint: 1026 → 256.5 → 256 (half to even)
        let g = Geometry { scale_x: 0.25, scale_y: 0.25, pad_x: 0, pad_y: 0, content_width: 512, content_height: 512 };
        assert_eq!(to_pixel(1026.0, g.scale_x, g.pad_x), 256);
        assert_eq!(to_pixel(1030.0, g.scale_x, g.pad_x), 258);
        assert_eq!(to_pixel(f64::MAX, 1.0, 0), i32::MAX);
    }
}
