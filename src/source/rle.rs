//! RLE Lossless frames (PS3.5 Annex G), decoded here as pydicom decodes them, straight into the
//! sample buffer.
//!
//! `dicom-pixeldata`'s RLE adapter refuses any frame of 16 MiB or more compressed more than 32:1
//! ("Could not allocate frame"), which a near-blank CXR-sized frame is; it reads only the first
//! fragment of a frame, and it zero-fills a segment that decodes short. Here, as in pydicom:
//! frame 0 is all the fragments of a single-frame image ([`super::codestream::frame0`]); the
//! header must count one segment per byte of each sample (high byte first); a segment's bytes
//! run from its offset to the next (to the end of the frame for the last), cut at the frame's
//! end; and each segment must decode to at least Rows × Columns bytes (what follows is ignored).
//!
//! PackBits turns two bytes into at most 128, so a segment too short to hold its bytes is a
//! reject before anything is decoded, and a frame's output, allocated zeroed, is written only as
//! far as its input reaches: no input makes this decoder touch more than 64 times its size.

use super::decode::Decoded;
use super::header::{reject, Header};
use crate::error::InputError;

/// Bytes of an RLE frame's header: the number of segments, then 15 segment offsets
/// (PS3.5 G.5), all `u32` little-endian.
const HEADER_BYTES: usize = 64;

/// The most bytes one PackBits run (two input bytes) decodes to.
const MAX_RUN: usize = 128;

/// Decode `frame`, frame 0 of an RLE Lossless image that `h` describes, into samples
/// interleaved by pixel, little-endian (the layout of a native frame with PlanarConfiguration 0).
///
/// # Errors
/// A header too short or counting other segments than SamplesPerPixel × BitsAllocated / 8, a
/// BitsAllocated other than 8 or 16, or a segment that decodes to fewer than Rows × Columns bytes.
pub(super) fn decode(frame: &[u8], h: &Header) -> Result<Decoded, InputError> {
    let width = match h.bits_allocated {
        8 => 1,
        16 => 2,
        other => return Err(reject(format!("RLE Lossless: BitsAllocated {other} (8 or 16 expected)"))),
    };
    let spp = usize::from(h.samples_per_pixel);
    let pixels = h.rows as usize * h.cols as usize;
    let offsets = segment_offsets(frame, spp, width)?;
    let step = spp * width;
    let mut data = vec![0u8; pixels * step];
    for (i, bounds) in offsets.windows(2).enumerate() {
        let (start, end) = (bounds[0].min(frame.len()), bounds[1].min(frame.len()));
        let segment = frame.get(start..end).unwrap_or_default();
        let needed = pixels.div_ceil(MAX_RUN) * 2;
        if segment.len() < needed {
            return Err(reject(format!(
                "RLE Lossless: segment {} of frame 0 is {} bytes, too few to decode to the {pixels} bytes of \
                 Rows x Columns (at least {needed})",
                i + 1,
                segment.len()
            )));
        }
        // segment i holds byte i % width of sample i / width, most significant first
        let (sample, byte) = (i / width, width - 1 - i % width);
        let written = unpack(segment, &mut data[sample * width + byte..], step, pixels);
        if written < pixels {
            return Err(reject(format!(
                "RLE Lossless: segment {} of frame 0 decodes to {written} bytes, {pixels} expected (Rows x Columns)",
                i + 1
            )));
        }
    }
    Ok(Decoded { data, photometric: h.photometric_name.clone(), planar: false, value_bits: None })
}

/// The segments' offsets in `frame`'s header, then the frame's end.
///
/// # Errors
/// A frame shorter than its header, or a count other than `samples` × `width`. (A count read
/// unchecked made `dicom-pixeldata` ask for up to 16 GiB of offsets.)
fn segment_offsets(frame: &[u8], samples: usize, width: usize) -> Result<Vec<usize>, InputError> {
    let Some(head) = frame.get(..HEADER_BYTES) else {
        return Err(reject(format!(
            "RLE Lossless: frame 0 is {} bytes, shorter than the 64-byte RLE header (PS3.5 G.5)",
            frame.len()
        )));
    };
    let word = |i: usize| u32::from_le_bytes([head[4 * i], head[4 * i + 1], head[4 * i + 2], head[4 * i + 3]]);
    let (count, expected) = (word(0), samples * width);
    if count as usize != expected {
        return Err(reject(format!(
            "RLE Lossless: frame 0's header says {count} segments, expected {expected} ({samples} sample(s) of \
             {width} byte(s); PS3.5 G.2)"
        )));
    }
    Ok((1..=expected).map(|i| word(i) as usize).chain([frame.len()]).collect())
}

/// Decode the PackBits `segment` into `out[0]`, `out[step]`, ... up to `n` bytes; how many it
/// wrote. Byte `c` < 128 copies the next `c + 1` bytes, `c` > 128 repeats the next byte
/// `257 - c` times, 128 does nothing; a run cut short by the segment's end yields what is there.
fn unpack(segment: &[u8], out: &mut [u8], step: usize, n: usize) -> usize {
    let mut dst = out.iter_mut().step_by(step).take(n);
    let (mut written, mut at) = (0, 0);
    while let Some(&c) = segment.get(at) {
        at += 1;
        if c < 128 {
            let literal = &segment[at..(at + usize::from(c) + 1).min(segment.len())];
            at += usize::from(c) + 1;
            // the literal first: `zip` takes from its first iterator first, and an output slot
            // taken after the literal's end would be lost
            for (&v, d) in literal.iter().zip(dst.by_ref()) {
                *d = v;
                written += 1;
            }
        } else if c > 128 {
            let Some(&v) = segment.get(at) else { break };
            at += 1;
            for d in dst.by_ref().take(257 - usize::from(c)) {
                *d = v;
                written += 1;
            }
        }
        if written == n {
            break;
        }
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packbits_runs_and_literals_are_written_at_their_stride() {
        // literal of 3, a run of 4 sevens, a no-op, a literal cut short by the end
        let segment = [2, 1, 2, 3, 253, 7, 128, 5, 9];
        let mut out = [0u8; 20];
        assert_eq!(unpack(&segment, &mut out, 2, 10), 8);
        assert_eq!(out, [1, 0, 2, 0, 3, 0, 7, 0, 7, 0, 7, 0, 7, 0, 9, 0, 0, 0, 0, 0]);
        // no more than n, however long the runs
        let mut out = [0u8; 5];
        assert_eq!(unpack(&[129, 4, 129, 5], &mut out, 1, 5), 5);
        assert_eq!(out, [4; 5]);
    }

    /// pydicom's `_rle_decode_segment`, transcribed: the whole segment decoded.
    fn pydicom(src: &[u8]) -> Vec<u8> {
        let (mut out, mut pos) = (Vec::new(), 0);
        while let Some(&c) = src.get(pos) {
            pos += 1;
            let header = usize::from(c) + 1;
            if header > 129 {
                out.extend(src.get(pos..pos + 1).unwrap_or_default().repeat(258 - header));
                pos += 1;
            } else if header < 129 {
                out.extend(&src[pos.min(src.len())..(pos + header).min(src.len())]);
                pos += header;
            }
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn unpacks_what_pydicom_decodes(
            segment in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
            step in 1usize..4,
            n in 0usize..400,
        ) {
            let reference = pydicom(&segment);
            let mut out = vec![0u8; n * step];
            let written = unpack(&segment, &mut out, step, n);
            proptest::prop_assert_eq!(written, reference.len().min(n));
            let ours: Vec<u8> = out.iter().step_by(step).copied().take(written).collect();
            proptest::prop_assert_eq!(&ours[..], &reference[..written]);
            proptest::prop_assert!(out.iter().enumerate().all(|(i, &v)| i % step == 0 && i / step < written || v == 0));
        }
    }
}
