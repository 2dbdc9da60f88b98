//! Polygon scan conversion for rib masks, bit-exact with OpenCV's `cv2.fillPoly`.
//!
//! Role: the rib annotations are polygons in pixel coordinates; the masks the
//! pipeline writes must be identical to those the reference (Python/OpenCV)
//! tooling produced with `cv2.fillPoly(mask, [pts], value)`, so this module is
//! a port of that code path for the default call (`lineType = LINE_8`,
//! `shift = 0`, integer vertices, one polygon per call).
//!
//! Fill rule, as OpenCV does it:
//! - every polygon edge (including the closing edge from the last vertex back
//!   to the first) is first *drawn* as an 8-connected Bresenham line, so the
//!   boundary pixels are always set, even for degenerate 1- and 2-point
//!   polygons (a dot and a line respectively);
//! - the interior is then filled scanline by scanline with an even-odd
//!   (alternating) rule: on each row the active edges are sorted by x and
//!   consecutive pairs delimit the spans `[ceil(x_left), floor(x_right)]`;
//!   a self-intersecting polygon therefore leaves its doubly-covered regions
//!   unfilled except where the drawn edges cover them;
//! - pixels outside the plane are clipped: edges are clipped to the plane
//!   before drawing (OpenCV `clipLine`) and spans are clamped to the row.
//!
//! Only `value` is ever written, only inside the plane, and only pixels of
//! this polygon: calling it again for another polygon overwrites the
//! overlapping pixels (the masks of overlapping ribs stay overlapping).
//!
//! Invariants: never panics and never indexes out of bounds for any `i32`
//! vertices (arithmetic that OpenCV performs on `int64` wraps exactly as the
//! C++ code does on two's-complement hardware; rows above the plane are
//! skipped in O(edges) instead of one by one), and writes nothing if the
//! plane length does not match `width * height`.

/// Fixed-point precision of the edge x coordinates (OpenCV `XY_SHIFT`).
const XY_SHIFT: u32 = 16;
/// One pixel in fixed point (OpenCV `XY_ONE`).
const XY_ONE: i64 = 1 << XY_SHIFT;

/// Fill one polygon with `value` into a row-major `width*height` plane, OpenCV `fillPoly` semantics
/// (LINE_8, shift 0). Points may lie outside the plane (clipped); fewer than 1 point is a no-op;
/// never panics for any i32 input (guard against overflow: clamp or use i64 where needed).
pub fn fill_polygon(plane: &mut [u8], width: usize, height: usize, points: &[(i32, i32)], value: u8) {
    fill_polygon_written(plane, width, height, points, value);
}

/// [`fill_polygon`], returning the bounding box (x_min, y_min, x_max, y_max), inclusive, of
/// the pixels it wrote; `None` if it wrote none. On a plane that was zero, with a non-zero
/// `value`, that is [`nonzero_bbox`] of the result, without scanning the plane.
pub fn fill_polygon_written(
    plane: &mut [u8],
    width: usize,
    height: usize,
    points: &[(i32, i32)],
    value: u8,
) -> Option<(u32, u32, u32, u32)> {
    let area = width.checked_mul(height);
    debug_assert_eq!(area, Some(plane.len()), "plane is not width*height");
    if area != Some(plane.len()) || points.is_empty() {
        return None;
    }
    // OpenCV image sizes are `int`; anything larger cannot be a cv::Mat.
    let (Ok(w), Ok(h)) = (i32::try_from(width), i32::try_from(height)) else {
        return None;
    };
    if w == 0 || h == 0 {
        return None;
    }
    let mut canvas = Canvas { plane, width: w, height: h, value, written: None };
    let edges = collect_poly_edges(&mut canvas, points);
    fill_edge_collection(&mut canvas, edges);
    // Written pixels are inside the plane: non-negative `i32`s.
    canvas.written.map(|(a, b, c, d)| (a as u32, b as u32, c as u32, d as u32))
}

/// Bounding box (x_min, y_min, x_max, y_max), inclusive, of the pixels equal to non-zero in a plane; None if empty.
pub fn nonzero_bbox(plane: &[u8], width: usize, height: usize) -> Option<(u32, u32, u32, u32)> {
    if width == 0 || height == 0 || width.checked_mul(height) != Some(plane.len()) {
        return None;
    }
    nonzero_bbox_in(plane, width, (0, 0, width - 1, height - 1))
}

/// [`nonzero_bbox`] restricted to the inclusive region `(x0, y0, x1, y1)` of a plane `width`
/// wide (for when every non-zero pixel is known to lie inside it); plane coordinates.
fn nonzero_bbox_in(
    plane: &[u8],
    width: usize,
    (x0, y0, x1, y1): (usize, usize, usize, usize),
) -> Option<(u32, u32, u32, u32)> {
    if x0 > x1 || y0 > y1 || x1 >= width || (y1 + 1).checked_mul(width)? > plane.len() {
        return None;
    }
    let mut bbox: Option<(usize, usize, usize, usize)> = None;
    for y in y0..=y1 {
        let row = &plane[y * width + x0..=y * width + x1];
        let Some(first) = row.iter().position(|&v| v != 0) else {
            continue;
        };
        let last = row.iter().rposition(|&v| v != 0).unwrap_or(first);
        bbox = Some(match bbox {
            None => (first, y, last, y),
            Some((a, b, c, _)) => (a.min(first), b, c.max(last), y),
        });
    }
    let to_u32 = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
    bbox.map(|(a, b, c, d)| (to_u32(a + x0), to_u32(b), to_u32(c + x0), to_u32(d)))
}

/// The destination plane with its size as OpenCV sees it (`int` rows/cols).
struct Canvas<'a> {
    plane: &'a mut [u8],
    width: i32,
    height: i32,
    value: u8,
    /// Inclusive box of the pixels written so far.
    written: Option<(i32, i32, i32, i32)>,
}

impl Canvas<'_> {
    /// Grow the written box by the inclusive box `(x0, y0, x1, y1)`.
    fn wrote(&mut self, (x0, y0, x1, y1): (i32, i32, i32, i32)) {
        self.written = Some(match self.written {
            None => (x0, y0, x1, y1),
            Some((a, b, c, d)) => (a.min(x0), b.min(y0), c.max(x1), d.max(y1)),
        });
    }

    /// Fill `[x1, x2]` of row `y` (OpenCV `ICV_HLINE`); callers pass clamped
    /// columns, an empty range (`x1 > x2`) writes nothing.
    fn hline(&mut self, y: i32, x1: i32, x2: i32) {
        if y < 0 || y >= self.height || x1 < 0 || x2 >= self.width || x1 > x2 {
            return;
        }
        let row = y as usize * self.width as usize;
        if let Some(span) = self.plane.get_mut(row + x1 as usize..=row + x2 as usize) {
            span.fill(self.value);
            self.wrote((x1, y, x2, y));
        }
    }
}

// ---------------------------------------------------------------------------
// Port of OpenCV modules/imgproc/src/drawing.cpp (clipLine, LineIterator with
// connectivity 8, Line, CollectPolyEdges, FillEdgeCollection), OpenCV 4.x/5.x,
// Copyright (C) 2000 Intel Corporation and OpenCV contributors, distributed
// under the Apache License 2.0. Only the single-channel, LINE_8, shift = 0
// path is ported; structure and integer arithmetic follow the original.
// ---------------------------------------------------------------------------

/// A point in OpenCV's `Point2l` (int64) coordinates.
type P64 = (i64, i64);

/// One non-horizontal polygon edge, active on rows `y0 <= y < y1`; `x` is the
/// fixed-point x at the current row and `dx` the per-row increment.
#[derive(Clone, Copy, Debug)]
struct PolyEdge {
    y0: i32,
    y1: i32,
    x: i64,
    dx: i64,
}

/// `(int64)((double)num * mul / den)` exactly as `clipLine` evaluates it
/// (the product is formed in double, so it cannot overflow).
fn scaled(num: i64, mul: i64, den: i64) -> i64 {
    (num as f64 * mul as f64 / den as f64) as i64
}

/// `cv::clipLine(Size2l, Point2l&, Point2l&)`: clips the segment to
/// `[0, w-1] x [0, h-1]` in place; true if any part of it is inside. The
/// endpoints are updated one after the other, the second using the first's
/// clipped value, as in the original (this affects rounding).
fn clip_line(w: i64, h: i64, p1: &mut P64, p2: &mut P64) -> bool {
    if w <= 0 || h <= 0 {
        return false;
    }
    let (right, bottom) = (w - 1, h - 1);
    let xcode = |x: i64| i32::from(x < 0) + i32::from(x > right) * 2;
    let code = |p: &P64| xcode(p.0) + i32::from(p.1 < 0) * 4 + i32::from(p.1 > bottom) * 8;
    let (mut c1, mut c2) = (code(p1), code(p2));
    if (c1 & c2) == 0 && (c1 | c2) != 0 {
        // First onto the top/bottom row, then onto the left/right column.
        let row = |c: i32| if c < 8 { 0 } else { bottom };
        let col = |c: i32| if c == 1 { 0 } else { right };
        if c1 & 12 != 0 {
            clip_to_row(p1, row(c1), direction(p1, p2));
            c1 = xcode(p1.0);
        }
        if c2 & 12 != 0 {
            clip_to_row(p2, row(c2), direction(p1, p2));
            c2 = xcode(p2.0);
        }
        if (c1 & c2) == 0 && (c1 | c2) != 0 {
            if c1 != 0 {
                clip_to_col(p1, col(c1), direction(p1, p2));
                c1 = 0;
            }
            if c2 != 0 {
                clip_to_col(p2, col(c2), direction(p1, p2));
                c2 = 0;
            }
        }
    }
    (c1 | c2) == 0
}

/// `pt2 - pt1` of the segment being clipped, recomputed after each endpoint
/// moves because the original reads the already-updated endpoint.
fn direction(p1: &P64, p2: &P64) -> P64 {
    (p2.0.wrapping_sub(p1.0), p2.1.wrapping_sub(p1.1))
}

/// Moves `p` along direction `d` onto row `a`:
/// `x += (int64)((double)(a - y) * dx / dy); y = a`.
fn clip_to_row(p: &mut P64, a: i64, d: P64) {
    p.0 = p.0.wrapping_add(scaled(a.wrapping_sub(p.1), d.0, d.1));
    p.1 = a;
}

/// Moves `p` along direction `d` onto column `a`:
/// `y += (int64)((double)(a - x) * dy / dx); x = a`.
fn clip_to_col(p: &mut P64, a: i64, d: P64) {
    p.1 = p.1.wrapping_add(scaled(a.wrapping_sub(p.0), d.1, d.0));
    p.0 = a;
}

/// `Line(img, pt1, pt2, color, 8)`: draws the 8-connected line the way
/// `cv::LineIterator(img, pt1, pt2, 8, leftToRight = true)` walks it.
fn draw_line(canvas: &mut Canvas<'_>, pt1: (i32, i32), pt2: (i32, i32)) {
    let (w, h) = (canvas.width, canvas.height);
    let (mut p1, mut p2) = ((i64::from(pt1.0), i64::from(pt1.1)), (i64::from(pt2.0), i64::from(pt2.1)));
    let outside = |p: P64| p.0 < 0 || p.0 >= i64::from(w) || p.1 < 0 || p.1 >= i64::from(h);
    if outside(p1) || outside(p2) {
        // The iterator clips through the `Point` (int) overload, which casts
        // the clipped int64 coordinates back with `(int)`.
        let inside = clip_line(i64::from(w), i64::from(h), &mut p1, &mut p2);
        if !inside {
            return;
        }
        p1 = (i64::from(p1.0 as i32), i64::from(p1.1 as i32));
        p2 = (i64::from(p2.0 as i32), i64::from(p2.1 as i32));
    }
    walk_line(canvas, p1, p2);
}

/// The Bresenham walk of `LineIterator::init` + `operator++` for
/// connectivity 8: `dx + 1` pixels along the major axis, starting from the
/// left endpoint; the minor coordinate steps whenever the error is negative.
fn walk_line(canvas: &mut Canvas<'_>, p1: P64, p2: P64) {
    let (mut dx, mut dy) = (p2.0 - p1.0, p2.1 - p1.1);
    let mut start = p1;
    if dx < 0 {
        // leftToRight: walk from pt2 instead, with the direction reversed.
        dx = -dx;
        dy = -dy;
        start = p2;
    }
    let step_y = if dy < 0 { -1 } else { 1 };
    dy = dy.abs();
    let vert = dy > dx;
    if vert {
        std::mem::swap(&mut dx, &mut dy);
    }
    // (always-step, step-when-err<0) increments of (x, y).
    let (major, minor) = if vert { ((0, step_y), (1, 0)) } else { ((1, 0), (0, step_y)) };
    let (plus_delta, minus_delta) = (dx + dx, -(dy + dy));
    let mut err = dx - (dy + dy);
    let (mut x, mut y) = start;
    // The box of the pixels written, kept here and given to the canvas once.
    let (mut x_min, mut y_min, mut x_max, mut y_max) = (i64::MAX, i64::MAX, i64::MIN, i64::MIN);
    let (w, h) = (i64::from(canvas.width), i64::from(canvas.height));
    for _ in 0..=dx {
        // Out-of-plane positions are ignored: OpenCV would write out of bounds only if
        // `clipLine` returned an out-of-range endpoint; here that is a no-op instead.
        if (0..w).contains(&x) && (0..h).contains(&y) {
            // In range, so both are non-negative and below the usize sizes.
            if let Some(px) = canvas.plane.get_mut(y as usize * w as usize + x as usize) {
                *px = canvas.value;
                (x_min, y_min, x_max, y_max) = (x_min.min(x), y_min.min(y), x_max.max(x), y_max.max(y));
            }
        }
        let plus = err < 0;
        err += minus_delta + if plus { plus_delta } else { 0 };
        x += major.0 + if plus { minor.0 } else { 0 };
        y += major.1 + if plus { minor.1 } else { 0 };
    }
    if x_min <= x_max {
        // In range of the `i32` sizes (checked above).
        canvas.wrote((x_min as i32, y_min as i32, x_max as i32, y_max as i32));
    }
}

/// `CollectPolyEdges` for shift 0, offset 0: draws every edge (closing edge
/// first, from the last vertex to the first) and returns the non-horizontal
/// edges with their fixed-point start x, taken from the *clipped* endpoints
/// and extrapolated back to the unclipped start row, as OpenCV does.
fn collect_poly_edges(canvas: &mut Canvas<'_>, points: &[(i32, i32)]) -> Vec<PolyEdge> {
    let (w, h) = (i64::from(canvas.width), i64::from(canvas.height));
    let mut edges = Vec::with_capacity(points.len() + 1);
    // With shift 0 a vertex maps to (x << XY_SHIFT, y) and the rounding
    // `(x + XY_ONE/2) >> XY_SHIFT` gives back x exactly, so the pixel
    // endpoints `t0`, `t1` are the vertices themselves.
    let mut pt0 = points[points.len() - 1];
    for &pt1 in points {
        draw_line(canvas, pt0, pt1);
        let (y0, y1) = (i64::from(pt0.1), i64::from(pt1.1));
        let (mut t0, mut t1) = ((i64::from(pt0.0), y0), (i64::from(pt1.0), y1));
        let (mut c0y, mut c1y) = (y0, y1);
        let outside = |p: P64| p.0 < 0 || p.0 >= w || p.1 < 0 || p.1 >= h;
        if outside(t0) || outside(t1) {
            // Result deliberately ignored, as in OpenCV: a rejected segment
            // keeps (or partly keeps) its endpoints.
            clip_line(w, h, &mut t0, &mut t1);
            if t0.1 != t1.1 {
                c0y = t0.1;
                c1y = t1.1;
            }
        }
        let (c0x, c1x) = (t0.0.wrapping_mul(XY_ONE), t1.0.wrapping_mul(XY_ONE));
        if y0 != y1 {
            edges.extend(make_edge((c0x, c0y), (c1x, c1y), y0, y1));
        }
        pt0 = pt1;
    }
    edges
}

/// Builds the `PolyEdge` of one segment from its (clipped) fixed-point
/// endpoints `c0`, `c1` and the unclipped rows `y0`, `y1` (`y0 != y1`).
fn make_edge(c0: P64, c1: P64, y0: i64, y1: i64) -> Option<PolyEdge> {
    let den = c1.1.wrapping_sub(c0.1);
    if den == 0 {
        // Unreachable by construction (clipped rows are only adopted when
        // they differ); guards the division anyway.
        return None;
    }
    let dx = c1.0.wrapping_sub(c0.0).wrapping_div(den);
    // The edge starts at its upper end, at the unclipped row.
    let (top, ctop, lower) = if y0 < y1 { (y0, c0, y1) } else { (y1, c1, y0) };
    let x = ctop.0.wrapping_add(top.wrapping_sub(ctop.1).wrapping_mul(dx));
    // Rows come from i32 vertices, so the casts are exact.
    Some(PolyEdge { y0: top as i32, y1: lower as i32, x, dx })
}

/// `FillEdgeCollection`: the scanline fill of the collected edges.
fn fill_edge_collection(canvas: &mut Canvas<'_>, mut edges: Vec<PolyEdge>) {
    if edges.len() < 2 || !may_touch_plane(canvas, &edges) {
        return;
    }
    // CmpEdges: by top row, then x, then dx.
    edges.sort_by_key(|e| (e.y0, e.x, e.dx));
    let y_end = edges.iter().map(|e| e.y1).max().unwrap_or(0).min(canvas.height);
    let mut y = edges[0].y0;
    let mut next = 0;
    // The active edges and the next row's, swapped row by row (no allocation a row).
    let (mut active, mut row): (Vec<usize>, Vec<usize>) = (Vec::new(), Vec::new());
    if y < 0 {
        // Rows above the plane draw nothing; jump straight to row 0.
        next = skip_to_row_zero(&mut edges, &mut active);
        y = 0;
    }
    while y < y_end {
        scan_row(canvas, &mut edges, &active, &mut row, &mut next, y);
        std::mem::swap(&mut active, &mut row);
        y += 1;
    }
}

/// The early-out of `FillEdgeCollection`: false when the bounding box of all
/// edges (their x at both ends) lies entirely outside the plane.
fn may_touch_plane(canvas: &Canvas<'_>, edges: &[PolyEdge]) -> bool {
    let (mut y_min, mut y_max) = (i32::MAX, i32::MIN);
    let (mut x_min, mut x_max) = (i64::MAX, -1_i64);
    for e in edges {
        // `(e1.y1 - e1.y0) * e1.dx`: an int difference promoted to int64.
        let x1 = e.x.wrapping_add(i64::from(e.y1.wrapping_sub(e.y0)).wrapping_mul(e.dx));
        y_min = y_min.min(e.y0);
        y_max = y_max.max(e.y1);
        x_min = x_min.min(e.x).min(x1);
        x_max = x_max.max(e.x).max(x1);
    }
    let width_fixed = i64::from(canvas.width) << XY_SHIFT;
    !(y_max < 0 || y_min >= canvas.height || x_max < 0 || x_min >= width_fixed)
}

/// Fast-forward of the rows `y < 0`, which OpenCV walks one by one without
/// drawing: advances every edge crossing row 0 to its x at row 0 (the same
/// wrapping sum as adding `dx` row by row) and returns the index of the
/// first edge not yet started. The active list ends sorted by x; the order
/// among equal x may differ from OpenCV's, which never changes a span since
/// spans depend only on the sorted x values.
fn skip_to_row_zero(edges: &mut [PolyEdge], active: &mut Vec<usize>) -> usize {
    let mut next = 0;
    while next < edges.len() && edges[next].y0 < 0 {
        let e = &mut edges[next];
        if e.y1 > 0 {
            let rows = -i64::from(e.y0);
            e.x = e.x.wrapping_add(rows.wrapping_mul(e.dx));
            active.push(next);
        }
        next += 1;
    }
    active.sort_by_key(|&i| edges[i].x);
    next
}

/// One iteration of the `FillEdgeCollection` row loop at row `y >= 0`:
/// drops edges ending at `y`, merges in edges starting at `y` (before the
/// first active edge with x >= theirs), fills the span between each pair,
/// advances the paired edges and re-sorts. The bubble sort of the original
/// is stable, so a stable sort yields the identical order. The new active
/// list is left in `row`.
fn scan_row(
    canvas: &mut Canvas<'_>,
    edges: &mut [PolyEdge],
    active: &[usize],
    row: &mut Vec<usize>,
    next: &mut usize,
    y: i32,
) {
    row.clear();
    let mut kept = active.iter().copied().filter(|&i| edges[i].y1 != y).peekable();
    loop {
        let starting = *next < edges.len() && edges[*next].y0 == y;
        match kept.peek() {
            Some(&i) if !starting || edges[i].x < edges[*next].x => {
                row.push(i);
                kept.next();
            }
            _ if starting => {
                row.push(*next);
                *next += 1;
            }
            _ => break,
        }
    }
    for pair in row.chunks_exact(2) {
        fill_span(canvas, y, edges[pair[0]].x, edges[pair[1]].x);
        for &i in pair {
            edges[i].x = edges[i].x.wrapping_add(edges[i].dx);
        }
    }
    row.sort_by_key(|&i| edges[i].x);
}

/// Fills the pixels between two edge crossings of row `y`: from the ceiling
/// of the smaller fixed-point x to the floor of the larger (the `(int)`
/// casts truncate like the C++), clamped to the row.
fn fill_span(canvas: &mut Canvas<'_>, y: i32, xa: i64, xb: i64) {
    let (lo, hi) = if xa > xb { (xb, xa) } else { (xa, xb) };
    let mut x1 = (lo.wrapping_add(XY_ONE - 1) >> XY_SHIFT) as i32;
    let mut x2 = (hi >> XY_SHIFT) as i32;
    if x1 < canvas.width && x2 >= 0 {
        x1 = x1.max(0);
        x2 = x2.min(canvas.width - 1);
        canvas.hline(y, x1, x2);
    }
}

#[cfg(test)]
mod tests {
    //! Expected values come from `cv2.fillPoly(img, [pts], 1)` with
    //! opencv-python-headless 5.0.0 (see the parity scripts).

    use super::*;

    const W: usize = 16;
    const H: usize = 16;
    const MIN: i32 = i32::MIN;
    const MAX: i32 = i32::MAX;

    fn render(w: usize, h: usize, pts: &[(i32, i32)]) -> Vec<u8> {
        let mut plane = vec![0u8; w * h];
        fill_polygon(&mut plane, w, h, pts, 1);
        plane
    }

    fn count(plane: &[u8]) -> usize {
        plane.iter().filter(|&&v| v != 0).count()
    }

    fn row_counts(plane: &[u8], w: usize) -> Vec<usize> {
        plane.chunks_exact(w).map(count).collect()
    }

    fn set_pixels(plane: &[u8], w: usize) -> Vec<(usize, usize)> {
        let set = plane.iter().enumerate().filter(|(_, &v)| v != 0);
        set.map(|(i, _)| (i % w, i / w)).collect()
    }

    #[test]
    fn rectangle_fills_inclusive_bounds() {
        let plane = render(W, H, &[(2, 3), (7, 3), (7, 9), (2, 9)]);
        assert_eq!(count(&plane), 6 * 7);
        assert_eq!(nonzero_bbox(&plane, W, H), Some((2, 3, 7, 9)));
    }

    #[test]
    fn triangle_matches_opencv() {
        let plane = render(W, H, &[(1, 1), (12, 4), (4, 13)]);
        assert_eq!(count(&plane), 80);
        let rows = [0, 2, 6, 10, 11, 10, 9, 8, 6, 6, 5, 4, 2, 1, 0, 0];
        assert_eq!(row_counts(&plane, W), rows);
    }

    #[test]
    fn concave_u_shape_keeps_its_notch_empty() {
        let u = [(2, 2), (5, 2), (5, 10), (10, 10), (10, 2), (13, 2), (13, 13), (2, 13)];
        let plane = render(W, H, &u);
        assert_eq!(count(&plane), 112);
        let rows = [0, 0, 8, 8, 8, 8, 8, 8, 8, 8, 12, 12, 12, 12, 0, 0];
        assert_eq!(row_counts(&plane, W), rows);
        assert_eq!(plane[5 * W + 7], 0, "inside the notch");
        assert_eq!(nonzero_bbox(&plane, W, H), Some((2, 2, 13, 13)));
    }

    #[test]
    fn self_intersecting_bow_tie_matches_opencv() {
        let plane = render(W, H, &[(2, 2), (12, 12), (12, 2), (2, 12)]);
        assert_eq!(count(&plane), 71);
        let rows = [0, 0, 2, 4, 6, 8, 10, 11, 10, 8, 6, 4, 2, 0, 0, 0];
        assert_eq!(row_counts(&plane, W), rows);
    }

    #[test]
    fn wider_plane_quad_matches_opencv() {
        let plane = render(64, 48, &[(10, 5), (60, 20), (30, 47), (0, 30)]);
        assert_eq!(count(&plane), 1432);
        assert_eq!(nonzero_bbox(&plane, 64, 48), Some((0, 5, 60, 47)));
    }

    #[test]
    fn partly_outside_is_clipped() {
        let plane = render(W, H, &[(-5, -5), (10, -3), (8, 20)]);
        assert_eq!(count(&plane), 127);
        assert_eq!(nonzero_bbox(&plane, W, H), Some((0, 0, 10, 15)));
    }

    #[test]
    fn wholly_outside_is_a_no_op_and_enclosing_fills_all() {
        assert_eq!(count(&render(W, H, &[(20, 2), (30, 4), (25, 12)])), 0);
        assert_eq!(count(&render(W, H, &[(-10, -10), (-1, -10), (-5, -2)])), 0);
        let around = [(-100, -100), (100, -100), (100, 100), (-100, 100)];
        assert_eq!(count(&render(W, H, &around)), W * H);
    }

    #[test]
    fn huge_coordinates_match_opencv() {
        let square = [(MIN, MIN), (MAX, MIN), (MAX, MAX), (MIN, MAX)];
        assert_eq!(count(&render(W, H, &square)), 256);
        assert_eq!(count(&render(W, H, &[(0, 0), (MAX, 5), (3, MAX)])), 240);
        let mixed = render(W, H, &[(MIN, MAX), (MAX, MIN), (5, 5)]);
        assert_eq!(count(&mixed), 66);
        assert_eq!(nonzero_bbox(&mixed, W, H), Some((0, 0, 10, 10)));
    }

    #[test]
    fn extreme_vertex_combinations_never_panic() {
        let vals = [MIN, MIN + 1, -1, 0, 1, 7, MAX - 1, MAX];
        for (w, h) in [(1, 1), (3, 2), (W, H)] {
            for &a in &vals {
                for &b in &vals {
                    let pts = [(a, b), (b, a), (MAX, a), (b, MIN)];
                    for n in 1..=pts.len() {
                        let plane = render(w, h, &pts[..n]);
                        assert!(plane.iter().all(|&v| v <= 1));
                    }
                }
            }
        }
    }

    #[test]
    fn one_point_draws_a_dot() {
        let plane = render(W, H, &[(3, 4)]);
        assert_eq!(set_pixels(&plane, W), [(3, 4)]);
        assert_eq!(count(&render(W, H, &[(16, 4)])), 0);
    }

    #[test]
    fn two_points_draw_an_8_connected_line() {
        let plane = render(W, H, &[(1, 1), (8, 4)]);
        let line = [(1, 1), (2, 1), (3, 2), (4, 2), (5, 3), (6, 3), (7, 4), (8, 4)];
        assert_eq!(set_pixels(&plane, W), line);
    }

    #[test]
    fn two_points_line_is_clipped_like_opencv() {
        let plane = render(W, H, &[(-4, 10), (20, 2)]);
        let line = [
            (14, 3),
            (15, 3),
            (12, 4),
            (13, 4),
            (9, 5),
            (10, 5),
            (11, 5),
            (7, 6),
            (8, 6),
            (4, 7),
            (5, 7),
            (6, 7),
            (2, 8),
            (3, 8),
            (0, 9),
            (1, 9),
        ];
        assert_eq!(set_pixels(&plane, W), line);
    }

    #[test]
    fn empty_input_and_empty_plane_are_no_ops() {
        assert_eq!(count(&render(W, H, &[])), 0);
        let mut empty: Vec<u8> = Vec::new();
        fill_polygon(&mut empty, 0, 0, &[(0, 0), (5, 5), (0, 5)], 1);
        fill_polygon(&mut empty, 0, 7, &[(0, 0), (5, 5), (0, 5)], 1);
        assert!(empty.is_empty());
    }

    #[test]
    fn overlapping_polygons_stay_overlapping() {
        let mut plane = vec![0u8; W * H];
        fill_polygon(&mut plane, W, H, &[(2, 3), (7, 3), (7, 9), (2, 9)], 1);
        fill_polygon(&mut plane, W, H, &[(5, 5), (10, 5), (10, 12), (5, 12)], 2);
        let ones = plane.iter().filter(|&&v| v == 1).count();
        let twos = plane.iter().filter(|&&v| v == 2).count();
        // The second rectangle (6x8) overwrites the 3x5 overlap of the first.
        assert_eq!((ones, twos), (42 - 15, 48));
    }

    #[cfg(debug_assertions)]
    #[test]
    #[should_panic(expected = "plane is not width*height")]
    fn length_mismatch_is_caught_in_debug() {
        fill_polygon(&mut [0u8; 10], 4, 4, &[(0, 0), (3, 3), (0, 3)], 1);
    }

    #[cfg(not(debug_assertions))]
    #[test]
    fn length_mismatch_is_a_no_op_in_release() {
        let mut plane = [0u8; 10];
        fill_polygon(&mut plane, 4, 4, &[(0, 0), (3, 3), (0, 3)], 1);
        fill_polygon(&mut plane, usize::MAX, 2, &[(0, 0), (3, 3), (0, 3)], 1);
        assert_eq!(plane, [0u8; 10]);
    }

    #[test]
    fn nonzero_bbox_cases() {
        assert_eq!(nonzero_bbox(&[0u8; 12], 4, 3), None);
        assert_eq!(nonzero_bbox(&[], 0, 0), None);
        assert_eq!(nonzero_bbox(&[0u8; 5], 2, 3), None, "length mismatch");
        let mut plane = [0u8; 12];
        plane[2 * 4 + 1] = 9;
        assert_eq!(nonzero_bbox(&plane, 4, 3), Some((1, 2, 1, 2)));
        plane[3] = 1;
        plane[4] = 255;
        assert_eq!(nonzero_bbox(&plane, 4, 3), Some((0, 0, 3, 2)));
        assert_eq!(nonzero_bbox(&[1u8; 12], 4, 3), Some((0, 0, 3, 2)));
    }

    /// Tiny xorshift64 so the randomized test needs no extra dependency.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }

        /// Mostly near-plane coordinates, sometimes anywhere in i32.
        fn coord(&mut self, extent: usize) -> i32 {
            match self.below(8) {
                0 => self.next() as i32,
                1 => [i32::MIN, i32::MAX][self.below(2) as usize],
                _ => self.below(3 * extent as u64) as i32 - extent as i32,
            }
        }
    }

    #[test]
    fn randomized_polygons_only_write_value_and_keep_vertices() {
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        for _ in 0..3000 {
            let (w, h) = (1 + rng.below(40) as usize, 1 + rng.below(40) as usize);
            let n = 1 + rng.below(12) as usize;
            let pts: Vec<(i32, i32)> = (0..n).map(|_| (rng.coord(w), rng.coord(h))).collect();
            let value = 1 + rng.below(255) as u8;
            let mut plane = vec![0u8; w * h];
            let written = fill_polygon_written(&mut plane, w, h, &pts, value);
            assert!(plane.iter().all(|&v| v == 0 || v == value), "{pts:?}");
            assert_eq!(written, nonzero_bbox(&plane, w, h), "the written box is the filled pixels' box: {pts:?}");
            // Edges are drawn through their endpoints, so every vertex that
            // lies in the plane is set.
            for &(x, y) in &pts {
                if let (Ok(x), Ok(y)) = (usize::try_from(x), usize::try_from(y)) {
                    if x < w && y < h {
                        assert_eq!(plane[y * w + x], value, "{pts:?}");
                    }
                }
            }
        }
    }
}
