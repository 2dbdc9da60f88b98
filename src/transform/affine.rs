//! A display table that is a rounded affine function of the stored value, computed eight
//! samples at a time instead of looked up one by one.
//!
//! Role: the common display chains (rescale slope/intercept, a LINEAR or LINEAR_EXACT window,
//! MONOCHROME1 inversion, min–max stretch) are affine in the stored value between the
//! window's clamps, so their integer table is `round(clamp(s·a + b, 0, max))` for some `a`,
//! `b`. [`Affine::fit`] finds such `a`, `b` from the chain's `f64` values, in `f32` or, when
//! that misses an entry, `f64`, and keeps them only if they give the table's entry at **every**
//! stored value (checked when the table is made): a kept [`Affine`] is the table, evaluated
//! differently, never an approximation. Chains that are not affine (LUTs, SIGMOID, padding,
//! signed stored values) or whose rounding neither form reproduces (values within ~1e-14 of a
//! rounding tie on both sides of the line) are not fitted, and the resize looks samples up.
//!
//! The `f32` form is tried first with the clamp moved onto the stored values: clamped to the
//! ends of the table's flat runs, the line needs no clamp of its own (a value just below 0
//! then rounds to -0.0, which compares and sums as 0). Where `f32` misses an entry, `f64` is
//! tried the same way before the `f64` line with its own clamp: the AVX-512 fill takes that
//! form too (8 of the benchmark's 200 synthetic DICOMs need `f64`; their fills went from
//! ~2.3% of a run's CPU through the AVX2 `f64` fill to ~0.7%).
//!
//! [`Affine::fill_block`] writes the values of eight source rows, transposed, as the area
//! resize's horizontal pass reads them (`transform::area`); with AVX2 (checked at run time)
//! it converts, scales, clamps and rounds eight samples per instruction and transposes 8 × 8
//! tiles in registers. 16-bit samples under the clamped form go sixteen columns at a time:
//! masked, clamped and transposed as 16-bit values, which halves those instructions (the
//! window-and-resize stage bench: 1.44 → 1.23 ms an image). With AVX-512 (F and BW, checked
//! at run time) they go thirty-two columns at a time and sixteen values an instruction after
//! the transpose (1.25 → 0.96 ms; task-clock of a 200-image run 781 → 732 ms on a CPU that runs
//! 512-bit operations at full width). The scalar [`Affine::value`] is
//! the reference it reproduces (the same `f32` or `f64` operations in the same order, no
//! fused multiply-add).

use crate::transform::area::LANES;

/// `round_half_even(clamp((s & mask) · a + b, 0, max))` in `f32` or, where `f32` misses an
/// entry, `f64`: equal to a display table at every sample value (see [`Affine::fit`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Affine {
    mask: u16,
    a: f64,
    b: f64,
    max: f64,
    form: Form,
}

/// How an [`Affine`] is evaluated.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Form {
    /// In `f32` (`a`, `b` rounded to it), the line's values clamped to `0..=max`.
    Narrow,
    /// In `f32`, the stored values clamped to `lo..=hi` (the ends of the table's flat runs)
    /// before the line, which then needs no clamp: two 16-bit operations per sixteen samples
    /// instead of two `f32` ones per eight.
    Clamped(u16, u16),
    /// In `f64` (the `f32` forms missed an entry), the stored values clamped to `lo..=hi`
    /// as in [`Form::Clamped`]: the AVX-512 fill takes it at a third of [`Form::Wide`]'s cost.
    WideClamped(u16, u16),
    /// In `f64` (the `f32` forms missed an entry), the line's values clamped to `0..=max`.
    Wide,
}

/// A source sample type the vector fill reads (8- and 16-bit stored samples).
pub trait Stored: Copy {
    /// The sample as a 16-bit pattern.
    fn bits(self) -> u16;
    /// The samples as 16-bit ones, if they are (the sixteen-wide fill reads only those).
    fn as_u16s(samples: &[Self]) -> Option<&[u16]>;
}

impl Stored for u8 {
    #[inline(always)]
    fn bits(self) -> u16 {
        u16::from(self)
    }
    fn as_u16s(_: &[u8]) -> Option<&[u16]> {
        None
    }
}

impl Stored for u16 {
    #[inline(always)]
    fn bits(self) -> u16 {
        self
    }
    fn as_u16s(samples: &[u16]) -> Option<&[u16]> {
        Some(samples)
    }
}

/// Offsets tried on `b` of the `f64` form when the plain fit misses an entry: a chain value
/// exactly halfway between two outputs rounds away from zero in the table and to even here.
/// A nudge far above `f64`'s error on these values (~1e-13 of the output's range) and far
/// below their usual distance from a half (~1e-5 for 16,384 stored values) settles such ties
/// and moves nothing else; the check against the table decides either way.
const NUDGES: [f64; 3] = [0.0, 1e-7, -1e-7];

/// The last stored value of the table's first flat run and the first of its last one, if the
/// table has a slope between them: clamping stored values to these changes no entry of a
/// monotonic table.
fn flat_ends(table: &[f32]) -> Option<(u16, u16)> {
    let (first, last) = (*table.first()?, *table.last()?);
    let lo = u16::try_from(table.iter().take_while(|&&t| t == first).count() - 1).ok()?;
    let hi = u16::try_from(table.len() - table.iter().rev().take_while(|&&t| t == last).count()).ok()?;
    (lo < hi).then_some((lo, hi))
}

impl Affine {
    /// The `f32` (else `f64`) form of `table`, if one reproduces it exactly. `display[v]` is
    /// the chain's value in 0..=1 for stored value `v` (a power of two of them, indexed by the
    /// low bits of a sample), `table[v]` its output entry, `max` the output's largest value
    /// (255, 65535).
    pub fn fit(display: &[f64], table: &[f32], max: f64) -> Option<Affine> {
        let n = display.len();
        if !n.is_power_of_two() || n > 1 << 16 || table.len() != n {
            return None;
        }
        // The line through the first and last unclamped values spans the whole ramp.
        let inside = |i: &usize| display[*i] > 0.0 && display[*i] < 1.0;
        let i1 = (0..n).find(inside)?;
        let i2 = (0..n).rev().find(inside)?;
        if i2 == i1 {
            return None;
        }
        let a = max * (display[i2] - display[i1]) / (i2 - i1) as f64;
        let b = max * display[i1] - a * i1 as f64;
        if !(a.is_finite() && b.is_finite()) {
            return None;
        }
        // `f32` first (eight lanes an instruction, against four): its rounding of `a` and `b`
        // and of each product misses an entry now and then on 14- to 16-bit ramps.
        let mask = (n - 1) as u16;
        let narrow = Affine { mask, a: f64::from(a as f32), b: f64::from(b as f32), max, form: Form::Narrow };
        let ends = flat_ends(table);
        let clamped = ends.map(|(lo, hi)| Affine { form: Form::Clamped(lo, hi), ..narrow });
        let wide_clamped = ends.into_iter().flat_map(|(lo, hi)| {
            NUDGES.iter().map(move |d| Affine { mask, a, b: b + d, max, form: Form::WideClamped(lo, hi) })
        });
        let wide = NUDGES.iter().map(|d| Affine { mask, a, b: b + d, max, form: Form::Wide });
        clamped.into_iter().chain(std::iter::once(narrow)).chain(wide_clamped).chain(wide).find(|f| f.reproduces(table))
    }

    /// Whether [`Affine::value`] is `table[v]` at every stored value `v`. A clamped form is
    /// checked between its ends only: below `lo` it gives `value(lo)` and the table its first
    /// entry throughout (`lo` ends the table's first flat run, [`flat_ends`]), above `hi` the
    /// same. Each form's loop is its own and runs to the end (no early exit), so it vectorises:
    /// fitting a table took 40% of making it when checked one form-matching value at a time.
    fn reproduces(&self, table: &[f32]) -> bool {
        fn check(table: &[f32], from: u16, to: u16, f: impl Fn(u16) -> f32) -> bool {
            let (from, to) = (usize::from(from), usize::from(to));
            table[from..=to].iter().zip(from..=to).fold(true, |ok, (&t, v)| ok & (f(v as u16) == t))
        }
        let last = (table.len() - 1) as u16;
        match self.form {
            Form::Clamped(lo, hi) => check(table, lo, hi, |v| self.line_f32(v)),
            Form::WideClamped(lo, hi) => check(table, lo, hi, |v| self.line_f64(v)),
            Form::Narrow | Form::Wide => check(table, 0, last, |v| self.value(v)),
        }
    }

    /// Whether [`Affine::fill_block`] runs vectorised on this machine (else a table lookup
    /// is the faster way to the same values).
    pub fn vectorised() -> bool {
        crate::transform::simd::available()
    }

    /// Whether this form is evaluated in `f64` (the `f32` one missed an entry).
    pub fn is_wide(&self) -> bool {
        matches!(self.form, Form::Wide | Form::WideClamped(..))
    }

    /// Whether this form clamps the stored values rather than the line's values.
    pub fn is_clamped(&self) -> bool {
        matches!(self.form, Form::Clamped(..) | Form::WideClamped(..))
    }

    /// The output for one sample, as an `f32` integer.
    #[inline(always)]
    pub fn value<S: Stored>(&self, s: S) -> f32 {
        let s = s.bits() & self.mask;
        match self.form {
            Form::Wide => {
                let x = f64::from(s) * self.a + self.b;
                round_half_even_f64(x.max(0.0).min(self.max)) as f32
            }
            // Between the ends the line stays within -0.5..=max + 0.5 (else the fit fails); a
            // value just below 0 rounds to -0.0, which equals 0 and sums as 0 in the filter.
            Form::Clamped(lo, hi) => self.line_f32(s.clamp(lo, hi)),
            Form::WideClamped(lo, hi) => self.line_f64(s.clamp(lo, hi)),
            Form::Narrow => {
                let x = f32::from(s) * self.a as f32 + self.b as f32;
                crate::transform::area::round_half_even(x.max(0.0).min(self.max as f32))
            }
        }
    }

    /// [`Form::Clamped`]'s line at a stored value between its ends, in `f32`, rounded (what
    /// [`Affine::value`] gives there, and what the fit checks).
    #[inline(always)]
    fn line_f32(&self, v: u16) -> f32 {
        crate::transform::area::round_half_even(f32::from(v) * self.a as f32 + self.b as f32)
    }

    /// [`Form::WideClamped`]'s line at a stored value between its ends, in `f64`, rounded.
    #[inline(always)]
    fn line_f64(&self, v: u16) -> f32 {
        round_half_even_f64(f64::from(v) * self.a + self.b) as f32
    }

    /// Write the values of up to [`LANES`] rows of `sw` samples (`src`, row after row) into
    /// `block` transposed: `block[sx * LANES + lane]` is column `sx` of row `lane`.
    pub fn fill_block<S: Stored + Widen>(&self, block: &mut [f32], src: &[S], sw: usize) {
        #[cfg(target_arch = "x86_64")]
        if src.len() == sw * LANES && crate::transform::simd::available() {
            match (S::as_u16s(src), self.form) {
                // SAFETY: AVX2 is available (checked above); the slices' lengths are as
                // the fills require (`src` holds LANES rows of `sw`; `block` LANES per column).
                (_, Form::Clamped(lo, hi)) if sw >= 4 * LANES && crate::transform::simd::available_512() => {
                    // SAFETY: AVX-512 F and BW are available (checked); lengths as above.
                    unsafe { self.fill16_avx512::<S, false>(block, src, sw, (lo, hi)) }
                }
                (_, Form::WideClamped(lo, hi)) if sw >= 4 * LANES && crate::transform::simd::available_512() => {
                    // SAFETY: as above.
                    unsafe { self.fill16_avx512::<S, true>(block, src, sw, (lo, hi)) }
                }
                (Some(words), Form::Clamped(lo, hi)) => unsafe { self.fill16_avx2(block, words, sw, (lo, hi)) },
                _ => unsafe { self.fill_avx2(block, src, sw) },
            }
            return;
        }
        self.fill_scalar(block, src, sw);
    }

    /// The block, one sample at a time.
    fn fill_scalar<S: Stored>(&self, block: &mut [f32], src: &[S], sw: usize) {
        for (lane, row) in src.chunks_exact(sw).enumerate() {
            for (sx, &s) in row.iter().enumerate() {
                block[sx * LANES + lane] = self.value(s);
            }
        }
    }
}

/// Loading eight samples widened to `i32` lanes.
pub trait Widen: Sized {
    /// Eight samples from `p`, zero-extended.
    ///
    /// # Safety
    /// AVX2 must be available and `p..p + 8` readable.
    #[cfg(target_arch = "x86_64")]
    unsafe fn load8(p: *const Self) -> std::arch::x86_64::__m256i;

    /// Thirty-two samples from `p` as 16-bit values, zero-extended.
    ///
    /// # Safety
    /// AVX-512 F and BW must be available and `p..p + 32` readable.
    #[cfg(target_arch = "x86_64")]
    unsafe fn load32(p: *const Self) -> std::arch::x86_64::__m512i;
}

#[cfg(target_arch = "x86_64")]
impl Widen for u8 {
    #[inline(always)]
    unsafe fn load8(p: *const u8) -> std::arch::x86_64::__m256i {
        use std::arch::x86_64::*;
        // SAFETY: the caller guarantees 8 readable bytes at `p` and AVX2.
        unsafe { _mm256_cvtepu8_epi32(_mm_loadl_epi64(p.cast())) }
    }

    #[inline(always)]
    unsafe fn load32(p: *const u8) -> std::arch::x86_64::__m512i {
        use std::arch::x86_64::*;
        // SAFETY: the caller guarantees 32 readable bytes at `p` and AVX-512 F and BW.
        unsafe { _mm512_cvtepu8_epi16(_mm256_loadu_si256(p.cast())) }
    }
}

#[cfg(target_arch = "x86_64")]
impl Widen for u16 {
    #[inline(always)]
    unsafe fn load8(p: *const u16) -> std::arch::x86_64::__m256i {
        use std::arch::x86_64::*;
        // SAFETY: the caller guarantees 16 readable bytes at `p` and AVX2.
        unsafe { _mm256_cvtepu16_epi32(_mm_loadu_si128(p.cast())) }
    }

    #[inline(always)]
    unsafe fn load32(p: *const u16) -> std::arch::x86_64::__m512i {
        use std::arch::x86_64::*;
        // SAFETY: the caller guarantees 64 readable bytes at `p` and AVX-512 F.
        unsafe { _mm512_loadu_si512(p.cast()) }
    }
}

#[cfg(not(target_arch = "x86_64"))]
impl Widen for u8 {}
#[cfg(not(target_arch = "x86_64"))]
impl Widen for u16 {}

#[cfg(target_arch = "x86_64")]
impl Affine {
    /// [`Affine::fill_block`] for a full block: 8 × 8 tiles in registers. The last `sw % 8`
    /// columns are a tile too, the one ending at the last column (overlapping the one before
    /// it, whose columns it writes again with the same values); a block narrower than a tile
    /// goes one sample at a time.
    ///
    /// # Safety
    /// AVX2 must be available; `src.len() == sw * LANES` and `block.len() >= sw * LANES`.
    #[target_feature(enable = "avx2")]
    unsafe fn fill_avx2<S: Stored + Widen>(&self, block: &mut [f32], src: &[S], sw: usize) {
        use std::arch::x86_64::*;
        assert!(src.len() == sw * LANES && block.len() >= sw * LANES, "a full block");
        if sw < LANES {
            return self.fill_scalar(block, src, sw);
        }
        let mask = _mm256_set1_epi32(i32::from(self.mask));
        for x0 in tile_starts(sw, LANES) {
            let mut rows = [_mm256_setzero_ps(); LANES];
            for (lane, row) in rows.iter_mut().enumerate() {
                // SAFETY: row `lane` holds `sw` samples and `x0 + 8 <= sw`; AVX2 is on.
                let raw = unsafe { S::load8(src.as_ptr().add(lane * sw + x0)) };
                let raw = _mm256_and_si256(raw, mask);
                let clamp = |lo: u16, hi: u16| {
                    _mm256_min_epi32(
                        _mm256_max_epi32(raw, _mm256_set1_epi32(i32::from(lo))),
                        _mm256_set1_epi32(i32::from(hi)),
                    )
                };
                *row = match self.form {
                    Form::Wide => self.eval8_f64(raw, true),
                    Form::WideClamped(lo, hi) => self.eval8_f64(clamp(lo, hi), false),
                    Form::Clamped(lo, hi) => self.line8_f32(clamp(lo, hi)),
                    Form::Narrow => self.eval8_f32(raw),
                };
            }
            let columns = crate::transform::simd::transpose(rows);
            let out = &mut block[x0 * LANES..][..LANES * LANES];
            for (x, c) in columns.iter().enumerate() {
                // SAFETY: `out` holds LANES × LANES values; column x is the x-th eight.
                unsafe { _mm256_storeu_ps(out.as_mut_ptr().add(x * LANES), *c) };
            }
        }
    }

    /// [`Affine::fill_block`] of 16-bit samples with the stored values clamped (`ends`):
    /// sixteen columns of the eight rows at a time, masked and clamped as 16-bit values and
    /// transposed as such (two 8 × 8 tiles in the register halves), then widened, put through
    /// the line and rounded eight at a time. The last `sw % 16` columns are a tile too, as in
    /// [`Affine::fill_avx2`]; a block narrower than sixteen columns goes one sample at a time.
    ///
    /// # Safety
    /// As [`Affine::fill_avx2`].
    #[target_feature(enable = "avx2")]
    unsafe fn fill16_avx2(&self, block: &mut [f32], src: &[u16], sw: usize, (lo, hi): (u16, u16)) {
        use std::arch::x86_64::*;
        const WIDE: usize = 2 * LANES;
        assert!(src.len() == sw * LANES && block.len() >= sw * LANES, "a full block");
        if sw < WIDE {
            return self.fill_scalar(block, src, sw);
        }
        let mask = _mm256_set1_epi16(self.mask as i16);
        let (lo, hi) = (_mm256_set1_epi16(lo as i16), _mm256_set1_epi16(hi as i16));
        for x0 in tile_starts(sw, WIDE) {
            let rows: [__m256i; LANES] = std::array::from_fn(|lane| {
                // SAFETY: row `lane` holds `sw` samples and `x0 + 16 <= sw`; AVX2 is on.
                let raw = unsafe { _mm256_loadu_si256(src.as_ptr().add(lane * sw + x0).cast()) };
                _mm256_min_epu16(_mm256_max_epu16(_mm256_and_si256(raw, mask), lo), hi)
            });
            let columns = transpose16(rows);
            let out = &mut block[x0 * LANES..][..WIDE * LANES];
            for (x, c) in columns.iter().enumerate() {
                let halves = [_mm256_castsi256_si128(*c), _mm256_extracti128_si256::<1>(*c)];
                for (half, words) in halves.into_iter().enumerate() {
                    let values = self.line8_f32(_mm256_cvtepu16_epi32(words));
                    // SAFETY: column `half * 8 + x` of the tile is its eight values in `out`.
                    unsafe { _mm256_storeu_ps(out.as_mut_ptr().add((half * LANES + x) * LANES), values) };
                }
            }
        }
    }

    /// [`Affine::fill16_avx2`] with AVX-512, for 16- and 8-bit samples (these widened to 16
    /// bits as they are loaded): thirty-two columns of the eight rows at a time,
    /// masked and clamped as 16-bit values, transposed as four 8 × 8 tiles (one in each
    /// 128-bit lane), two adjacent columns of a tile brought together (sixteen values, the
    /// block's order), then widened, put through the line and rounded sixteen at a time: the
    /// same operations on each value as [`Affine::value`], half the instructions. The last
    /// `sw % 32` columns are a tile too, as in [`Affine::fill_avx2`]. With `F64` the line is
    /// [`Form::WideClamped`]'s, in `f64`, eight values an instruction.
    ///
    /// # Safety
    /// AVX-512 F and BW must be available; `sw >= 32`, `src.len() == sw * LANES` and
    /// `block.len() >= sw * LANES`.
    #[target_feature(enable = "avx512f,avx512bw")]
    unsafe fn fill16_avx512<S: Widen, const F64: bool>(
        &self,
        block: &mut [f32],
        src: &[S],
        sw: usize,
        (lo, hi): (u16, u16),
    ) {
        use std::arch::x86_64::*;
        const WIDE: usize = 4 * LANES;
        assert!(sw >= WIDE && src.len() == sw * LANES && block.len() >= sw * LANES, "a full block");
        let mask = _mm512_set1_epi16(self.mask as i16);
        let (lo, hi) = (_mm512_set1_epi16(lo as i16), _mm512_set1_epi16(hi as i16));
        let (a, b) = (_mm512_set1_ps(self.a as f32), _mm512_set1_ps(self.b as f32));
        let (a64, b64) = (_mm512_set1_pd(self.a), _mm512_set1_pd(self.b));
        // Quadwords of two transposed vectors: lanes 0 and 1, then lanes 2 and 3, of each,
        // alternating (column x of a tile, then column x + 1 of the same tile).
        let (first, second) =
            (_mm512_set_epi64(11, 10, 3, 2, 9, 8, 1, 0), _mm512_set_epi64(15, 14, 7, 6, 13, 12, 5, 4));
        for x0 in tile_starts(sw, WIDE) {
            let rows: [__m512i; LANES] = std::array::from_fn(|lane| {
                // SAFETY: row `lane` holds `sw` samples and `x0 + 32 <= sw`; AVX-512 is on.
                let raw = unsafe { S::load32(src.as_ptr().add(lane * sw + x0)) };
                _mm512_min_epu16(_mm512_max_epu16(_mm512_and_si512(raw, mask), lo), hi)
            });
            // columns[x], lane t: column 8t + x of the 32, its eight rows.
            let columns = transpose16x4(rows);
            for x in (0..LANES).step_by(2) {
                let (c, d) = (columns[x], columns[x + 1]);
                let halves = [_mm512_permutex2var_epi64(c, first, d), _mm512_permutex2var_epi64(c, second, d)];
                for (pair, words) in halves.into_iter().enumerate() {
                    // Tiles 2·pair and 2·pair + 1: columns x and x + 1 of each, sixteen values.
                    let tiles = [_mm512_castsi512_si256(words), _mm512_extracti64x4_epi64::<1>(words)];
                    for (k, w) in tiles.into_iter().enumerate() {
                        let y = if F64 {
                            line16_f64(_mm512_cvtepu16_epi32(w), a64, b64)
                        } else {
                            let v = _mm512_cvtepi32_ps(_mm512_cvtepu16_epi32(w));
                            let y = _mm512_add_ps(_mm512_mul_ps(v, a), b);
                            _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(y)
                        };
                        let column = x0 + (2 * pair + k) * LANES + x;
                        // SAFETY: columns `column` and `column + 1` (< sw) hold sixteen values.
                        unsafe { _mm512_storeu_ps(block.as_mut_ptr().add(column * LANES), y) };
                    }
                }
            }
        }
    }

    /// Eight stored values already clamped (`clamp`) through the `f32` line, rounded: the
    /// operations of `value`, in order.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn line8_f32(&self, raw: std::arch::x86_64::__m256i) -> std::arch::x86_64::__m256 {
        use std::arch::x86_64::*;
        let (a, b) = (_mm256_set1_ps(self.a as f32), _mm256_set1_ps(self.b as f32));
        let y = _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(raw), a), b);
        _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(y)
    }

    /// Eight (masked) samples through the `f32` form: the operations of `value`, in order.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn eval8_f32(&self, raw: std::arch::x86_64::__m256i) -> std::arch::x86_64::__m256 {
        use std::arch::x86_64::*;
        let (a, b) = (_mm256_set1_ps(self.a as f32), _mm256_set1_ps(self.b as f32));
        let (zero, max) = (_mm256_setzero_ps(), _mm256_set1_ps(self.max as f32));
        let y = _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(raw), a), b);
        _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm256_min_ps(_mm256_max_ps(y, zero), max))
    }

    /// Eight (masked) samples through the `f64` line, four at a time, as `f32` integers: the
    /// line's values clamped to `0..=max` (`clamp`, [`Form::Wide`]) or not ([`Form::WideClamped`],
    /// whose stored values were clamped instead). The operations of `value`, in order.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn eval8_f64(&self, raw: std::arch::x86_64::__m256i, clamp: bool) -> std::arch::x86_64::__m256 {
        use std::arch::x86_64::*;
        let (a, b) = (_mm256_set1_pd(self.a), _mm256_set1_pd(self.b));
        let (zero, max) = (_mm256_setzero_pd(), _mm256_set1_pd(self.max));
        let half = |x: __m128i| {
            let y = _mm256_add_pd(_mm256_mul_pd(_mm256_cvtepi32_pd(x), a), b);
            let y = if clamp { _mm256_min_pd(_mm256_max_pd(y, zero), max) } else { y };
            _mm256_cvtpd_ps(_mm256_round_pd::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(y))
        };
        let (lo, hi) = (half(_mm256_castsi256_si128(raw)), half(_mm256_extracti128_si256::<1>(raw)));
        _mm256_set_m128(hi, lo)
    }
}

/// Sixteen stored values (as `i32`, already clamped) through the `f64` line `v · a + b`, eight
/// at a time, rounded half to even and narrowed to `f32` (exact: they are integers).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
fn line16_f64(
    v: std::arch::x86_64::__m512i,
    a: std::arch::x86_64::__m512d,
    b: std::arch::x86_64::__m512d,
) -> std::arch::x86_64::__m512 {
    use std::arch::x86_64::*;
    let half = |x: __m256i| {
        let y = _mm512_add_pd(_mm512_mul_pd(_mm512_cvtepi32_pd(x), a), b);
        _mm512_cvtpd_ps(_mm512_roundscale_pd::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(y))
    };
    let (lo, hi) = (half(_mm512_castsi512_si256(v)), half(_mm512_extracti64x4_epi64::<1>(v)));
    _mm512_castpd_ps(_mm512_insertf64x4::<1>(_mm512_castpd256_pd512(_mm256_castps_pd(lo)), _mm256_castps_pd(hi)))
}

/// The first columns of the tiles `width` wide that cover `sw >= width` columns: every
/// multiple of `width` that starts a whole tile, then `sw - width` if columns are left over.
#[cfg(target_arch = "x86_64")]
fn tile_starts(sw: usize, width: usize) -> impl Iterator<Item = usize> {
    let whole = sw / width;
    let tail = (!sw.is_multiple_of(width)).then_some(sw - width);
    (0..whole).map(move |t| t * width).chain(tail)
}

/// One unpack step of [`transpose_words`]: the element width it interleaves and whether it
/// takes the high halves of each 128-bit lane.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
enum Unpack {
    /// 16-bit elements.
    Words(bool),
    /// 32-bit elements.
    Dwords(bool),
    /// 64-bit elements.
    Qwords(bool),
}

/// The rows of an 8 × 8 tile of 16-bit values in each 128-bit lane of `r` into its columns:
/// column `x` of each lane's tile in the same lane of output `x`. `unpack` is the register
/// width's unpack instruction for each [`Unpack`] (interleaving within 128-bit lanes, as every
/// width's unpacks do), so the one sequence serves 256- and 512-bit registers.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn transpose_words<V: Copy>(r: [V; LANES], unpack: impl Fn(Unpack, V, V) -> V) -> [V; LANES] {
    // a[2p + h]: rows 2p and 2p + 1 interleaved, columns 0..4 (h = 0) or 4..8.
    let a: [V; LANES] = std::array::from_fn(|i| unpack(Unpack::Words(i % 2 == 1), r[i / 2 * 2], r[i / 2 * 2 + 1]));
    // b[4q + k]: pairs of rows 4q..4q+4 for columns 2k, 2k+1.
    let b: [V; LANES] = std::array::from_fn(|i| {
        let (q, k) = (i / 4, i % 4);
        unpack(Unpack::Dwords(k % 2 == 1), a[4 * q + k / 2], a[4 * q + 2 + k / 2])
    });
    std::array::from_fn(|x| unpack(Unpack::Qwords(x % 2 == 1), b[x / 2], b[4 + x / 2]))
}

/// [`transpose_words`] of four 8 × 8 tiles, one in each 128-bit lane.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
#[inline]
fn transpose16x4(r: [std::arch::x86_64::__m512i; LANES]) -> [std::arch::x86_64::__m512i; LANES] {
    use std::arch::x86_64::*;
    transpose_words(r, |u, x, y| match u {
        Unpack::Words(false) => _mm512_unpacklo_epi16(x, y),
        Unpack::Words(true) => _mm512_unpackhi_epi16(x, y),
        Unpack::Dwords(false) => _mm512_unpacklo_epi32(x, y),
        Unpack::Dwords(true) => _mm512_unpackhi_epi32(x, y),
        Unpack::Qwords(false) => _mm512_unpacklo_epi64(x, y),
        Unpack::Qwords(true) => _mm512_unpackhi_epi64(x, y),
    })
}

/// [`transpose_words`] of two 8 × 8 tiles (one in each 128-bit half).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn transpose16(r: [std::arch::x86_64::__m256i; LANES]) -> [std::arch::x86_64::__m256i; LANES] {
    use std::arch::x86_64::*;
    transpose_words(r, |u, x, y| match u {
        Unpack::Words(false) => _mm256_unpacklo_epi16(x, y),
        Unpack::Words(true) => _mm256_unpackhi_epi16(x, y),
        Unpack::Dwords(false) => _mm256_unpacklo_epi32(x, y),
        Unpack::Dwords(true) => _mm256_unpackhi_epi32(x, y),
        Unpack::Qwords(false) => _mm256_unpacklo_epi64(x, y),
        Unpack::Qwords(true) => _mm256_unpackhi_epi64(x, y),
    })
}

/// `v` rounded half to even (as `_mm256_round_pd` does), without a library call.
#[inline(always)]
fn round_half_even_f64(v: f64) -> f64 {
    const TWO_52: f64 = 4_503_599_627_370_496.0;
    if v.abs() < TWO_52 {
        ((v.abs() + TWO_52) - TWO_52).copysign(v)
    } else {
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(n: usize, seed: u64) -> Vec<u16> {
        crate::transform::area::tests::xorshift(seed).take(n).map(|x| (x >> 40) as u16).collect()
    }

    /// A LINEAR window over 12-bit values, as `window::table` computes it.
    fn linear(center: f64, width: f64, invert: bool) -> (Vec<f64>, Vec<f32>) {
        linear_over(4096, center, width, invert)
    }

    /// A LINEAR window over `n` stored values.
    fn linear_over(n: usize, center: f64, width: f64, invert: bool) -> (Vec<f64>, Vec<f32>) {
        let display: Vec<f64> = (0..n)
            .map(|x| {
                let v =
                    crate::transform::window::voi(x as f64, center, width, crate::source::image::VoiFunction::Linear);
                if invert {
                    1.0 - v
                } else {
                    v
                }
            })
            .collect();
        let table = display.iter().map(|v| (v * 255.0).round() as f32).collect();
        (display, table)
    }

    /// The clamped `f32` form of a 12-bit LINEAR window, inverted, and its stored-value ends.
    fn clamped_fit() -> (Affine, (u16, u16)) {
        let (display, table) = linear(1800.0, 2500.0, true);
        let f = Affine::fit(&display, &table, 255.0).expect("a linear window fits");
        let Form::Clamped(lo, hi) = f.form else { panic!("the clamped form") };
        (f, (lo, hi))
    }

    #[test]
    fn a_fit_reproduces_its_table_at_every_value() {
        let mut fitted = 0;
        for (i, &(c, w)) in [(2048.0, 4096.0), (1500.5, 1201.0), (600.0, 510.0), (3000.0, 37.0)].iter().enumerate() {
            for invert in [false, true] {
                let (display, table) = linear(c, w, invert);
                let Some(f) = Affine::fit(&display, &table, 255.0) else { continue };
                fitted += 1;
                // Every 16-bit pattern: the high bits are masked off as the table's spread does.
                for s in 0..=u16::MAX {
                    assert_eq!(f.value(s), table[usize::from(s) & 4095], "window {i} invert {invert}: sample {s}");
                }
            }
        }
        assert!(fitted >= 6, "typical LINEAR windows fit ({fitted} of 8)");
    }

    #[test]
    fn chains_that_are_not_affine_are_not_fitted() {
        let sigmoid: Vec<f64> = (0..4096).map(|x| 1.0 / (1.0 + (-4.0 * (x as f64 - 2000.0) / 900.0).exp())).collect();
        let table: Vec<f32> = sigmoid.iter().map(|v| (v * 255.0).round() as f32).collect();
        assert_eq!(Affine::fit(&sigmoid, &table, 255.0), None);
        // One entry off (a padding value written as 0) is enough to refuse.
        let (display, mut table) = linear(2048.0, 4096.0, false);
        assert!(Affine::fit(&display, &table, 255.0).is_some());
        table[3000] = 0.0;
        assert_eq!(Affine::fit(&display, &table, 255.0), None);
        // All clamped: nothing to fit a line through.
        assert_eq!(Affine::fit(&[0.0; 16], &[0.0; 16], 255.0), None);
    }

    #[test]
    fn the_vector_fill_equals_the_scalar_one() {
        let (display, table) = linear(1800.0, 2500.0, true);
        let f = Affine::fit(&display, &table, 255.0).expect("a linear window fits");
        assert!(f.is_clamped(), "the sixteen-wide fill is the one tested");
        for sw in [1, 7, 8, 13, 15, 16, 17, 31, 32, 33, 47, 63, 64, 100, 2501] {
            let src = noise(sw * LANES, sw as u64);
            let (mut fast, mut slow) = (vec![-1.0; sw * LANES], vec![-1.0; sw * LANES]);
            f.fill_block(&mut fast, &src, sw);
            f.fill_scalar(&mut slow, &src, sw);
            assert_eq!(fast, slow, "{sw} columns");
            assert!(slow.iter().all(|v| (0.0..=255.0).contains(v)));
            let bytes: Vec<u8> = src.iter().map(|&s| (s & 0xff) as u8).collect();
            f.fill_block(&mut fast, &bytes, sw);
            f.fill_scalar(&mut slow, &bytes, sw);
            assert_eq!(fast, slow, "{sw} columns of bytes");
        }
    }

    /// The `f64` line on clamped stored values gives the scalar values through every fill
    /// this machine can run (`fill_block`'s choice, the AVX2 fill and the AVX-512 one).
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_wide_clamped_fills_equal_the_scalar_one() {
        let (f, (lo, hi)) = clamped_fit();
        // A slope `f32` cannot hold, so an `f32` line would differ.
        let g = Affine { a: f.a * (1.0 + 1e-12), b: f.b + 1e-9, form: Form::WideClamped(lo, hi), ..f };
        assert!(g.is_wide() && g.is_clamped());
        for sw in [1, 7, 31, 32, 33, 47, 64, 100, 2501] {
            let src = noise(sw * LANES, 3 * sw as u64);
            let mut slow = vec![-1.0; sw * LANES];
            g.fill_scalar(&mut slow, &src, sw);
            let mut fast = vec![-1.0; sw * LANES];
            g.fill_block(&mut fast, &src, sw);
            assert_eq!(fast, slow, "fill_block, {sw} columns");
            if crate::transform::simd::available() && sw >= LANES {
                // SAFETY: AVX2 checked; `src` is LANES rows of `sw`, `fast` as long.
                unsafe { g.fill_avx2(&mut fast, &src, sw) };
                assert_eq!(fast, slow, "AVX2, {sw} columns");
            }
            if crate::transform::simd::available_512() && sw >= 4 * LANES {
                fast.fill(-1.0);
                // SAFETY: AVX-512 F and BW checked; `sw >= 32`; lengths as above.
                unsafe { g.fill16_avx512::<_, true>(&mut fast, &src, sw, (lo, hi)) };
                assert_eq!(fast, slow, "AVX-512, {sw} columns");
            }
        }
    }

    /// Each kernel of the clamped form this machine can run, called directly (`fill_block`
    /// takes the widest), gives the scalar values.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn every_clamped_kernel_equals_the_scalar_fill() {
        let (f, (lo, hi)) = clamped_fit();
        for sw in [32, 33, 47, 48, 63, 64, 100, 2501] {
            let src = noise(sw * LANES, 7 * sw as u64);
            let mut slow = vec![-1.0; sw * LANES];
            f.fill_scalar(&mut slow, &src, sw);
            if crate::transform::simd::available() {
                let mut fast = vec![-1.0; sw * LANES];
                // SAFETY: AVX2 checked; `src` is LANES rows of `sw`, `fast` as long.
                unsafe { f.fill16_avx2(&mut fast, &src, sw, (lo, hi)) };
                assert_eq!(fast, slow, "AVX2, {sw} columns");
            }
            if crate::transform::simd::available_512() {
                let mut fast = vec![-1.0; sw * LANES];
                // SAFETY: AVX-512 F and BW checked; `sw >= 32`; lengths as above.
                unsafe { f.fill16_avx512::<_, false>(&mut fast, &src, sw, (lo, hi)) };
                assert_eq!(fast, slow, "AVX-512, {sw} columns");
                // 8-bit samples under an 8-bit window (clamped at both ends).
                let (display, table) = linear_over(256, 120.0, 180.0, false);
                let g = Affine::fit(&display, &table, 255.0).expect("an 8-bit window fits");
                let Form::Clamped(lo, hi) = g.form else { panic!("the clamped form") };
                assert!(lo > 0 && hi < 255, "clamped at both ends: {lo}..{hi}");
                let bytes: Vec<u8> = src.iter().map(|&s| s as u8).collect();
                g.fill_scalar(&mut slow, &bytes, sw);
                // SAFETY: as above.
                unsafe { g.fill16_avx512::<_, false>(&mut fast, &bytes, sw, (lo, hi)) };
                assert_eq!(fast, slow, "AVX-512, {sw} columns of bytes");
            }
        }
    }
}
