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

/// Horizontal taps of every output column, padded to the same count: column `dx`'s taps in
/// order, then taps of weight 0 (adding `v · 0 = +0` to a sum of non-negative terms changes
/// nothing), laid out by tiles of [`LANES`] columns so one tap of eight columns is contiguous.
pub struct PaddedTaps {
    /// Taps per column.
    pub per_column: usize,
    /// `offset[(tile * per_column + k) * LANES + j]`: where tap `k` of column
    /// `tile * LANES + j` reads in the block (its source column × [`LANES`]).
    pub offset: Vec<u32>,
    /// The taps' weights, laid out as `offset`.
    pub alpha: Vec<f32>,
    /// The block length the taps read: the largest offset + [`LANES`] (0 without taps).
    pub reach: usize,
}

impl PaddedTaps {
    /// The taps of the first `dw / LANES` whole tiles of output columns; `taps(dx)` lists
    /// column `dx`'s (source column, weight) in order. `None` if an offset does not fit `u32`.
    pub fn new(dw: usize, taps: impl Fn(usize) -> Vec<(usize, f32)>) -> Option<PaddedTaps> {
        let tiles = dw / LANES;
        let columns: Vec<Vec<(usize, f32)>> = (0..tiles * LANES).map(taps).collect();
        let per_column = columns.iter().map(Vec::len).max().unwrap_or(0);
        let mut offset = vec![0u32; tiles * per_column * LANES];
        let mut alpha = vec![0f32; offset.len()];
        for (dx, column) in columns.iter().enumerate() {
            let (tile, j) = (dx / LANES, dx % LANES);
            let last = column.last().map_or(0, |t| t.0);
            for k in 0..per_column {
                let (si, a) = column.get(k).copied().unwrap_or((last, 0.0));
                let at = (tile * per_column + k) * LANES + j;
                offset[at] = u32::try_from(si * LANES).ok()?;
                alpha[at] = a;
            }
        }
        let reach = offset.iter().max().map_or(0, |&o| o as usize + LANES);
        Some(PaddedTaps { per_column, offset, alpha, reach })
    }

    /// Output columns covered (whole tiles).
    pub fn columns(&self) -> usize {
        self.offset.len().checked_div(self.per_column).unwrap_or(0)
    }
}

/// `rows[lane * dw + dx] = Σ_k block[offset(dx, k) + lane] · alpha(dx, k)` (summed from 0, in
/// tap order) for the output columns of `taps`' whole tiles: eight columns' sums at once (eight
/// independent chains), transposed in registers and stored as eight runs of eight.
///
/// # Safety
/// AVX2 must be available ([`available`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
pub unsafe fn filter_tiles(block: &[f32], taps: &PaddedTaps, dw: usize, rows: &mut [f32]) {
    let k = taps.per_column;
    let tiles = taps.columns() / LANES;
    assert!(tiles * LANES <= dw && rows.len() >= LANES * dw, "rows hold LANES rows of dw");
    // Checked once per call, not per load (`reach` was computed with the offsets).
    assert!(taps.reach <= block.len(), "offsets within the block");
    if k == 0 {
        return; // no whole tile (`columns()` is 0)
    }
    let per_tile = k * LANES;
    let tile_taps = taps.offset.chunks_exact(per_tile).zip(taps.alpha.chunks_exact(per_tile));
    for (tile, (offsets, alphas)) in tile_taps.take(tiles).enumerate() {
        let mut acc = [_mm256_setzero_ps(); LANES];
        // One tap of the tile's eight columns a step, as fixed-size arrays: no index checks
        // in the loop (they were a third of its instructions).
        for (offset, alpha) in offsets.as_chunks::<LANES>().0.iter().zip(alphas.as_chunks::<LANES>().0) {
            for ((acc, &o), &a) in acc.iter_mut().zip(offset).zip(alpha) {
                // SAFETY: offsets were checked against the block's length above.
                let v = unsafe { _mm256_loadu_ps(block.as_ptr().add(o as usize)) };
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
    /// of taps per column (the padding adds zeros), and leaves the columns after its tiles.
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
        let block: Vec<f32> = (0..sw * LANES).map(|_| (next() % 65536) as f32).collect();
        let dw = 21; // two tiles and five columns left
        let taps: Vec<Vec<(usize, f32)>> = (0..dw)
            .map(|dx| (0..1 + dx % 5).map(|_| ((next() as usize) % sw, (next() % 1000) as f32 / 997.0)).collect())
            .collect();
        let padded = PaddedTaps::new(dw, |dx| taps[dx].clone()).expect("offsets fit");
        assert_eq!((padded.per_column, padded.columns()), (5, 16));
        let widest = taps[..16].iter().flatten().map(|t| t.0).max().unwrap();
        assert_eq!(padded.reach, widest * LANES + LANES, "the block length the taps read");
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
}
