//! Chest geometry: where the spine, lungs and the 20 ribs of one synthetic image lie.
//!
//! Everything here is in full-resolution pixel coordinates (x to the right, y down, pixel
//! centres at integer coordinates). Invariants of [`make_ribs`]:
//! - ribs come in the order R1..R10, L1..L10 ([`RIB_KEYS`]); R ribs lie on the *image left*
//!   (radiographic convention: the patient's right), L ribs on the image right;
//! - a present rib is a closed polygon of 20..=60 points (upper edge then lower edge
//!   reversed), every point clipped into `[0, cols-1] x [0, rows-1]`;
//! - an absent rib is `None` (more likely for ribs 9 and 10, as if cut by the field of view);
//! - the same RNG state always yields the same geometry.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use std::f64::consts::PI;

/// Annotation keys in output order: R1..R10 then L1..L10.
pub const RIB_KEYS: [&str; 20] = [
    "R1", "R2", "R3", "R4", "R5", "R6", "R7", "R8", "R9", "R10", "L1", "L2", "L3", "L4", "L5", "L6", "L7", "L8", "L9",
    "L10",
];

/// One polygon vertex in full-resolution pixel coordinates.
pub type Point = (f64, f64);

/// Gross chest landmarks shared by the rib layout and the soft-tissue rendering.
#[derive(Debug, Clone, Copy)]
pub struct Chest {
    /// Image height in pixels.
    pub rows: f64,
    /// Image width in pixels.
    pub cols: f64,
    /// x of the spine.
    pub cx: f64,
    /// y where rib 1 meets the spine.
    pub top: f64,
    /// y where rib 10 meets the spine.
    pub bottom: f64,
    /// Distance from the spine to the lateral chest wall.
    pub half_w: f64,
}

/// Per-rib shape parameters, drawn in a fixed order so the geometry is reproducible.
struct RibShape {
    y0: f64,
    start: f64,
    length: f64,
    rise: f64,
    drop: f64,
    thick: f64,
    edge_points: usize,
}

fn normal(rng: &mut ChaCha8Rng, sigma: f64) -> f64 {
    let z: f64 = StandardNormal.sample(rng);
    z * sigma
}

/// Draw the chest landmarks for a `rows x cols` image.
pub fn make_chest(rng: &mut ChaCha8Rng, rows: u32, cols: u32) -> Chest {
    let (h, w) = (f64::from(rows), f64::from(cols));
    Chest {
        rows: h,
        cols: w,
        cx: w * rng.random_range(0.48..0.52),
        top: h * rng.random_range(0.12..0.18),
        bottom: h * rng.random_range(0.62..0.72),
        half_w: w * rng.random_range(0.30..0.36),
    }
}

/// Draw the 20 rib polygons (see the module invariants), `None` for an absent rib.
pub fn make_ribs(rng: &mut ChaCha8Rng, chest: &Chest) -> Vec<Option<Vec<Point>>> {
    let spacing = (chest.bottom - chest.top) / 9.0;
    let thick0 = chest.rows * rng.random_range(0.018..0.026);
    let mut ribs = Vec::with_capacity(RIB_KEYS.len());
    for sign in [-1.0, 1.0] {
        for k in 1..=10u32 {
            // Lower ribs are more often outside the field of view.
            let p_absent = if k >= 9 { 0.12 } else { 0.02 };
            if rng.random_bool(p_absent) {
                ribs.push(None);
                continue;
            }
            let shape = draw_shape(rng, chest, spacing, thick0, k);
            ribs.push(Some(rib_polygon(rng, chest, &shape, sign)));
        }
    }
    ribs
}

fn draw_shape(rng: &mut ChaCha8Rng, chest: &Chest, spacing: f64, thick0: f64, k: u32) -> RibShape {
    let kf = f64::from(k);
    let y0 = chest.top + (kf - 1.0) * spacing + normal(rng, spacing * 0.05);
    let start = chest.cols * 0.02 + rng.random_range(0.0..chest.cols * 0.01);
    // Upper ribs are shorter, lower ribs reach the lateral chest wall.
    let length = chest.half_w * (0.55 + 0.45 * (kf / 5.0).min(1.0)) * rng.random_range(0.92..1.05);
    let rise = spacing * rng.random_range(0.3..0.6);
    let drop = spacing * rng.random_range(1.6..2.6) * (0.7 + 0.06 * kf);
    let thick = thick0 * rng.random_range(0.85..1.15) * (0.9 + 0.02 * kf);
    let edge_points = rng.random_range(10..=30usize);
    RibShape { y0, start, length, rise, drop, thick, edge_points }
}

/// Offset the rib centreline by +-half the (tapered) thickness along its normal; the polygon
/// is the upper edge followed by the lower edge in reverse, so it is simple (non-crossing).
fn rib_polygon(rng: &mut ChaCha8Rng, chest: &Chest, s: &RibShape, sign: f64) -> Vec<Point> {
    let m = s.edge_points;
    let mut upper = Vec::with_capacity(m);
    let mut lower = Vec::with_capacity(m);
    for i in 0..m {
        let t = i as f64 / (m - 1) as f64;
        let x = chest.cx + sign * (s.start + s.length * t);
        let y = s.y0 - s.rise * (PI * t * 0.8).sin() + s.drop * t * t;
        // Analytic derivative of the centreline gives its unit normal.
        let dx = sign * s.length;
        let dy = -s.rise * 0.8 * PI * (0.8 * PI * t).cos() + 2.0 * s.drop * t;
        let len = dx.hypot(dy) + 1e-9;
        let (nx, ny) = (-dy / len, dx / len);
        // Taper towards both ends, as real ribs thin out.
        let half = 0.5 * s.thick * (0.5 + 0.5 * (PI * (0.15 + 0.85 * t)).sin());
        let (j0, j1) = (normal(rng, s.thick * 0.04), normal(rng, s.thick * 0.04));
        upper.push(clip(chest, x + nx * half + j0, y + ny * half + j1));
        lower.push(clip(chest, x - nx * half - j1, y - ny * half - j0));
    }
    upper.extend(lower.into_iter().rev());
    upper
}

fn clip(chest: &Chest, x: f64, y: f64) -> Point {
    (x.clamp(0.0, chest.cols - 1.0), y.clamp(0.0, chest.rows - 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn ribs_have_expected_shape() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let chest = make_chest(&mut rng, 300, 280);
        let ribs = make_ribs(&mut rng, &chest);
        assert_eq!(ribs.len(), 20);
        for pts in ribs.iter().flatten() {
            assert!((20..=60).contains(&pts.len()));
            assert!(pts.len() % 2 == 0);
            for &(x, y) in pts {
                assert!((0.0..=279.0).contains(&x) && (0.0..=299.0).contains(&y));
            }
        }
        // R ribs left of the spine, L ribs right of it.
        let mean_x = |p: &Vec<Point>| p.iter().map(|q| q.0).sum::<f64>() / p.len() as f64;
        for (i, pts) in ribs.iter().enumerate() {
            if let Some(p) = pts {
                assert_eq!(mean_x(p) < chest.cx, i < 10, "{}", RIB_KEYS[i]);
            }
        }
    }
}
