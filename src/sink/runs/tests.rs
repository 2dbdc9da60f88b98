//! The frames decode, with libzstd and with an independent decoder (ruzstd), to the bytes
//! given, whatever the runs and ranges; what the path cannot take is `None`.

// `&[0..n]` is one content range (the whole buffer), not a mistaken range of values.
#![allow(clippy::single_range_in_vec_init)]

use super::{compress, BLOCK, RUN_LEVELS};
use rand::{Rng, SeedableRng};
use std::io::Read;
use std::ops::Range;

/// Decoded by libzstd and by ruzstd, which must agree.
fn decode(frame: &[u8], len: usize) -> Vec<u8> {
    let ours = zstd::bulk::decompress(frame, len).expect("libzstd decodes the frame");
    let mut other = Vec::new();
    ruzstd::decoding::StreamingDecoder::new(frame).expect("ruzstd reads the header").read_to_end(&mut other).unwrap();
    assert_eq!(ours, other, "libzstd and ruzstd disagree");
    assert_eq!(
        zstd::zstd_safe::get_frame_content_size(frame).ok(),
        Some(Some(len as u64)),
        "content size in the header"
    );
    ours
}

/// A plane of `h` rows of `w` bytes per label, each label's box filled row by row with runs
/// of 1 (and the odd other value), the rest zero; with the box's rows as content ranges.
fn masks(rng: &mut impl Rng, labels: usize, w: usize, h: usize) -> (Vec<u8>, Vec<Range<usize>>) {
    let mut bytes = vec![0u8; labels * w * h];
    let mut content = Vec::new();
    for l in 0..labels {
        if rng.random_bool(0.2) {
            continue;
        }
        let (y0, x0) = (rng.random_range(0..h), rng.random_range(0..w));
        let (y1, x1) = (rng.random_range(y0..h), rng.random_range(x0..w));
        for y in y0..=y1 {
            let row = l * w * h + y * w;
            let (a, b) = (rng.random_range(x0..=x1), rng.random_range(x0..=x1));
            let value = if rng.random_bool(0.05) { rng.random_range(2..=255) } else { 1 };
            bytes[row + a.min(b)..=row + a.max(b)].fill(value);
            content.push(row + x0..row + x1 + 1);
        }
    }
    (bytes, content)
}

#[test]
fn mask_like_bytes_decode_to_themselves_at_every_level() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    for case in 0..40 {
        let (labels, w, h) = (rng.random_range(1..6), rng.random_range(1..300), rng.random_range(1..300));
        let (bytes, content) = masks(&mut rng, labels, w, h);
        for level in RUN_LEVELS {
            let frame = compress(&bytes, &content, level).unwrap_or_else(|| panic!("case {case} level {level}"));
            assert_eq!(decode(&frame, bytes.len()), bytes, "case {case} ({labels} x {h} x {w}) level {level}");
        }
        // The whole buffer as one range reads every byte and gives the same bytes back.
        let whole = compress(&bytes, &[0..bytes.len()], 1).unwrap();
        assert_eq!(decode(&whole, bytes.len()), bytes);
    }
}

/// Runs across block ends, a first byte that is not zero, runs of 1, 2, 3 and 4 bytes (shorter
/// than a match, and just long enough), runs longer than a block, and a last run ending the
/// frame exactly at a block end or one byte past it.
#[test]
fn awkward_runs_decode_to_themselves() {
    let runs: &[&[(u8, usize)]] = &[
        &[(5, 1)],
        &[(0, 1)],
        &[(1, 2), (0, 3), (1, 4), (0, 1), (2, 1), (3, 1)],
        &[(0, BLOCK - 2), (1, 5), (0, BLOCK * 3 + 1)],
        &[(1, BLOCK)],
        &[(1, BLOCK + 1)],
        &[(0, BLOCK - 1), (7, 1), (0, 3)],
        &[(9, 3 * BLOCK + 17), (9, 2)],
    ];
    for (i, runs) in runs.iter().enumerate() {
        let bytes: Vec<u8> = runs.iter().flat_map(|&(v, n)| std::iter::repeat_n(v, n)).collect();
        match compress(&bytes, &[0..bytes.len()], 1) {
            Some(frame) => assert_eq!(decode(&frame, bytes.len()), bytes, "case {i}"),
            // A block of a few literals only is smaller stored raw, which the sequence API
            // cannot write: the caller's libzstd takes those.
            None => assert!(bytes.len() < 16, "case {i}: {} bytes", bytes.len()),
        }
    }
}

/// An all-zero buffer needs no content range; bytes in a range may be zero too.
#[test]
fn zeros_need_no_ranges() {
    let bytes = vec![0u8; 20 * 512 * 512];
    let frame = compress(&bytes, &[], 1).unwrap();
    assert_eq!(decode(&frame, bytes.len()), bytes);
    assert!(frame.len() < 1000, "{} bytes for 5 MB of zeros", frame.len());
    let frame = compress(&bytes, &[100..5000, 6000..6001], 1).unwrap();
    assert_eq!(decode(&frame, bytes.len()), bytes);
}

#[test]
fn what_the_path_cannot_take_is_none() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let noise: Vec<u8> = (0..200_000).map(|_| rng.random()).collect();
    assert!(compress(&noise, &[0..noise.len()], 1).is_none(), "incompressible blocks");
    let ones = vec![1u8; 1000];
    assert!(compress(&[], &[], 1).is_none());
    for level in [-1, 0, 2, 3, 19] {
        assert!(!RUN_LEVELS.contains(&level));
        assert!(compress(&ones, &[0..1000], level).is_none(), "level {level}");
    }
    assert!(compress(&ones, &[0..1001], 1).is_none(), "a range past the end");
    assert!(compress(&ones, &[500..1000, 0..500], 1).is_none(), "ranges out of order");
    #[allow(clippy::reversed_empty_ranges)]
    let backwards = [600..500];
    assert!(compress(&ones, &backwards, 1).is_none(), "a backwards range");
}

/// Debug builds check that the bytes outside the ranges are zero (release builds trust it).
#[test]
#[cfg(debug_assertions)]
#[should_panic(expected = "outside the content ranges")]
fn a_one_outside_the_ranges_is_caught_in_debug_builds() {
    let mut bytes = vec![0u8; 1000];
    bytes[10] = 1;
    let _ = compress(&bytes, &[20..30], 1);
}

/// On masks of ribs filled as the pipeline fills them, the frames are no larger than
/// libzstd's own at level 1.
#[test]
fn rib_masks_are_no_larger_than_libzstds_frames() {
    let (w, h) = (512usize, 512usize);
    let mut bytes = vec![0u8; 20 * w * h];
    let mut content = Vec::new();
    for (l, plane) in bytes.chunks_exact_mut(w * h).enumerate() {
        // A curved band across the plane, lower for each label (a rib, roughly).
        let top: Vec<(i32, i32)> = (0..=8).map(|i| (40 + i * 50, 60 + l as i32 * 20 + (i - 4) * (i - 4) * 3)).collect();
        let pts: Vec<(i32, i32)> = top.iter().copied().chain(top.iter().rev().map(|&(x, y)| (x, y + 18))).collect();
        let (_, y0, _, y1) = crate::transform::rasterize::fill_polygon_written(plane, w, h, &pts, 1).unwrap();
        content.extend((y0 as usize..=y1 as usize).map(|y| l * w * h + y * w..l * w * h + (y + 1) * w));
    }
    let frame = compress(&bytes, &content, 1).unwrap();
    assert_eq!(decode(&frame, bytes.len()), bytes);
    let theirs = zstd::bulk::compress(&bytes, 1).unwrap().len();
    assert!(frame.len() <= theirs, "{} bytes, libzstd {theirs}", frame.len());
}
