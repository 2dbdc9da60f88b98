//! Parity driver for `transform::rasterize::fill_polygon` (driven by
//! `tests/python/check_fillpoly.py`, which compares every mask with `cv2.fillPoly`).
//!
//! Reads one polygon per stdin line as `w h x0 y0 x1 y1 ...` and writes, per line, the
//! `w * h` mask bytes (value 255) to stdout.

use std::io::{self, BufRead, BufWriter, Write};

/// Plane width, height and polygon vertices of one input line.
type Case = (usize, usize, Vec<(i32, i32)>);

fn parse(line: &str) -> Option<Case> {
    let nums: Vec<i64> = line.split_whitespace().map(|t| t.parse().ok()).collect::<Option<_>>()?;
    let (w, h) = (usize::try_from(*nums.first()?).ok()?, usize::try_from(*nums.get(1)?).ok()?);
    let pts = nums[2..]
        .chunks_exact(2)
        .map(|c| Some((i32::try_from(c[0]).ok()?, i32::try_from(c[1]).ok()?)))
        .collect::<Option<_>>()?;
    Some((w, h, pts))
}

fn main() -> io::Result<()> {
    let mut out = BufWriter::new(io::stdout().lock());
    for (n, line) in io::stdin().lock().lines().enumerate() {
        let line = line?;
        let (w, h, pts) = parse(&line).ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidData, format!("line {}: expected `w h x0 y0 ...`", n + 1))
        })?;
        let mut plane = vec![0u8; w * h];
        cxrshard::transform::rasterize::fill_polygon(&mut plane, w, h, &pts, 255);
        out.write_all(&plane)?;
    }
    out.flush()
}
