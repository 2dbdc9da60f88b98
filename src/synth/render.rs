//! Chest-like image content: a smooth low-resolution intensity field, upsampled with noise.
//!
//! Intensities are *presentation* values in `[0, 1]` where 1 is bright (bone). The content is
//! synthesised on a grid `ds` times coarser than the image (`ds` = 8 for real sizes), blurred,
//! then bilinearly upsampled with Gaussian noise added at full resolution. Invariants:
//! - the rib layer is filled from exactly the annotation polygons, so annotated ribs are the
//!   bright bands of the image;
//! - the result is a pure function of the RNG state: single-threaded scalar `f32`/`f64`
//!   arithmetic, no SIMD-dependent resizing library, so output never depends on CPU features
//!   or thread count (only `std` float functions like `sin`/`exp` could differ in the last
//!   bit between platforms' math libraries).

use super::anatomy::{Chest, Point};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// Intensity of air outside the body.
const AIR: f32 = 0.04;
/// Soft tissue of the body.
const BODY: f32 = 0.42;

/// The blurred low-resolution presentation field of one image.
#[derive(Debug, Clone)]
pub struct Field {
    rows: usize,
    cols: usize,
    /// Downsampling factor between the image and the field.
    ds: usize,
    lh: usize,
    lw: usize,
    data: Vec<f32>,
}

/// Downsampling factor: 8 for real images, smaller for tiny test images so ribs survive.
fn factor(rows: usize, cols: usize) -> usize {
    (rows.min(cols) / 64).clamp(1, 8)
}

/// Full-resolution coordinate of the centre of low-resolution cell `i`.
fn centre(i: usize, ds: usize) -> f64 {
    (i * ds) as f64 + (ds as f64 - 1.0) / 2.0
}

/// Render the smooth chest content for `chest`, drawing ribs from `ribs`.
pub fn render_field(rng: &mut ChaCha8Rng, chest: &Chest, ribs: &[Option<Vec<Point>>]) -> Field {
    let (rows, cols) = (chest.rows as usize, chest.cols as usize);
    let ds = factor(rows, cols);
    let (lh, lw) = (rows.div_ceil(ds), cols.div_ceil(ds));
    let mut data = Vec::with_capacity(lh * lw);
    for j in 0..lh {
        let y = centre(j, ds);
        data.extend((0..lw).map(|k| tissue(chest, centre(k, ds), y)));
    }
    let mut field = Field { rows, cols, ds, lh, lw, data };
    let mut layer = vec![0.0f32; lh * lw];
    for pts in ribs.iter().flatten() {
        field.fill_polygon(&mut layer, pts);
    }
    let gain = 0.22 * rng.random_range(0.85f32..1.0);
    for (v, r) in field.data.iter_mut().zip(&layer) {
        *v += gain * r;
    }
    // Blur in full-resolution units so anatomy looks alike at every image size.
    field.blur((chest.rows * 0.005 / ds as f64).max(0.3));
    field.heel(rng.random_range(-0.08f32..0.08));
    field
}

/// Soft-tissue intensity (no ribs) at full-resolution position `(x, y)`.
fn tissue(c: &Chest, x: f64, y: f64) -> f32 {
    let inside = |ex: f64, ey: f64, rx: f64, ry: f64| ((x - ex) / rx).powi(2) + ((y - ey) / ry).powi(2) < 1.0;
    let span = c.bottom - c.top;
    let body = inside(c.cx, c.rows * 0.55, c.half_w * 1.35, c.rows * 0.62);
    let mut v = if body { BODY } else { AIR };
    // Lungs are dark; the lower halves of the ellipses play the diaphragm domes.
    for sign in [-1.0, 1.0] {
        let lcx = c.cx + sign * c.half_w * 0.5;
        let lcy = (c.top + c.bottom) / 2.0 + c.rows * 0.03;
        if inside(lcx, lcy, c.half_w * 0.46, span * 0.72) {
            v = (0.16 + 0.06 * (y - c.top) / span) as f32;
        }
    }
    // Heart on the patient's left (image right), then mediastinum and spine on top.
    if inside(c.cx + c.half_w * 0.18, c.bottom - span * 0.15, c.half_w * 0.32, span * 0.28) {
        v = 0.5;
    }
    let dx = (x - c.cx).abs();
    if body && dx < c.half_w * (0.14 + 0.08 * y / c.rows) {
        v = 0.55;
    }
    if body && dx < c.half_w * 0.08 {
        v += 0.15;
    }
    v
}

impl Field {
    /// Full-resolution (rows, cols) of the image this field renders.
    pub fn dims(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// Set `layer` to 1 in every cell whose centre lies inside `pts` (even-odd scanline fill).
    fn fill_polygon(&self, layer: &mut [f32], pts: &[Point]) {
        let mut xs = Vec::new();
        for j in 0..self.lh {
            let y = centre(j, self.ds);
            xs.clear();
            for (a, b) in pts.iter().zip(pts.iter().cycle().skip(1)) {
                // Half-open rule: a vertex exactly on the scanline counts once.
                if (a.1 <= y) != (b.1 <= y) {
                    xs.push(a.0 + (y - a.1) * (b.0 - a.0) / (b.1 - a.1));
                }
            }
            xs.sort_by(f64::total_cmp);
            for pair in xs.chunks_exact(2) {
                let half = (self.ds as f64 - 1.0) / 2.0;
                let k0 = ((pair[0] - half) / self.ds as f64).ceil().max(0.0) as usize;
                let k1 = (((pair[1] - half) / self.ds as f64).ceil().max(0.0) as usize).min(self.lw);
                let row = &mut layer[j * self.lw..(j + 1) * self.lw];
                row[k0.min(k1)..k1].fill(1.0);
            }
        }
    }

    /// Separable Gaussian blur with clamped edges.
    fn blur(&mut self, sigma: f64) {
        let radius = (3.0 * sigma).ceil() as isize;
        let kernel: Vec<f32> =
            (-radius..=radius).map(|d| (-(d * d) as f64 / (2.0 * sigma * sigma)).exp() as f32).collect();
        let norm: f32 = kernel.iter().sum();
        let kernel: Vec<f32> = kernel.iter().map(|k| k / norm).collect();
        let (lh, lw) = (self.lh as isize, self.lw as isize);
        let mut tmp = vec![0.0f32; self.data.len()];
        let tap = |n: isize, i: isize, d: isize| (i + d - radius).clamp(0, n - 1) as usize;
        for j in 0..lh {
            for k in 0..lw {
                let acc =
                    kernel.iter().enumerate().map(|(d, w)| w * self.data[(j * lw) as usize + tap(lw, k, d as isize)]);
                tmp[(j * lw + k) as usize] = acc.sum();
            }
        }
        for j in 0..lh {
            for k in 0..lw {
                let acc =
                    kernel.iter().enumerate().map(|(d, w)| w * tmp[tap(lh, j, d as isize) * self.lw + k as usize]);
                self.data[(j * lw + k) as usize] = acc.sum();
            }
        }
    }

    /// Exposure gradient from top to bottom (anode heel effect).
    fn heel(&mut self, strength: f32) {
        for j in 0..self.lh {
            let y = centre(j, self.ds) / self.rows as f64;
            let g = 1.0 + strength * (y as f32 - 0.5);
            for v in &mut self.data[j * self.lw..(j + 1) * self.lw] {
                *v *= g;
            }
        }
    }

    /// The `p`-th percentile (0..=100) of the noise-free field, for choosing display ranges.
    pub fn percentile(&self, p: f64) -> f32 {
        let mut sorted = self.data.clone();
        sorted.sort_by(f32::total_cmp);
        percentile_sorted(&sorted, p) as f32
    }

    /// Upsample to full resolution, add Gaussian noise of `sigma`, clamp to `[0, 1]` and store
    /// `map(value)` row-major into a new buffer of `rows * cols` elements.
    pub fn upsample<T: Copy + Default>(&self, rng: &mut ChaCha8Rng, sigma: f32, map: impl Fn(f32) -> T) -> Vec<T> {
        // Source cell and weight along one axis; sample centres line up with `centre`.
        let taps = |n: usize, len: usize| -> Vec<(usize, usize, f32)> {
            (0..n)
                .map(|x| {
                    let u = ((x as f64 + 0.5) / self.ds as f64 - 0.5).max(0.0);
                    let i0 = (u.floor() as usize).min(len - 1);
                    (i0, (i0 + 1).min(len - 1), (u - i0 as f64).min(1.0) as f32)
                })
                .collect()
        };
        let (xt, yt) = (taps(self.cols, self.lw), taps(self.rows, self.lh));
        let mut out = vec![T::default(); self.rows * self.cols];
        let mut line = vec![0.0f32; self.lw];
        for (row, &(j0, j1, fy)) in out.chunks_exact_mut(self.cols).zip(&yt) {
            let (a, b) = (&self.data[j0 * self.lw..], &self.data[j1 * self.lw..]);
            for (k, l) in line.iter_mut().enumerate() {
                *l = a[k] + fy * (b[k] - a[k]);
            }
            for (o, &(k0, k1, fx)) in row.iter_mut().zip(&xt) {
                let z: f32 = StandardNormal.sample(rng);
                let v = line[k0] + fx * (line[k1] - line[k0]) + sigma * z;
                *o = map(v.clamp(0.0, 1.0));
            }
        }
        out
    }
}

/// Linear-interpolated percentile (numpy's default method) of an ascending slice.
pub fn percentile_sorted<T: Copy + Into<f64>>(sorted: &[T], p: f64) -> f64 {
    let Some(last) = sorted.len().checked_sub(1) else {
        return 0.0;
    };
    let pos = p.clamp(0.0, 100.0) / 100.0 * last as f64;
    let i = pos.floor() as usize;
    let lo: f64 = sorted[i].into();
    let hi: f64 = sorted[(i + 1).min(last)].into();
    lo + (pos - i as f64) * (hi - lo)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_matches_numpy_linear() {
        let v = [1.0f32, 2.0, 3.0, 4.0];
        assert_eq!(percentile_sorted(&v, 0.0), 1.0);
        assert_eq!(percentile_sorted(&v, 50.0), 2.5);
        assert_eq!(percentile_sorted(&v, 100.0), 4.0);
        assert_eq!(percentile_sorted::<f32>(&[], 50.0), 0.0);
    }

    #[test]
    fn fill_covers_square() {
        let field = Field { rows: 10, cols: 10, ds: 1, lh: 10, lw: 10, data: vec![0.0; 100] };
        let mut layer = vec![0.0; 100];
        field.fill_polygon(&mut layer, &[(1.5, 1.5), (4.5, 1.5), (4.5, 4.5), (1.5, 4.5)]);
        let filled: Vec<usize> = (0..100).filter(|&i| layer[i] > 0.0).collect();
        assert_eq!(filled, vec![22, 23, 24, 32, 33, 34, 42, 43, 44]);
    }
}
