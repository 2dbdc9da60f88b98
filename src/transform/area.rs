//! `filter = "area"` downscaling, bit-exact with OpenCV's
//! `cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)` on 8- and 16-bit images, with the
//! display lookup table applied on the way: windowing and resizing are one pass over the
//! samples, and the native-size display image is never stored.
//!
//! Role: the VinDr-RibCXR authors' loader and the Python reference resize the 8-bit display
//! image with `INTER_AREA`; porting OpenCV's code path (`imgproc/src/resize.cpp`, `cv::resize`
//! → `hal::resize` for `INTER_AREA` with both scales ≥ 1) gives the same bytes, not merely a
//! close box filter. Two cases, chosen as OpenCV chooses them:
//! - **integer scales** (`resizeAreaFast_`): each output pixel is the integer sum of its
//!   `sx × sy` block times `1/(sx·sy)` in `f32`, rounded half to even; the 2 × 2 case rounds
//!   `(sum + 2) >> 2` as OpenCV's vector path does;
//! - **any other scale** (`ResizeArea_Invoker`, `computeResizeAreaTab`): separable weights in
//!   `f32`, each output row the `beta`-weighted sum, in order, of the horizontally filtered
//!   rows it covers, each of those the `alpha`-weighted sum, in order, of its samples.
//!
//! `f32` arithmetic is reproduced operation for operation (Rust never fuses a multiply and
//! add), so vectorising across source rows changes nothing: eight rows are looked up (or
//! computed, `transform::affine`) and filtered horizontally together, with AVX2 eight output
//! columns at a time (`transform::simd`), then added into the output rows one by one, in
//! OpenCV's order. Upscaling along either axis is not area interpolation (OpenCV switches to a bilinear
//! variant); the caller keeps its general resizer for it.

use crate::transform::simd::{self, PaddedTaps};
use std::ops::Range;

/// Source rows filtered horizontally together (lanes of the horizontal pass).
pub const LANES: usize = 8;

/// An output sample type OpenCV's `INTER_AREA` handles exactly here.
pub trait AreaPixel: Copy + Default {
    /// The sample as `f32` (exact).
    fn to_f32(self) -> f32;
    /// The sample as an integer.
    fn to_u32(self) -> u32;
    /// OpenCV `saturate_cast<T>(float)`: round half to even, clamp to the type's range.
    fn saturate(v: f32) -> Self;
    /// An integer known to be in range.
    fn from_u32(v: u32) -> Self;
}

/// The two implementations differ only in the type and its largest value.
macro_rules! area_pixel {
    ($t:ty) => {
        // Inlined always: called per output sample in the vectorised passes (out of line,
        // `saturate` alone took 4% of a run).
        impl AreaPixel for $t {
            #[inline(always)]
            fn to_f32(self) -> f32 {
                f32::from(self)
            }
            #[inline(always)]
            fn to_u32(self) -> u32 {
                u32::from(self)
            }
            #[inline(always)]
            fn saturate(v: f32) -> Self {
                // Clamped first, then rounded: the same result (the bounds are integers), and
                // without sign handling or a float-to-integer conversion a row of it
                // vectorises. `max` turns NaN into 0, as the cast would. Adding 2^23 rounds
                // `c` half to even and leaves it in the low mantissa bits: 2^23 + n is
                // `0x4B00_0000 | n` for n < 2^23.
                const TWO_23: f32 = 8_388_608.0;
                let c = v.max(0.0).min(f32::from(<$t>::MAX));
                (c + TWO_23).to_bits() as $t
            }
            #[inline(always)]
            fn from_u32(v: u32) -> Self {
                v.min(u32::from(<$t>::MAX)) as $t
            }
        }
    };
}
area_pixel!(u8);
area_pixel!(u16);

/// `v` rounded half to even, as `cvRound` does. Adding and taking away 2^23 leaves no
/// fraction bits, so the FPU's round-to-nearest-even does it (a library call otherwise, on
/// x86-64 without SSE4.1); larger magnitudes are integers already.
#[inline(always)]
pub(crate) fn round_half_even(v: f32) -> f32 {
    const TWO_23: f32 = 8_388_608.0;
    if v.abs() < TWO_23 {
        // Sign-symmetric: round |v|, give the sign back (-0.4 → -0.0, then clamped to 0).
        ((v.abs() + TWO_23) - TWO_23).copysign(v)
    } else {
        v
    }
}

/// Whether `src → dst` is an area downscale (both scales ≥ 1, some axis shrinking), the case
/// [`resize`] handles.
pub fn applies(src: (usize, usize), dst: (usize, usize)) -> bool {
    let ((sw, sh), (dw, dh)) = (src, dst);
    dw > 0 && dh > 0 && dw <= sw && dh <= sh && (dw, dh) != (sw, sh)
}

/// Resize the `sw × sh` image whose pixel `i` is `value(samples[i])` to `dw × dh` as OpenCV
/// `INTER_AREA` does. `None` unless [`applies`] holds and `samples` holds `sw × sh` samples.
pub fn resize<S: Copy, T: AreaPixel>(
    samples: &[S],
    src: (usize, usize),
    dst: (usize, usize),
    value: impl Fn(S) -> T,
) -> Option<Vec<T>> {
    resize_passing(samples, src, dst, value, |_| {})
}

/// [`resize`], calling `passed(n)` as it goes: the first `n` samples will not be read again
/// (`n` grows from call to call), so their memory can be given back while the rest is read.
pub fn resize_passing<S: Copy, T: AreaPixel>(
    samples: &[S],
    (sw, sh): (usize, usize),
    (dw, dh): (usize, usize),
    value: impl Fn(S) -> T,
    passed: impl FnMut(usize),
) -> Option<Vec<T>> {
    let fill = |block: &mut [f32], src: &[S], sw: usize| fill_block(block, src, sw, &value);
    resize_filled(samples, (sw, sh), (dw, dh), &value, fill, passed)
}

/// [`resize_passing`] with the rows' values written by `fill(block, rows, sw)` in the general
/// case: `block[sx * LANES + lane]` must become `value(rows[lane * sw + sx])` as `f32` (never
/// negative, as no [`AreaPixel`] is: the vector filter's zero-weight padding relies on it;
/// -0.0 for 0 is fine, as every sum starts at +0.0 and +0.0 + -0.0 is +0.0), for the (up to
/// [`LANES`]) rows given. A faster equal of the lookup (`transform::affine`) goes
/// here; `value` still serves integer scales.
pub fn resize_filled<S: Copy, T: AreaPixel>(
    samples: &[S],
    (sw, sh): (usize, usize),
    (dw, dh): (usize, usize),
    value: impl Fn(S) -> T,
    fill: impl Fn(&mut [f32], &[S], usize),
    passed: impl FnMut(usize),
) -> Option<Vec<T>> {
    if sw.checked_mul(sh) != Some(samples.len()) {
        return None;
    }
    let mut rows = InPlace::new(samples, sw, passed)?;
    let out = resize_rows(&mut rows, (sw, sh), (dw, dh), value, fill)?;
    rows.done();
    Some(out)
}

/// Where the area pass reads its source rows: `rows(first, n)` gives rows `first..first + n`
/// of the image, `n * sw` samples. Calls come in order: `first` never decreases, so a source
/// may drop (or release) the rows before it and read ahead of it.
pub trait SourceRows<S> {
    /// Rows `first..first + n` (within the image), `n * sw` samples.
    fn rows(&mut self, first: usize, n: usize) -> &[S];
}

/// Rows read in place from the samples' memory; `passed(first * sw)` is called as each read
/// starts: the samples before it will not be read again.
pub struct InPlace<'a, S, P> {
    samples: &'a [S],
    sw: usize,
    passed: P,
}

impl<'a, S, P: FnMut(usize)> InPlace<'a, S, P> {
    /// Rows of `sw` samples; `None` if `sw` is 0 or does not divide the samples.
    pub fn new(samples: &'a [S], sw: usize, passed: P) -> Option<Self> {
        (sw > 0 && samples.len().is_multiple_of(sw)).then_some(Self { samples, sw, passed })
    }

    /// Say that every sample is done with.
    pub fn done(mut self) {
        (self.passed)(self.samples.len());
    }
}

impl<S, P: FnMut(usize)> SourceRows<S> for InPlace<'_, S, P> {
    fn rows(&mut self, first: usize, n: usize) -> &[S] {
        (self.passed)(first * self.sw);
        &self.samples[first * self.sw..(first + n) * self.sw]
    }
}

/// [`resize_filled`] reading the `sw × sh` samples from `rows` (which must hold that many;
/// `None` unless [`applies`] holds).
pub fn resize_rows<S: Copy, T: AreaPixel>(
    rows: &mut impl SourceRows<S>,
    (sw, sh): (usize, usize),
    (dw, dh): (usize, usize),
    value: impl Fn(S) -> T,
    fill: impl Fn(&mut [f32], &[S], usize),
) -> Option<Vec<T>> {
    if !applies((sw, sh), (dw, dh)) {
        return None;
    }
    // OpenCV: inv_scale = dsize / ssize, scale = 1 / inv_scale, both in double.
    let scale_x = 1.0 / (dw as f64 / sw as f64);
    let scale_y = 1.0 / (dh as f64 / sh as f64);
    let (ix, iy) = (scale_x.round_ties_even(), scale_y.round_ties_even());
    let fast = (scale_x - ix).abs() < f64::EPSILON && (scale_y - iy).abs() < f64::EPSILON;
    Some(if fast {
        integer_scale(rows, (sw, sh), (dw, dh), (ix as usize, iy as usize), value)
    } else {
        general(rows, (sw, sh), (dw, dh), (scale_x, scale_y), fill)
    })
}

/// OpenCV `resizeAreaFast_`: the source is exactly `scale` times the output along each axis.
fn integer_scale<S: Copy, T: AreaPixel>(
    rows: &mut impl SourceRows<S>,
    (sw, sh): (usize, usize),
    (dw, dh): (usize, usize),
    (kx, ky): (usize, usize),
    value: impl Fn(S) -> T,
) -> Vec<T> {
    let mut out = Vec::with_capacity(dw * dh);
    // u64: no block is large enough to overflow it (u32 would at 65,537 16-bit samples).
    let mut sums = vec![0u64; dw];
    let inv_area = 1.0f32 / (kx * ky) as f32;
    for dy in 0..dh {
        sums.fill(0);
        let first = dy * ky;
        for row in rows.rows(first, ky.min(sh - first)).chunks_exact(sw) {
            for (sum, block) in sums.iter_mut().zip(row.chunks_exact(kx)) {
                *sum += block.iter().map(|&s| u64::from(value(s).to_u32())).sum::<u64>();
            }
        }
        if (kx, ky) == (2, 2) {
            out.extend(sums.iter().map(|&s| T::from_u32(((s + 2) >> 2) as u32)));
        } else {
            out.extend(sums.iter().map(|&s| T::saturate(s as f32 * inv_area)));
        }
    }
    out
}

/// One weight of OpenCV's `DecimateAlpha` table: destination index, source index, weight.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Tap {
    di: usize,
    si: usize,
    alpha: f32,
}

/// OpenCV `computeResizeAreaTab` for one axis (`scale` = source pixels per output pixel).
fn area_tab(ssize: usize, dsize: usize, scale: f64) -> Vec<Tap> {
    let mut tab = Vec::with_capacity(ssize + 2 * dsize);
    for dx in 0..dsize {
        let fsx1 = dx as f64 * scale;
        let fsx2 = fsx1 + scale;
        let cell_width = scale.min(ssize as f64 - fsx1);
        let sx2 = (fsx2.floor() as usize).min(ssize - 1);
        let sx1 = (fsx1.ceil() as usize).min(sx2);
        if sx1 as f64 - fsx1 > 1e-3 {
            tab.push(Tap { di: dx, si: sx1 - 1, alpha: ((sx1 as f64 - fsx1) / cell_width) as f32 });
        }
        for sx in sx1..sx2 {
            tab.push(Tap { di: dx, si: sx, alpha: (1.0 / cell_width) as f32 });
        }
        if fsx2 - sx2 as f64 > 1e-3 {
            let alpha = ((fsx2 - sx2 as f64).min(1.0).min(cell_width) / cell_width) as f32;
            tab.push(Tap { di: dx, si: sx2, alpha });
        }
    }
    tab
}

/// OpenCV `ResizeArea_Invoker` (any scales ≥ 1), eight source rows at a time. Compiled
/// also for AVX-512, AVX2 and SSE4.1, chosen at run time (same operations, wider registers;
/// results are identical: nothing is fused or reordered). AVX-512 took 1.5% off a run's CPU
/// time (the output rows' sums and rounding, 64 bytes an instruction).
#[multiversion::multiversion(targets("x86_64+avx+avx2+avx512f+avx512bw", "x86_64+avx+avx2", "x86_64+sse4.1"))]
fn general<S: Copy, T: AreaPixel>(
    source: &mut impl SourceRows<S>,
    (sw, sh): (usize, usize),
    (dw, dh): (usize, usize),
    (scale_x, scale_y): (f64, f64),
    fill: impl Fn(&mut [f32], &[S], usize),
) -> Vec<T> {
    let xtab = area_tab(sw, dw, scale_x);
    let ytab = area_tab(sh, dh, scale_y);
    // Taps of output column dx: xtab[xofs[dx]..xofs[dx + 1]] (the table is in dx order).
    let mut xofs = vec![0usize; dw + 1];
    xtab.iter().for_each(|t| xofs[t.di + 1] += 1);
    (0..dw).for_each(|dx| xofs[dx + 1] += xofs[dx]);
    // With AVX2, whole tiles of eight output columns are filtered together (`simd`).
    let tiles = simd::available()
        .then(|| PaddedTaps::new(dw, |dx| xtab[xofs[dx]..xofs[dx + 1]].iter().map(|t| (t.si, t.alpha)).collect()))
        .flatten();
    // block[sx * LANES + lane]: the value of column sx of source row `start + lane`.
    // Past the source columns, zeros for the vector filter's padding taps to read.
    let mut block = vec![0f32; (sw * LANES).max(tiles.as_ref().map_or(0, |t| t.reach))];
    // rows[lane * dw + dx]: those rows filtered horizontally (OpenCV's `buf`, per row).
    let mut rows = vec![0f32; dw * LANES];
    let mut start = usize::MAX;
    let mut sum = vec![0f32; dw];
    let mut out = vec![T::default(); dw * dh];
    let mut prev_dy = ytab.first().map_or(0, |t| t.di);
    for t in &ytab {
        if !(start..start.saturating_add(LANES)).contains(&t.si) {
            // Rows are read in order (the table's source rows never go back).
            start = t.si;
            let lanes = LANES.min(sh - start);
            fill(&mut block, source.rows(start, lanes), sw);
            let from = filter_tiles(&block, tiles.as_ref(), dw, &mut rows);
            filter_rows(&block, &xtab, &xofs, from..dw, dw, &mut rows);
        }
        let buf = &rows[(t.si - start) * dw..][..dw];
        if t.di != prev_dy {
            // Two loops, not one: each vectorises on its own.
            out[prev_dy * dw..][..dw].iter_mut().zip(&sum).for_each(|(d, &s)| *d = T::saturate(s));
            sum.iter_mut().zip(buf).for_each(|(s, &b)| *s = t.alpha * b);
            prev_dy = t.di;
        } else {
            sum.iter_mut().zip(buf).for_each(|(s, &b)| *s += t.alpha * b);
        }
    }
    for (d, &s) in out[prev_dy * dw..][..dw].iter_mut().zip(&sum) {
        *d = T::saturate(s);
    }
    out
}

/// Look up `src` (up to [`LANES`] rows of `sw` samples) into the transposed block. A full
/// block goes [`LANES`] columns at a time: an 8 × 8 tile read from the eight rows, written
/// as 64 contiguous values. The `fill` of [`resize_passing`]; see [`resize_filled`].
#[inline(always)]
pub fn fill_block<S: Copy, T: AreaPixel>(block: &mut [f32], src: &[S], sw: usize, value: &impl Fn(S) -> T) {
    if src.len() == sw * LANES {
        let rows: [&[S]; LANES] = std::array::from_fn(|l| &src[l * sw..(l + 1) * sw]);
        let tiles = sw / LANES;
        for (t, out) in block.chunks_exact_mut(LANES * LANES).take(tiles).enumerate() {
            let tile: [&[S; LANES]; LANES] =
                std::array::from_fn(|l| rows[l][t * LANES..][..LANES].try_into().expect("LANES samples"));
            for (x, cell) in out.chunks_exact_mut(LANES).enumerate() {
                let column: [T; LANES] = std::array::from_fn(|l| value(tile[l][x]));
                cell.copy_from_slice(&column.map(T::to_f32));
            }
        }
        for sx in tiles * LANES..sw {
            for (lane, row) in rows.iter().enumerate() {
                block[sx * LANES + lane] = value(row[sx]).to_f32();
            }
        }
        return;
    }
    for (lane, row) in src.chunks_exact(sw).enumerate() {
        for (cell, &s) in block[lane..].iter_mut().step_by(LANES).zip(row) {
            *cell = value(s).to_f32();
        }
    }
}

/// The horizontal pass of the output columns in `tiles` (vectorised, see
/// [`simd::filter_tiles`]); returns how many (the first ones) it did, 0 without `tiles`.
#[inline(always)]
fn filter_tiles(block: &[f32], tiles: Option<&PaddedTaps>, dw: usize, rows: &mut [f32]) -> usize {
    #[cfg(target_arch = "x86_64")]
    if let Some(tiles) = tiles {
        // SAFETY: `tiles` is only made when `simd::available()` (AVX2) holds.
        unsafe { simd::filter_tiles(block, tiles, dw, rows) };
        return tiles.columns();
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (block, tiles, dw, rows);
    0
}

/// Horizontal pass of the block's rows for output columns `dxs`:
/// `buf[dx] = 0 + v[si0]·a0 + v[si1]·a1 + ...` in table order, as OpenCV does, all lanes at once.
#[inline(always)]
fn filter_rows(block: &[f32], xtab: &[Tap], xofs: &[usize], dxs: Range<usize>, dw: usize, rows: &mut [f32]) {
    for dx in dxs {
        let mut acc = [0f32; LANES];
        for t in &xtab[xofs[dx]..xofs[dx + 1]] {
            let col: &[f32; LANES] = block[t.si * LANES..][..LANES].try_into().expect("LANES values");
            for (a, &v) in acc.iter_mut().zip(col) {
                *a += v * t.alpha;
            }
        }
        for (lane, &a) in acc.iter().enumerate() {
            rows[lane * dw + dx] = a;
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The straightforward transcription of OpenCV's `ResizeArea_Invoker` (one row at a time,
    /// `buf` recomputed per table entry), against which the lane version is checked.
    fn opencv_general(src: &[u8], (sw, sh): (usize, usize), (dw, dh): (usize, usize)) -> Vec<u8> {
        let xtab = area_tab(sw, dw, 1.0 / (dw as f64 / sw as f64));
        let ytab = area_tab(sh, dh, 1.0 / (dh as f64 / sh as f64));
        let mut out = vec![0u8; dw * dh];
        let (mut buf, mut sum) = (vec![0f32; dw], vec![0f32; dw]);
        let mut prev_dy = ytab[0].di;
        for y in &ytab {
            buf.fill(0.0);
            let s = &src[y.si * sw..][..sw];
            for x in &xtab {
                buf[x.di] += f32::from(s[x.si]) * x.alpha;
            }
            if y.di != prev_dy {
                for dx in 0..dw {
                    out[prev_dy * dw + dx] = u8::saturate(sum[dx]);
                    sum[dx] = y.alpha * buf[dx];
                }
                prev_dy = y.di;
            } else {
                (0..dw).for_each(|dx| sum[dx] += y.alpha * buf[dx]);
            }
        }
        (0..dw).for_each(|dx| out[prev_dy * dw + dx] = u8::saturate(sum[dx]));
        out
    }

    /// `passed(n)` only grows, no sample before the last `n` reported is read after it, the
    /// whole image is reported in the end, and the output is that of `resize`: for general and
    /// integer scales, odd sizes and shrinking along one axis only.
    #[test]
    fn passed_samples_are_never_read_again() {
        for &((sw, sh), (dw, dh)) in &[
            ((37, 53), (10, 7)),
            ((2500, 41), (512, 9)),
            ((40, 40), (10, 20)),
            ((64, 48), (64, 12)),
            ((33, 17), (11, 17)),
        ] {
            let src = noise(sw * sh, (sw * sh) as u64);
            let index: Vec<usize> = (0..sw * sh).collect();
            let passed = std::cell::Cell::new(0usize);
            let reads_behind = std::cell::Cell::new(0usize);
            let value = |i: usize| {
                if i < passed.get() {
                    reads_behind.set(reads_behind.get() + 1);
                }
                src[i]
            };
            let report = |n: usize| {
                assert!(n >= passed.get(), "{sw}x{sh}: passed went back from {} to {n}", passed.get());
                passed.set(n);
            };
            let out = resize_passing(&index, (sw, sh), (dw, dh), value, report).unwrap();
            assert_eq!(reads_behind.get(), 0, "{sw}x{sh} → {dw}x{dh}: samples read after being passed");
            assert_eq!(passed.get(), sw * sh, "{sw}x{sh}: the whole image is passed in the end");
            assert_eq!(out, resize(&src, (sw, sh), (dw, dh), |s| s).unwrap());
        }
    }

    /// A deterministic xorshift stream for test images (also used by `transform::affine`).
    pub(crate) fn xorshift(seed: u64) -> impl Iterator<Item = u64> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        std::iter::repeat_with(move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        })
    }

    fn noise(n: usize, seed: u64) -> Vec<u8> {
        xorshift(seed).take(n).map(|x| (x >> 24) as u8).collect()
    }

    #[test]
    fn rounding_is_half_to_even_as_cv_round() {
        for v in [-3.5f32, -2.5, -0.5, -0.4, 0.0, 0.49999997, 0.5, 1.5, 2.5, 254.5, 255.5, 65534.5, 1e7, 8_388_607.5] {
            assert_eq!(round_half_even(v), v.round_ties_even(), "{v}");
        }
        assert_eq!((u8::saturate(-0.6), u8::saturate(300.0), u16::saturate(65535.4)), (0, 255, 65535));
    }

    /// `saturate` (clamp, then round) equals OpenCV's order (round half to even, then clamp)
    /// on every quarter from below 0 to past the 16-bit range, at the halves' neighbours, and
    /// on the special values.
    #[test]
    fn saturate_is_rounding_then_clamping() {
        fn reference(v: f32, max: f32) -> f32 {
            if v.is_nan() {
                0.0
            } else {
                v.round_ties_even().clamp(0.0, max)
            }
        }
        let quarters = (-40i32..=70_000 * 4).map(|q| q as f32 / 4.0);
        let near_halves = (-2i32..70_000).flat_map(|k| {
            let h = k as f32 + 0.5;
            [h.next_down(), h, h.next_up()]
        });
        let special = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -0.0, f32::MAX, f32::MIN, 1e30, -1e30];
        for v in quarters.chain(near_halves).chain(special) {
            assert_eq!(f32::from(u8::saturate(v)), reference(v, 255.0), "u8 {v}");
            assert_eq!(f32::from(u16::saturate(v)), reference(v, 65535.0), "u16 {v}");
        }
    }

    #[test]
    fn tables_match_opencv_for_a_fractional_scale() {
        // 5 → 2: scale 2.5; column 0 takes 0, 1 whole and half of 2; column 1 the rest.
        let tab = area_tab(5, 2, 2.5);
        let t = |di, si, alpha| Tap { di, si, alpha };
        assert_eq!(tab, [t(0, 0, 0.4), t(0, 1, 0.4), t(0, 2, 0.2), t(1, 2, 0.2), t(1, 3, 0.4), t(1, 4, 0.4)]);
    }

    #[test]
    fn lanes_reproduce_the_row_by_row_transcription() {
        for (i, &(src, dst)) in
            [((37, 29), (5, 7)), ((2500, 19), (512, 4)), ((13, 13), (12, 1)), ((9, 40), (9, 17))].iter().enumerate()
        {
            let img = noise(src.0 * src.1, i as u64);
            let ours = resize(&img, src, dst, |v| v).unwrap();
            assert_eq!(ours, opencv_general(&img, src, dst), "{src:?} -> {dst:?}");
        }
    }

    #[test]
    fn integer_scales_sum_blocks_and_round_as_opencv() {
        // 2x2 rounds (sum + 2) >> 2: a block summing to 2 gives 1 (half rounds up) ...
        let two = resize(&[0u8, 1, 3, 3, 1, 0, 3, 3], (4, 2), (2, 1), |v| v).unwrap();
        assert_eq!(two, [1, 3]);
        // ... other integer scales round sum / area half to even: 1.5 → 2, 0.5 → 0.
        let four = resize(&[0u8, 1, 2, 3, 0, 0, 2, 0], (8, 1), (2, 1), |v| v).unwrap();
        assert_eq!(four, [2, 0]);
        let rows = resize(&[10u16, 20, 30, 41], (1, 4), (1, 1), |v| v * 1000).unwrap();
        assert_eq!(rows, [25250]);
    }

    #[test]
    fn the_lookup_is_applied_before_averaging() {
        let src: Vec<u16> = noise(30 * 20, 7).into_iter().map(|v| u16::from(v) * 16).collect();
        let lut = |s: u16| (s / 16).saturating_sub(100) as u8;
        for dst in [(7, 3), (15, 10), (10, 20)] {
            let looked_up: Vec<u8> = src.iter().map(|&s| lut(s)).collect();
            let fused = resize(&src, (30, 20), dst, lut).unwrap();
            assert_eq!(fused, resize(&looked_up, (30, 20), dst, |v| v).unwrap(), "{dst:?}");
            assert!(fused.iter().any(|&v| v > 0));
        }
    }

    #[test]
    fn upscaling_and_wrong_lengths_are_not_area_cases() {
        assert!(resize(&[0u8; 6], (3, 2), (4, 1), |v| v).is_none());
        assert!(resize(&[0u8; 5], (3, 2), (2, 1), |v| v).is_none());
        assert!(resize(&[0u8; 6], (3, 2), (3, 2), |v| v).is_none());
        assert!(!applies((3, 2), (0, 1)));
    }
}
