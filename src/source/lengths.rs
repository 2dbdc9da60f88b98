//! Element lengths checked against the file before `dicom-object` reads it.
//!
//! `dicom-parser` makes room for an element's value from the length its header declares, and
//! fills it with zeros, before it reads the value: a 402-byte file whose private element
//! declares 4 GiB took 4.2 GB of memory and 9 s before it failed (enough to get a worker killed
//! where memory is limited). The whole file is in memory here, so a length that runs past the
//! end of the file is known to be wrong before anything is read: [`check`] walks the data set's
//! elements, nested sequences, items and Pixel Data fragments included, and rejects the file at
//! the first such length, naming the element. The same walk is the one reader of the file's
//! layout the decoders use: where the meta group says the data set starts, and where the
//! top-level Pixel Data element's value lies ([`Layout`]).
//!
//! The walk reads the file as `dicom-parser` does (two bytes that are no VR are `UN`, with a
//! 4-byte length; an element of undefined length other than Pixel Data is a sequence of data
//! sets in the file's encoding, whatever its VR) and only rejects what the parser could not read
//! either. Where it cannot follow the file (no item where an item should be, nesting deeper than
//! [`MAX_DEPTH`], a deflated data set) it stops checking and leaves the file to the parser.

use super::header::reject;
use crate::error::InputError;
use std::cell::Cell;

/// Sequences nested deeper than this are not followed.
const MAX_DEPTH: u32 = 32;

/// The Pixel Data tag.
const PIXEL_DATA: (u16, u16) = (0x7FE0, 0x0010);

/// The undefined length (PS3.5 7.1.1).
const UNDEFINED: u32 = u32::MAX;

/// Explicit VRs with a 2-byte length (PS3.5 7.1.2); every other VR, and any two bytes that are
/// not a VR (which `dicom-parser` reads as `UN`), has 2 reserved bytes and a 4-byte length.
const SHORT_VRS: [&[u8; 2]; 21] = [
    b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO", b"LT", b"PN", b"SH", b"SL", b"SS",
    b"ST", b"TM", b"UI", b"UL", b"US",
];

/// Where the file meta group says the data set starts, and its transfer syntax UID.
#[derive(Debug)]
pub struct Meta {
    /// Offset of the data set's first byte.
    pub data_set: usize,
    /// Transfer syntax UID (trailing padding removed).
    pub transfer_syntax: String,
}

/// What [`check`] read of a file's layout.
#[derive(Debug, Default)]
pub struct Layout {
    /// The file meta group; `None` where `dicom-object` would fail to read it.
    pub meta: Option<Meta>,
    /// The top-level Pixel Data element, where it has a defined length and the walk reached it.
    pub pixel_data: Option<PixelData>,
}

/// A top-level Pixel Data element of defined length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PixelData {
    /// Its VR (`None` in implicit VR).
    pub vr: Option<[u8; 2]>,
    /// Offset of its value's first byte.
    pub start: usize,
    /// Offset just past its value (within the file).
    pub end: usize,
}

/// A length that runs past the end of the file.
struct TooLong {
    tag: (u16, u16),
    at: usize,
    declared: u32,
    left: usize,
}

/// Where a walk got to: the position after what it walked, or `None` where it could not
/// follow the encoding (nothing after that is checked).
type Walked = Result<Option<usize>, TooLong>;

/// Check that no element, item or fragment of the Part 10 file `bytes` declares more bytes
/// than the file holds after its header, and return what the walk read of its layout.
///
/// # Errors
/// The first length that does, with its tag and offset.
pub fn check(bytes: &[u8]) -> Result<Layout, InputError> {
    let Some(meta) = meta(bytes)? else { return Ok(Layout::default()) };
    let (explicit, big) = match meta.transfer_syntax.as_str() {
        "1.2.840.10008.1.2" => (false, false),
        "1.2.840.10008.1.2.2" => (true, true),
        // measured by `deflated` instead
        super::deflated::UID => return Ok(Layout { meta: Some(meta), pixel_data: None }),
        _ => (true, false),
    };
    let walk = Walk { bytes, explicit, big, pixel_data: Cell::new(None) };
    walk.elements(meta.data_set, bytes.len(), false, 0).map_err(|e| e.reject("data set"))?;
    Ok(Layout { meta: Some(meta), pixel_data: walk.pixel_data.get() })
}

/// The file meta group of the Part 10 file `bytes`, read as `dicom-object` reads it: after
/// `DICM` (at byte 128, or 0 without a preamble), the group length element, then elements until
/// they cover that length. `None` where `dicom-object` would fail to read it (it then says why).
///
/// # Errors
/// A meta element whose length runs past the end of the file.
fn meta(bytes: &[u8]) -> Result<Option<Meta>, InputError> {
    let Some(magic) = [132, 4].into_iter().find(|&m| bytes.get(m - 4..m) == Some(b"DICM")) else {
        return Ok(None); // not Part 10
    };
    let walk = Walk { bytes, explicit: true, big: false, pixel_data: Cell::new(None) };
    let Some(((0x0002, 0x0000), 4, value)) = walk.header(magic) else { return Ok(None) };
    let Some(length) = walk.u32(value) else { return Ok(None) };
    let (first, mut at) = (value + 4, value + 4);
    let mut transfer_syntax = String::new();
    while ((at - first) as u64) < u64::from(length) {
        let Some((tag, len, value)) = walk.header(at).filter(|h| h.1 != UNDEFINED) else { return Ok(None) };
        let end = walk.fits(tag, at, len, value, bytes.len()).map_err(|e| e.reject("File Meta Information"))?;
        if tag == (0x0002, 0x0010) {
            let uid = String::from_utf8_lossy(&bytes[value..end]);
            transfer_syntax = uid.trim_end_matches(['\0', ' ']).to_string();
        }
        at = end;
    }
    Ok(Some(Meta { data_set: at, transfer_syntax }))
}

impl TooLong {
    fn reject(&self, part: &str) -> InputError {
        let (g, e) = self.tag;
        reject(format!(
            "{part}: element ({g:04X},{e:04X}) at byte {} declares {} bytes, but the file has {} bytes after it \
             (truncated, corrupt, or not encoded as its transfer syntax says)",
            self.at, self.declared, self.left
        ))
    }
}

/// One encoding's walk over `bytes`.
struct Walk<'a> {
    bytes: &'a [u8],
    explicit: bool,
    big: bool,
    /// The first top-level Pixel Data element of defined length it passed.
    pixel_data: Cell<Option<PixelData>>,
}

impl Walk<'_> {
    fn u16(&self, at: usize) -> Option<u16> {
        let b: [u8; 2] = self.bytes.get(at..at + 2)?.try_into().ok()?;
        Some(if self.big { u16::from_be_bytes(b) } else { u16::from_le_bytes(b) })
    }

    fn u32(&self, at: usize) -> Option<u32> {
        let b: [u8; 4] = self.bytes.get(at..at + 4)?.try_into().ok()?;
        Some(if self.big { u32::from_be_bytes(b) } else { u32::from_le_bytes(b) })
    }

    /// An element's tag, declared length and where its value starts, as `dicom-encoding`'s
    /// decoders read them; `None` past the end of the file.
    fn header(&self, at: usize) -> Option<((u16, u16), u32, usize)> {
        let tag = (self.u16(at)?, self.u16(at + 2)?);
        if !self.explicit || tag.0 == 0xFFFE {
            return Some((tag, self.u32(at + 4)?, at + 8));
        }
        let vr: &[u8; 2] = self.bytes.get(at + 4..at + 6)?.try_into().ok()?;
        if SHORT_VRS.contains(&vr) {
            Some((tag, u32::from(self.u16(at + 6)?), at + 8))
        } else {
            Some((tag, self.u32(at + 8)?, at + 12))
        }
    }

    /// The end of a value of `len` bytes at `value`, if it ends by `end`.
    fn fits(&self, tag: (u16, u16), at: usize, len: u32, value: usize, end: usize) -> Result<usize, TooLong> {
        let left = end.saturating_sub(value);
        if len as usize > left {
            return Err(TooLong { tag, at, declared: len, left });
        }
        Ok(value + len as usize)
    }

    fn vr(&self, at: usize) -> Option<&[u8]> {
        self.explicit.then(|| self.bytes.get(at + 4..at + 6)).flatten()
    }

    /// Elements from `at` to `end`, or (`in_item`) to an item delimitation item.
    fn elements(&self, mut at: usize, end: usize, in_item: bool, depth: u32) -> Walked {
        if depth > MAX_DEPTH {
            return Ok(None);
        }
        while at < end {
            let Some((tag, len, value)) = self.header(at) else { return Ok(None) };
            if tag.0 == 0xFFFE {
                return Ok((in_item && tag.1 == 0xE00D).then_some(value));
            }
            let vr = self.vr(at);
            if len == UNDEFINED {
                // Encapsulated Pixel Data holds fragments. `dicom-parser` reads every other
                // element of undefined length as a sequence of data sets in the file's encoding,
                // whatever its VR (an `UN` too, though the standard puts implicit VR in it).
                let data_sets = tag != PIXEL_DATA;
                let Some(next) = self.items(value, end, data_sets, depth + 1)? else { return Ok(None) };
                at = next;
                continue;
            }
            let next = self.fits(tag, at, len, value, end)?;
            if matches!(vr, Some(b"SQ")) {
                self.items(value, next, true, depth + 1)?;
            }
            let top_level = depth == 0 && !in_item;
            if top_level && tag == PIXEL_DATA && self.pixel_data.get().is_none() {
                let vr = vr.and_then(|v| v.try_into().ok());
                self.pixel_data.set(Some(PixelData { vr, start: value, end: next }));
            }
            at = next;
        }
        Ok((!in_item).then_some(at))
    }

    /// Items from `at` to `end` or to a sequence delimitation item; their contents are data
    /// sets when `data_sets`, else fragments (encapsulated Pixel Data).
    fn items(&self, mut at: usize, end: usize, data_sets: bool, depth: u32) -> Walked {
        while at < end {
            let (Some(tag), Some(len)) = ((self.u16(at).zip(self.u16(at + 2))), self.u32(at + 4)) else {
                return Ok(None);
            };
            let value = at + 8;
            match tag {
                (0xFFFE, 0xE0DD) => return Ok(Some(value)),
                (0xFFFE, 0xE000) if len == UNDEFINED && data_sets => {
                    let Some(next) = self.elements(value, end, true, depth)? else { return Ok(None) };
                    at = next;
                }
                (0xFFFE, 0xE000) if len != UNDEFINED => {
                    let next = self.fits(tag, at, len, value, end)?;
                    if data_sets {
                        self.elements(value, next, false, depth)?;
                    }
                    at = next;
                }
                _ => return Ok(None),
            }
        }
        Ok(Some(at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn el(tag: (u16, u16), vr: &[u8; 2], len: u32, value: &[u8]) -> Vec<u8> {
        let mut e = [tag.0.to_le_bytes(), tag.1.to_le_bytes()].concat();
        e.extend_from_slice(vr);
        if SHORT_VRS.contains(&vr) {
            e.extend_from_slice(&(len as u16).to_le_bytes());
        } else {
            e.extend_from_slice(&[0, 0]);
            e.extend_from_slice(&len.to_le_bytes());
        }
        e.extend_from_slice(value);
        e
    }

    fn item(len: u32, value: &[u8]) -> Vec<u8> {
        [&[0xFE, 0xFF, 0x00, 0xE0][..], &len.to_le_bytes(), value].concat()
    }

    const ITEM_END: [u8; 8] = [0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0];
    const SEQ_END: [u8; 8] = [0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0];

    /// Preamble, `DICM`, a meta group of the transfer syntax only, then `data_set`.
    fn file(data_set: &[u8]) -> Vec<u8> {
        let meta = el((2, 0x10), b"UI", 20, b"1.2.840.10008.1.2.1\0");
        let mut out = vec![0u8; 128];
        out.extend_from_slice(b"DICM");
        out.extend(el((2, 0), b"UL", 4, &(meta.len() as u32).to_le_bytes()));
        out.extend(meta);
        out.extend_from_slice(data_set);
        out
    }

    fn rows() -> Vec<u8> {
        el((0x28, 0x10), b"US", 2, &[16, 0])
    }

    #[test]
    fn well_formed_files_pass() {
        let nested = [
            rows(),
            el((0x28, 0x3000), b"SQ", UNDEFINED, &[]),
            item(UNDEFINED, &el((0x28, 0x3002), b"US", 6, &[0; 6])),
            ITEM_END.to_vec(),
            item(10, &el((0x28, 0x3003), b"LO", 2, b"ab")),
            SEQ_END.to_vec(),
            el((0x7FE0, 0x10), b"OB", UNDEFINED, &[]),
            item(0, &[]),
            item(4, &[1, 2, 3, 4]),
            SEQ_END.to_vec(),
        ]
        .concat();
        // encapsulated Pixel Data (undefined length) is no native frame
        assert_eq!(check(&file(&nested)).unwrap().pixel_data, None);
        let native = file(&[rows(), el((0x7FE0, 0x10), b"OW", 4, &[0; 4])].concat());
        let found = check(&native).unwrap().pixel_data;
        assert_eq!(found, Some(PixelData { vr: Some(*b"OW"), start: native.len() - 4, end: native.len() }));
        assert!(check(b"not DICOM").unwrap().meta.is_none());
    }

    #[test]
    fn a_length_past_the_end_of_the_file_is_a_reject_naming_the_element() {
        let top = [rows(), el((0x29, 0x1010), b"OB", 0xFFFF_FFF0, &[0; 64])].concat();
        let err = check(&file(&top)).unwrap_err().to_string();
        let expected = "data set: element (0029,1010) at byte 182 declares 4294967280 bytes, but the file has 64";
        assert!(err.contains(expected), "{err}");
        // inside an item of a sequence of undefined length
        let nested =
            [el((0x28, 0x3000), b"SQ", UNDEFINED, &[]), item(UNDEFINED, &el((0x28, 0x3006), b"OW", 1 << 30, &[0; 8]))]
                .concat();
        let err = check(&file(&nested)).unwrap_err().to_string();
        assert!(err.contains("element (0028,3006)") && err.contains("declares 1073741824 bytes"), "{err}");
        // a fragment of encapsulated Pixel Data
        let fragments = [el((0x7FE0, 0x10), b"OB", UNDEFINED, &[]), item(0, &[]), item(1 << 20, &[0; 4])].concat();
        let err = check(&file(&fragments)).unwrap_err().to_string();
        assert!(err.contains("element (FFFE,E000)") && err.contains("declares 1048576 bytes"), "{err}");
    }

    #[test]
    fn an_unknown_vr_is_read_as_un_and_an_undefined_length_un_as_a_sequence() {
        // two bytes that are no VR: a 4-byte length follows, as dicom-parser reads it
        let odd = [rows(), el((0x29, 0x1010), b"x1", 0xFFFF_FFF0, &[])].concat();
        assert!(check(&file(&odd)).unwrap_err().to_string().contains("element (0029,1010)"));
        // UN of undefined length: its items are read as the parser reads them (data sets in the
        // file's encoding), so a length in them past the end of the file is a reject...
        let un = |inner: Vec<u8>| [rows(), el((0x29, 0x1010), b"UN", UNDEFINED, &[]), item(UNDEFINED, &inner)].concat();
        let bomb = un(el((0x29, 0x1011), b"OB", 0xFFFF_FFF0, &[0; 16]));
        assert!(check(&file(&bomb)).unwrap_err().to_string().contains("element (0029,1011)"));
        // ...a well-formed one is passed, and the walk goes on to the Pixel Data after it...
        let tail = [ITEM_END.to_vec(), SEQ_END.to_vec(), el((0x7FE0, 0x10), b"OW", 4, &[0; 4])].concat();
        let good = file(&[un(el((0x29, 0x1011), b"LO", 2, b"ab")), tail].concat());
        assert_eq!(check(&good).unwrap().pixel_data.map(|p| p.end), Some(good.len()));
        // ...and where it holds no items (implicit VR content, say) the walk stops: the parser
        // would fail on it too, and says so
        let un = [rows(), el((0x29, 0x1010), b"UN", UNDEFINED, &[0xFF; 16])].concat();
        assert!(check(&file(&un)).unwrap().pixel_data.is_none());
    }

    #[test]
    fn the_meta_group_is_read_to_its_length_whatever_its_elements_are() {
        // the group length read as UN (no VR), then a meta element past the end of the file
        let mut f = b"DICM".to_vec();
        f.extend([2, 0, 0, 0, 0xBA, 0, 0, 0, 4, 0, 0, 0]);
        f.extend(0xFFFF_FF00u32.to_le_bytes());
        f.extend(el((2, 2), b"UI", 0xFFFF, b"1.2"));
        let err = check(&f).unwrap_err().to_string();
        assert!(err.contains("File Meta Information: element (0002,0002) at byte 20 declares 65535 bytes"), "{err}");
        let m = meta(&file(&rows())).unwrap().unwrap();
        assert_eq!((m.data_set, m.transfer_syntax.as_str()), (172, "1.2.840.10008.1.2.1"));
    }
}
