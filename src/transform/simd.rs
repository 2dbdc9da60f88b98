//! AVX2 kernels of the area resize (`transform::area`, `transform::affine`): the 8 × 8
//! transpose of `f32` tiles and the horizontal filter of eight source rows, eight output
//! columns at a time. Each does the scalar code's `f32` operations in the same order (a
//! multiply, then an add: never fused), so results are bit-identical; callers check for AVX2
//! at run time.

use crate::transform::area::LANES;
#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// Whether the kernels here can run on this machine (AVX2).
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::arch::is_x86_feature_detected!("avx2");
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// Whether the AVX-512 kernels (F and BW) can run on this machine; they are used only where
/// they pay: where the CPU runs 512-bit operations at full width the 16-bit display fill
/// (`transform::affine`) takes half the instructions.
pub fn available_512() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512bw");
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// Rows of an 8 × 8 tile into its columns (the usual unpack, shuffle, lane-swap sequence).
///
/// # Safety
/// AVX2 must be available ([`available`]); callable without `unsafe` from AVX2 code.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
pub fn transpose(r: [__m256; 8]) -> [__m256; 8] {
    let t = [
        _mm256_unpacklo_ps(r[0], r[1]),
        _mm256_unpackhi_ps(r[0], r[1]),
        _mm256_unpacklo_ps(r[2], r[3]),
        _mm256_unpackhi_ps(r[2], r[3]),
        _mm256_unpacklo_ps(r[4], r[5]),
        _mm256_unpackhi_ps(r[4], r[5]),
        _mm256_unpacklo_ps(r[6], r[7]),
        _mm256_unpackhi_ps(r[6], r[7]),
    ];
    let u = [
        _mm256_shuffle_ps::<0x44>(t[0], t[2]),
        _mm256_shuffle_ps::<0xEE>(t[0], t[2]),
        _mm256_shuffle_ps::<0x44>(t[1], t[3]),
        _mm256_shuffle_ps::<0xEE>(t[1], t[3]),
        _mm256_shuffle_ps::<0x44>(t[4], t[6]),
        _mm256_shuffle_ps::<0xEE>(t[4], t[6]),
        _mm256_shuffle_ps::<0x44>(t[5], t[7]),
        _mm256_shuffle_ps::<0xEE>(t[5], t[7]),
    ];
    [
        _mm256_permute2f128_ps::<0x20>(u[0], u[4]),
        _mm256_permute2f128_ps::<0x20>(u[1], u[5]),
        _mm256_permute2f128_ps::<0x20>(u[2], u[6]),
        _mm256_permute2f128_ps::<0x20>(u[3], u[7]),
        _mm256_permute2f128_ps::<0x31>(u[0], u[4]),
        _mm256_permute2f128_ps::<0x31>(u[1], u[5]),
        _mm256_permute2f128_ps::<0x31>(u[2], u[6]),
        _mm256_permute2f128_ps::<0x31>(u[3], u[7]),
    ]
}

/// Horizontal taps of every output column, padded to the same count. An area resize's taps
/// of one output column are consecutive source columns, so each column is its first tap's
/// offset in the block and its weights: column `dx`'s taps in order, then taps of weight 0 on
/// the columns after them (adding `v · 0 = +0` to a sum of non-negative terms changes
/// nothing). Weights are laid out by tiles of [`LANES`] output columns so that one tap of
/// eight columns is contiguous.
pub struct PaddedTaps {
    /// Taps per column.
    pub per_column: usize,
    /// `start[dx]`: where column `dx`'s first tap reads in the block (its source column ×
    /// [`LANES`]); tap `k` reads `k · LANES` further on.
    pub start: Vec<u32>,
    /// `alpha[(tile * per_column + k) * LANES + j]`: the weight of tap `k` of column
    /// `tile * LANES + j`.
    pub alpha: Vec<f32>,
    /// The block length the taps read, padding included: the largest start +
    /// `per_column · LANES` (0 without taps). It can pass the end of the source columns.
    pub reach: usize,
}

impl PaddedTaps {
    /// The taps of the first `dw / LANES` whole tiles of output columns; `taps(dx)` lists
    /// column `dx`'s (source column, weight) in order. `None` if a column's taps are not
    /// consecutive source columns or an offset does not fit `u32`.
    pub fn new(dw: usize, taps: impl Fn(usize) -> Vec<(usize, f32)>) -> Option<PaddedTaps> {
        let tiles = dw / LANES;
        let columns: Vec<Vec<(usize, f32)>> = (0..tiles * LANES).map(taps).collect();
        let consecutive = |c: &Vec<(usize, f32)>| c.windows(2).all(|w| w[1].0 == w[0].0 + 1);
        if !columns.iter().all(consecutive) {
            return None;
        }
        let per_column = columns.iter().map(Vec::len).max().unwrap_or(0);
        let start: Vec<u32> =
            columns.iter().map(|c| u32::try_from(c.first().map_or(0, |t| t.0) * LANES).ok()).collect::<Option<_>>()?;
        let mut alpha = vec![0f32; tiles * per_column * LANES];
        for (dx, column) in columns.iter().enumerate() {
            let (tile, j) = (dx / LANES, dx % LANES);
            for (k, &(_, a)) in column.iter().enumerate() {
                alpha[(tile * per_column + k) * LANES + j] = a;
            }
        }
        let reach = start.iter().max().map_or(0, |&s| s as usize + per_column * LANES);
        u32::try_from(reach).ok()?;
        Some(PaddedTaps { per_column, start, alpha, reach })
    }

    /// Output columns covered (whole tiles).
    pub fn columns(&self) -> usize {
        self.start.len()
    }
}

/// `rows[lane * dw + dx] = Σ_k block[start(dx) + k · LANES + lane] · alpha(dx, k)` (summed
/// from 0, in tap order) for the output columns of `taps`' whole tiles: eight columns' sums at
/// once (eight independent chains), transposed in registers and stored as eight runs of
/// eight. `block` must hold `taps.reach` values (past the source columns, any finite ones).
///
/// # Safety
/// AVX2 must be available ([`available`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
pub unsafe fn filter_tiles(block: &[f32], taps: &PaddedTaps, dw: usize, rows: &mut [f32]) {
    let k = taps.per_column;
    let tiles = taps.columns() / LANES;
    assert!(tiles * LANES <= dw && rows.len() >= LANES * dw, "rows hold LANES rows of dw");
    // Checked once per call, not per load (`reach` was computed with the starts).
    assert!(taps.reach <= block.len(), "taps within the block");
    if k == 0 {
        return; // no taps: nothing to sum, and `chunks_exact` needs a length
    }
    let starts = taps.start.as_chunks::<LANES>().0;
    for (tile, (start, alphas)) in starts.iter().zip(taps.alpha.chunks_exact(k * LANES)).enumerate() {
        // SAFETY: each start + k · LANES <= reach <= block.len() (asserted above).
        let columns = start.map(|s| unsafe { block.as_ptr().add(s as usize) });
        let mut acc = [_mm256_setzero_ps(); LANES];
        // One tap of the tile's eight columns a step: eight weights side by side, each
        // column's next source column LANES values on; no index to load or check.
        for (tap, alpha) in alphas.as_chunks::<LANES>().0.iter().enumerate() {
            for ((acc, column), &a) in acc.iter_mut().zip(&columns).zip(alpha) {
                // SAFETY: tap < k, so the eight values are within the block (see above).
                let v = unsafe { _mm256_loadu_ps(column.add(tap * LANES)) };
                *acc = _mm256_add_ps(*acc, _mm256_mul_ps(v, _mm256_set1_ps(a)));
            }
        }
        let lanes = transpose(acc);
        for (lane, v) in lanes.iter().enumerate() {
            // SAFETY: lane * dw + tile * LANES + 8 <= LANES * dw <= rows.len() (asserted).
            unsafe { _mm256_storeu_ps(rows.as_mut_ptr().add(lane * dw + tile * LANES), *v) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vector filter gives the scalar sums in tap order, bit for bit, whatever the number
    /// of taps per column (the padding adds zeros, whatever finite values it reads past the
    /// source columns), and leaves the columns after its tiles.
    #[test]
    fn tiles_sum_their_taps_in_order() {
        if !available() {
            return;
        }
        let sw = 50;
        let mut x = 12345u32;
        let mut next = move || {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            x >> 8
        };
        let dw = 21; // two tiles and five columns left
        let taps: Vec<Vec<(usize, f32)>> = (0..dw)
            .map(|dx| {
                let (n, first) = (1 + dx % 5, if dx == 15 { sw - 1 } else { next() as usize % (sw - 4) });
                (first..first + n).map(|si| (si, (next() % 1000) as f32 / 997.0)).collect()
            })
            .collect();
        let padded = PaddedTaps::new(dw, |dx| taps[dx].clone()).expect("offsets fit");
        assert_eq!((padded.per_column, padded.columns()), (5, 16));
        let first = taps[..16].iter().map(|t| t[0].0).max().unwrap();
        assert_eq!(first, sw - 1, "column 15 has one tap, on the last source column");
        assert_eq!(padded.reach, (first + 5) * LANES, "the block length the taps read, padding too");
        // The source columns, then values only the padding reads.
        let block: Vec<f32> = (0..padded.reach).map(|_| (next() % 65536) as f32).collect();
        let mut rows = vec![-1f32; LANES * dw];
        // SAFETY: AVX2 is available (checked above).
        #[cfg(target_arch = "x86_64")]
        unsafe {
            filter_tiles(&block, &padded, dw, &mut rows)
        };
        for lane in 0..LANES {
            for dx in 0..dw {
                let sum = taps[dx].iter().fold(0f32, |acc, &(si, a)| acc + block[si * LANES + lane] * a);
                let expected = if dx < 16 { sum } else { -1.0 };
                assert_eq!(rows[lane * dw + dx].to_bits(), expected.to_bits(), "lane {lane} column {dx}");
            }
        }
    }

    /// Taps that are not consecutive source columns are not padded (the scalar pass takes them).
    #[test]
    fn only_consecutive_taps_are_padded() {
        let taps = |gap: usize| move |dx: usize| vec![(dx, 0.5), (dx + 1 + gap, 0.5)];
        assert!(PaddedTaps::new(8, taps(0)).is_some());
        assert!(PaddedTaps::new(8, taps(1)).is_none());
        assert!(PaddedTaps::new(8, |dx| vec![(dx + 1, 0.5), (dx, 0.5)]).is_none(), "backwards");
    }
}
