//! Compressed frames: frame 0's codestream in encapsulated Pixel Data ([`frame0`]), and the frame
//! its header declares, checked against the DICOM header before a codec decodes it.
//!
//! The codecs behind `dicom-pixeldata` (`jpeg-decoder` for lossless JPEG, CharLS for JPEG-LS,
//! OpenJPEG for JPEG 2000 and HTJ2K) size their output from the codestream's own frame header,
//! not from Rows and Columns: a 900-byte lossless JPEG in a 16 × 16 DICOM whose frame header says
//! 16384 × 16384 took 1.75 GB and 2.8 s before it failed, a 658-byte JPEG 2000 one 1.24 GB and
//! 8.9 s (and then a panic in the conversion). PS3.5 8.2 requires the codestream to match the
//! header, so [`check`] reads the frame header (JPEG `SOFn`, JPEG-LS `SOF55`, JPEG 2000 `SIZ`)
//! and rejects a frame whose size or component count differs, before any codec runs: the
//! decoded frame is then never larger than the header (capped at [`super::header::MAX_PIXELS`])
//! allows. Lossy JPEG is checked the same way in `jpeg.rs`, from libjpeg-turbo's own reading.

use super::header::{reject, transfer_syntax_name, Header};
use crate::error::InputError;
use std::borrow::Cow;

/// Which frame header a transfer syntax's codestreams carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    /// ISO 10918 (lossless JPEG) and ISO 14495 (JPEG-LS): markers after `SOI`.
    Jpeg,
    /// ISO 15444 (JPEG 2000, HTJ2K): the `SIZ` marker segment after `SOC`.
    Jpeg2000,
}

/// The transfer syntaxes checked here and their codestream family.
const CHECKED: [(&str, Family); 11] = [
    ("1.2.840.10008.1.2.4.57", Family::Jpeg),
    ("1.2.840.10008.1.2.4.70", Family::Jpeg),
    ("1.2.840.10008.1.2.4.80", Family::Jpeg),
    ("1.2.840.10008.1.2.4.81", Family::Jpeg),
    ("1.2.840.10008.1.2.4.90", Family::Jpeg2000),
    ("1.2.840.10008.1.2.4.91", Family::Jpeg2000),
    ("1.2.840.10008.1.2.4.92", Family::Jpeg2000),
    ("1.2.840.10008.1.2.4.93", Family::Jpeg2000),
    ("1.2.840.10008.1.2.4.201", Family::Jpeg2000),
    ("1.2.840.10008.1.2.4.202", Family::Jpeg2000),
    ("1.2.840.10008.1.2.4.203", Family::Jpeg2000),
];

/// Most tiles a JPEG 2000 codestream may have. `openjp2` sets up every tile's coding parameters
/// (~11 KB each) before it decodes anything: a 3.9 KB codestream of a 3000 × 3000 image whose
/// `SIZ` declares 16 × 16 tiles (35,344 of them; the format allows 65,535) took 388 MB. Single
/// images are one tile, or a few hundred at most.
const MAX_TILES: u64 = 4096;

/// What a codestream's frame header declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Declared {
    /// Samples per line.
    pub width: u32,
    /// Lines (0 in a JPEG frame header whose height a later `DNL` gives).
    pub height: u32,
    /// Components.
    pub components: u32,
}

/// Whether frames in transfer syntax `uid` are checked here.
pub fn checks(uid: &str) -> bool {
    family(uid).is_some()
}

/// Whether transfer syntax `uid` is JPEG 2000 or HTJ2K (the same codec, `openjp2`).
pub fn is_jpeg2000(uid: &str) -> bool {
    family(uid) == Some(Family::Jpeg2000)
}

fn family(uid: &str) -> Option<Family> {
    CHECKED.iter().find(|(u, _)| *u == uid).map(|&(_, f)| f)
}

/// Check that the codestream of frame 0 (`frame`, in transfer syntax `h.transfer_syntax`)
/// declares the frame `h` describes. Other transfer syntaxes pass unchecked.
///
/// # Errors
/// A codestream with no frame header, or one that declares another size or component count.
pub fn check(frame: &[u8], h: &Header) -> Result<(), InputError> {
    let Some(family) = family(&h.transfer_syntax) else { return Ok(()) };
    let ts = transfer_syntax_name(&h.transfer_syntax);
    let fail = |what: String| reject(format!("cannot decode Pixel Data (transfer syntax {ts}): {what}"));
    let (declared, name) = match family {
        Family::Jpeg => (jpeg_frame_header(frame), "JPEG codestream"),
        Family::Jpeg2000 => {
            if let Some(tiles) = j2k_tiles(frame).filter(|&t| t > MAX_TILES) {
                return Err(fail(format!("the JPEG 2000 codestream has {tiles} tiles, more than {MAX_TILES}")));
            }
            (j2k_size(frame), "JPEG 2000 codestream")
        }
    };
    let declared = declared.ok_or_else(|| fail(format!("no frame header in the {name} of frame 0")))?;
    matches_header(name, &declared, h).map_err(fail)
}

/// A codestream's frame must be the one the DICOM header describes.
///
/// # Errors
/// What differs, naming the codestream `name`.
pub fn matches_header(name: &str, d: &Declared, h: &Header) -> Result<(), String> {
    if (d.width, d.height) != (h.cols, h.rows) {
        return Err(format!(
            "the {name} is {}x{} (rows x columns), the header says {}x{}",
            d.height, d.width, h.rows, h.cols
        ));
    }
    if d.components != u32::from(h.samples_per_pixel) {
        return Err(format!(
            "the {name} has {} components, the header says SamplesPerPixel {}",
            d.components, h.samples_per_pixel
        ));
    }
    Ok(())
}

/// The codestream of frame 0 (PS3.5 A.4): every fragment of a single-frame image (one frame may
/// span fragments), the first fragment when there is one per frame, else the fragments before
/// the Basic Offset Table's second entry or, without a table, up to the one ending in EOI.
pub fn frame0<'a>(fragments: &'a [Vec<u8>], offsets: &[u32], frames: u32) -> Option<Cow<'a, [u8]>> {
    let first = fragments.first()?;
    if fragments.len() == 1 || (frames > 1 && fragments.len() == frames as usize) {
        return Some(Cow::Borrowed(first));
    }
    let take = if frames <= 1 {
        fragments.len()
    } else if let Some(&end) = offsets.get(1) {
        // Offsets count each fragment's 8-byte item header.
        let mut start = 0usize;
        fragments
            .iter()
            .take_while(|f| {
                let this = start;
                start += f.len() + 8;
                this < end as usize
            })
            .count()
    } else {
        fragments.iter().position(|f| ends_with_eoi(f)).map_or(fragments.len(), |i| i + 1)
    };
    Some(Cow::Owned(fragments[..take.max(1)].concat()))
}

/// Whether a fragment ends with the EOI marker (JPEG 2000's EOC is the same two bytes;
/// fragments are padded to even length with 0).
fn ends_with_eoi(f: &[u8]) -> bool {
    let end = f.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    f[..end].ends_with(&[0xFF, 0xD9])
}

fn be16(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 2).map(|s| u32::from(u16::from_be_bytes([s[0], s[1]])))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4).map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// The frame header of a JPEG or JPEG-LS codestream: marker segments are skipped from `SOI`
/// until a start-of-frame (`SOF0`–`SOF15` but `DHT`, `JPG` and `DAC`; `SOF55`). `None` when a
/// scan or the end comes first, or the markers run off the data.
fn jpeg_frame_header(s: &[u8]) -> Option<Declared> {
    if s.get(..2)? != [0xFF, 0xD8] {
        return None;
    }
    let mut at = 2;
    loop {
        if *s.get(at)? != 0xFF {
            return None;
        }
        while *s.get(at)? == 0xFF {
            at += 1; // fill bytes
        }
        let marker = s[at];
        at += 1;
        match marker {
            0x01 | 0xD0..=0xD8 => {} // no length
            0xC0..=0xCF | 0xF7 if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                // Lf (2), P (1), Y (2), X (2), Nf (1)
                let (height, width, components) = (be16(s, at + 3)?, be16(s, at + 5)?, u32::from(*s.get(at + 7)?));
                return Some(Declared { width, height, components });
            }
            0xDA | 0xD9 => return None, // a scan or the end before any frame header
            _ => at += be16(s, at)? as usize,
        }
    }
}

/// Where a JPEG 2000 codestream's `SIZ` marker segment (which follows `SOC`; in a JP2 file, the
/// codestream box's first bytes) starts, after its marker: Lsiz (2), Rsiz (2), Xsiz, Ysiz, XOsiz,
/// YOsiz, XTsiz, YTsiz, XTOsiz, YTOsiz (4 each), Csiz (2).
fn siz(s: &[u8]) -> Option<usize> {
    const SOC_SIZ: [u8; 4] = [0xFF, 0x4F, 0xFF, 0x51];
    Some(s.windows(4).position(|w| w == SOC_SIZ)? + 4)
}

/// The image size of a JPEG 2000 codestream: `Xsiz − XOsiz` by `Ysiz − YOsiz`, `Csiz`
/// components.
fn j2k_size(s: &[u8]) -> Option<Declared> {
    let at = siz(s)?;
    let (x, y, x0, y0) = (be32(s, at + 4)?, be32(s, at + 8)?, be32(s, at + 12)?, be32(s, at + 16)?);
    let components = be16(s, at + 36)?;
    Some(Declared { width: x.checked_sub(x0)?, height: y.checked_sub(y0)?, components })
}

/// How many tiles a JPEG 2000 codestream has (ISO 15444-1 B.3: ⌈(Xsiz − XTOsiz) / XTsiz⌉ by
/// ⌈(Ysiz − YTOsiz) / YTsiz⌉); `None` where `SIZ` is cut short or its tiling is invalid.
fn j2k_tiles(s: &[u8]) -> Option<u64> {
    let at = siz(s)?;
    let across = |size, tile, offset| {
        let extent = u64::from(size).checked_sub(u64::from(offset))?;
        (tile > 0).then(|| extent.div_ceil(u64::from(tile)))
    };
    let (x, y) = (be32(s, at + 4)?, be32(s, at + 8)?);
    let (xt, yt, xt0, yt0) = (be32(s, at + 20)?, be32(s, at + 24)?, be32(s, at + 28)?, be32(s, at + 32)?);
    Some(across(x, xt, xt0)? * across(y, yt, yt0)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A JPEG stream: SOI, an APP0 segment, fill bytes, then a frame header `marker`.
    fn jpeg(marker: u8, rows: u16, cols: u16, components: u8) -> Vec<u8> {
        let mut s = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 1, 2, 0xFF, 0xFF, marker, 0, 11, 16];
        s.extend_from_slice(&rows.to_be_bytes());
        s.extend_from_slice(&cols.to_be_bytes());
        s.extend_from_slice(&[components, 1, 0x11, 0, 0xFF, 0xDA]);
        s
    }

    fn j2k(x: u32, y: u32, x0: u32, y0: u32, components: u16) -> Vec<u8> {
        j2k_tiled(x, y, x0, y0, (x, y), components)
    }

    fn j2k_tiled(x: u32, y: u32, x0: u32, y0: u32, tile: (u32, u32), components: u16) -> Vec<u8> {
        let mut s = vec![0xFF, 0x4F, 0xFF, 0x51, 0, 41, 0, 0];
        for v in [x, y, x0, y0, tile.0, tile.1, 0, 0] {
            s.extend_from_slice(&v.to_be_bytes());
        }
        s.extend_from_slice(&components.to_be_bytes());
        s
    }

    #[test]
    fn frame0_of_a_single_frame_image_joins_every_fragment() {
        let f = vec![vec![1, 2], vec![3, 4], vec![0xFF, 0xD9]];
        assert_eq!(frame0(&f, &[], 1).unwrap().as_ref(), &[1, 2, 3, 4, 0xFF, 0xD9]);
    }

    #[test]
    fn frame0_of_a_multi_frame_image_follows_the_offset_table_or_eoi() {
        let f = vec![vec![1, 2], vec![3, 0xFF, 0xD9, 0], vec![5, 6], vec![7, 0xFF, 0xD9, 0]];
        assert_eq!(frame0(&f, &[0, 20], 2).unwrap().as_ref(), &[1, 2, 3, 0xFF, 0xD9, 0]);
        assert_eq!(frame0(&f, &[0, 10], 2).unwrap().as_ref(), &[1, 2]);
        assert_eq!(frame0(&f, &[], 2).unwrap().as_ref(), &[1, 2, 3, 0xFF, 0xD9, 0]);
        assert_eq!(frame0(&f, &[], 4).unwrap().as_ref(), &[1, 2], "one fragment per frame");
        assert!(frame0(&[], &[], 1).is_none());
    }

    #[test]
    fn jpeg_and_jpeg_ls_frame_headers_are_found_after_other_segments() {
        let d = |width, height, components| Some(Declared { width, height, components });
        assert_eq!(jpeg_frame_header(&jpeg(0xC3, 16, 24, 1)), d(24, 16, 1)); // lossless, process 14
        assert_eq!(jpeg_frame_header(&jpeg(0xF7, 512, 256, 3)), d(256, 512, 3)); // JPEG-LS
        assert_eq!(jpeg_frame_header(&jpeg(0xC4, 16, 16, 1)), None, "DHT is no frame header");
        assert_eq!(jpeg_frame_header(&[0xFF, 0xD8, 0xFF, 0xDA, 0, 2]), None, "a scan before any frame");
        assert_eq!(jpeg_frame_header(&jpeg(0xC3, 16, 16, 1)[..12]), None, "cut short");
        assert_eq!(jpeg_frame_header(b"not a JPEG"), None);
    }

    #[test]
    fn jpeg_2000_size_is_the_image_area_less_its_offset_raw_or_in_a_jp2_box() {
        assert_eq!(j2k_size(&j2k(300, 200, 44, 0, 3)), Some(Declared { width: 256, height: 200, components: 3 }));
        let mut jp2 = b"\0\0\0\x0cjP  \r\n\x87\n....jp2c".to_vec();
        jp2.extend(j2k(16, 16, 0, 0, 1));
        assert_eq!(j2k_size(&jp2), Some(Declared { width: 16, height: 16, components: 1 }));
        assert_eq!(j2k_size(&j2k(16, 16, 17, 0, 1)), None, "offset past the image");
        assert_eq!(j2k_size(&j2k(16, 16, 0, 0, 1)[..40]), None, "cut short");
    }

    #[test]
    fn jpeg_2000_tiles_are_counted_from_the_tile_grid_origin() {
        assert_eq!(j2k_tiles(&j2k(3000, 3000, 0, 0, 1)), Some(1));
        assert_eq!(j2k_tiles(&j2k_tiled(3000, 3000, 0, 0, (16, 16), 1)), Some(188 * 188));
        assert_eq!(j2k_tiles(&j2k_tiled(300, 200, 44, 0, (128, 100), 1)), Some(3 * 2));
        assert_eq!(j2k_tiles(&j2k_tiled(16, 16, 0, 0, (0, 16), 1)), None, "no tile width");
    }
}
