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
//! The walk reads the file as `dicom-parser` 0.10 does, and goes where it goes:
//! - two bytes that are no VR are `UN`, with a 4-byte length; in implicit VR an element's VR is
//!   the standard dictionary's (so a sequence of defined length is walked there too);
//! - an element of undefined length other than Pixel Data is a sequence of data sets in the
//!   file's encoding, whatever its VR;
//! - an item delimitation item ends the item holding it, whatever that item's length, and is
//!   skipped outside any sequence.
//!
//! Besides lengths past the end of the file, it rejects two things the parser reads but cannot
//! read right: a binary value split mid-number (`FL` of 2 bytes: the parser reads the whole
//! numbers only, then the rest of the file out of step, where a 658-byte file declared 4 GiB), and
//! sequences nested deeper than [`MAX_DEPTH`]. Where the parser fails on the file (no item where
//! an item should be, a header cut short), the walk stops: nothing after that is read.
//!
//! A deflated data set is walked the same way by [`check_data_set`], as it inflates: the walk
//! only moves forward, so it holds a window of [`WINDOW`] bytes, never the data set.

use super::header::reject;
use crate::error::InputError;
use dicom_core::dictionary::{DataDictionary, DataDictionaryEntryRef, VirtualVr};
use dicom_core::{Tag, VR};
use dicom_dictionary_std::StandardDataDictionary;
use std::cell::{Cell, RefCell};
use std::io::Read;

/// Sequences nested deeper than this are a reject (real files nest a handful of levels).
const MAX_DEPTH: u32 = 32;

/// The Pixel Data tag.
const PIXEL_DATA: (u16, u16) = (0x7FE0, 0x0010);

/// Pixel Representation (0028,0103).
const PIXEL_REPRESENTATION: (u16, u16) = (0x0028, 0x0103);

/// The item delimitation item's tag.
const ITEM_END: (u16, u16) = (0xFFFE, 0xE00D);

/// The undefined length (PS3.5 7.1.1).
const UNDEFINED: u32 = u32::MAX;

/// Bytes of a streamed data set read ahead at a time ([`Stream`]).
const WINDOW: usize = 64 << 10;

/// Bytes a streamed walk keeps behind where it reads: it reads an element's header again (for its
/// VR) after reading the header through, and no further back.
const BEHIND: usize = 16;

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

/// A length the parser would act on wrongly, with the element's tag and offset.
struct Bad {
    tag: (u16, u16),
    at: usize,
    why: Why,
}

/// What is wrong with the length.
enum Why {
    /// It runs past the end of the file (or of the item holding it): `left` bytes are there.
    TooLong { declared: u32, left: usize },
    /// A binary value whose length is no whole number of values. `dicom-parser` reads the whole
    /// values only and counts the rest as read, so it reads everything after it out of step
    /// (a 2-byte `FL` made it read a 4 GiB length out of the next element's bytes).
    Split { vr: VR, declared: u32, size: u32 },
    /// Sequences nested deeper than [`MAX_DEPTH`].
    TooDeep,
}

/// Where a walk got to: the position after what it walked, or `None` where `dicom-parser`
/// fails on the file there (nothing after that is read, so nothing after it is checked).
type Walked = Result<Option<usize>, Bad>;

/// Check that `dicom-parser` can read the Part 10 file `bytes` without acting on a length the
/// file cannot hold, and return what the walk read of its layout.
///
/// # Errors
/// The first length that runs past the end of the file, or that the parser would read out of
/// step, with its tag and offset; or sequences nested deeper than [`MAX_DEPTH`].
pub fn check(bytes: &[u8]) -> Result<Layout, InputError> {
    let Some(meta) = meta(bytes)? else { return Ok(Layout::default()) };
    let (explicit, big) = match meta.transfer_syntax.as_str() {
        "1.2.840.10008.1.2" => (false, false),
        "1.2.840.10008.1.2.2" => (true, true),
        // its data set is walked as it inflates (`deflated`)
        super::deflated::UID => return Ok(Layout { meta: Some(meta), pixel_data: None }),
        _ => (true, false),
    };
    let walk = Walk::new(bytes, explicit, big);
    walk.data_set(meta.data_set, "data set", "file")?;
    Ok(Layout { meta: Some(meta), pixel_data: walk.pixel_data.get() })
}

/// Walk an Explicit VR Little Endian data set of `len` bytes read from `data_set` (one
/// inflating, say), as [`check`] walks a file's, holding only a window of it; `part` names it in
/// the error. The walk stops reading where it ends, which may be before the data set does.
///
/// # Errors
/// As [`check`].
pub fn check_data_set(data_set: impl Read, len: usize, part: &str) -> Result<(), InputError> {
    Walk::new(Stream::new(data_set, len, WINDOW), true, false).data_set(0, part, "data set")
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
    let walk = Walk::new(bytes, true, false);
    let Some(((0x0002, 0x0000), 4, value)) = walk.header(magic) else { return Ok(None) };
    let Some(length) = walk.u32(value) else { return Ok(None) };
    let (first, mut at) = (value + 4, value + 4);
    let mut transfer_syntax = String::new();
    while ((at - first) as u64) < u64::from(length) {
        let Some((tag, len, value)) = walk.header(at).filter(|h| h.1 != UNDEFINED) else { return Ok(None) };
        let end = walk.fits(tag, at, len, value, bytes.len()).map_err(|e| e.reject("File Meta Information", "file"))?;
        if tag == (0x0002, 0x0010) {
            let uid = String::from_utf8_lossy(&bytes[value..end]);
            // as `dicom-object` trims it: a tab after the UID still names the syntax
            transfer_syntax = uid.trim_end_matches(|c: char| c.is_whitespace() || c == '\0').to_string();
        }
        at = end;
    }
    Ok(Some(Meta { data_set: at, transfer_syntax }))
}

impl Bad {
    /// The reject, naming `part` of the input, which is a `whole` ("file", "data set").
    fn reject(&self, part: &str, whole: &str) -> InputError {
        let ((g, e), at) = (self.tag, self.at);
        let what = match &self.why {
            Why::TooLong { declared, left } => format!(
                "declares {declared} bytes, but the {whole} has {left} bytes after it \
                 (truncated, corrupt, or not encoded as its transfer syntax says)"
            ),
            Why::Split { vr, declared, size } => format!(
                "is {vr} of {declared} bytes, not a whole number of {size}-byte values \
                 (corrupt, or not encoded as its transfer syntax says; the rest of the {whole} cannot be read in step)"
            ),
            Why::TooDeep => format!("opens a sequence nested deeper than {MAX_DEPTH} levels"),
        };
        reject(format!("{part}: element ({g:04X},{e:04X}) at byte {at} {what}"))
    }
}

/// Bytes in one value of the VRs `dicom-parser` reads as binary numbers; 1 for the others.
fn value_size(vr: VR) -> u32 {
    match vr {
        VR::US | VR::SS | VR::OW => 2,
        VR::AT | VR::FL | VR::OF | VR::SL | VR::OL | VR::UL => 4,
        VR::FD | VR::OD | VR::SV | VR::OV | VR::UV => 8,
        _ => 1,
    }
}

/// The standard dictionary's entry for `tag`, as `dicom-parser` looks it up.
fn dictionary(tag: (u16, u16)) -> Option<&'static DataDictionaryEntryRef<'static>> {
    StandardDataDictionary.by_tag(Tag(tag.0, tag.1))
}

/// What a walk reads: a file in memory, or a data set read as the walk goes ([`Stream`]).
trait Bytes {
    /// How many bytes there are.
    fn len(&self) -> usize;

    /// The `N` bytes at `at`, if there are that many there. A walk reads forward: never before
    /// [`BEHIND`] bytes back from where it last read.
    fn array<const N: usize>(&self, at: usize) -> Option<[u8; N]>;
}

impl Bytes for &[u8] {
    fn len(&self) -> usize {
        <[u8]>::len(self)
    }

    fn array<const N: usize>(&self, at: usize) -> Option<[u8; N]> {
        self.get(at..at.checked_add(N)?)?.try_into().ok()
    }
}

/// A data set of `len` bytes (counted before) read from a reader as the walk goes.
struct Stream<R> {
    len: usize,
    window: RefCell<Window<R>>,
}

/// The bytes of a [`Stream`] a walk may still read: `buf` holds those from `start` on, and is
/// read `ahead` bytes at a time.
struct Window<R> {
    reader: R,
    buf: Vec<u8>,
    start: usize,
    ahead: usize,
}

impl<R> Stream<R> {
    fn new(reader: R, len: usize, ahead: usize) -> Self {
        Stream { len, window: RefCell::new(Window { reader, buf: Vec::new(), start: 0, ahead }) }
    }
}

impl<R: Read> Bytes for Stream<R> {
    fn len(&self) -> usize {
        self.len
    }

    fn array<const N: usize>(&self, at: usize) -> Option<[u8; N]> {
        if at.checked_add(N)? > self.len {
            return None;
        }
        let mut w = self.window.borrow_mut();
        w.hold(at, N)?;
        w.buf[at - w.start..][..N].try_into().ok()
    }
}

impl<R: Read> Window<R> {
    /// Make the window hold bytes `at..at + n`: drop what is more than [`BEHIND`] bytes before
    /// `at`, skip to there unheld, and read `ahead` bytes or more. `None` where the
    /// reader ends (or fails) first, or for bytes dropped already (the walk never asks for them).
    fn hold(&mut self, at: usize, n: usize) -> Option<()> {
        debug_assert!(at >= self.start, "a walk reads forward: {at} is before {}", self.start);
        let (end, held) = (at.checked_add(n)?, self.start + self.buf.len());
        if at < self.start || end <= held {
            return (at >= self.start).then_some(());
        }
        let keep = at.saturating_sub(BEHIND).max(self.start);
        if keep >= held {
            let gap = (keep - held) as u64;
            let skipped = std::io::copy(&mut (&mut self.reader).take(gap), &mut std::io::sink()).ok()?;
            if skipped < gap {
                return None;
            }
            self.buf.clear();
        } else {
            self.buf.drain(..keep - self.start);
        }
        self.start = keep;
        let want = (end - keep).max(self.ahead);
        let mut filled = self.buf.len();
        self.buf.resize(want, 0);
        while filled < want {
            match self.reader.read(&mut self.buf[filled..]) {
                Ok(0) | Err(_) => break,
                Ok(k) => filled += k,
            }
        }
        self.buf.truncate(filled);
        (self.start + filled >= end).then_some(())
    }
}

/// One encoding's walk over `src`.
struct Walk<S> {
    src: S,
    explicit: bool,
    big: bool,
    /// The first top-level Pixel Data element of defined length it passed.
    pixel_data: Cell<Option<PixelData>>,
    /// Pixel Representation as the parser last read it: where it says signed, the parser reads
    /// elements whose dictionary VR is "US or SS" as `SS`, whatever their header says.
    signed: Cell<Option<bool>>,
}

impl<S: Bytes> Walk<S> {
    fn new(src: S, explicit: bool, big: bool) -> Self {
        Walk { src, explicit, big, pixel_data: Cell::new(None), signed: Cell::new(None) }
    }

    /// Walk the data set from `start` to the end; `part` and `whole` name it in the error.
    fn data_set(&self, start: usize, part: &str, whole: &str) -> Result<(), InputError> {
        self.elements(start, self.src.len(), false, 0).map_err(|e| e.reject(part, whole))?;
        Ok(())
    }

    fn u16(&self, at: usize) -> Option<u16> {
        let b = self.src.array(at)?;
        Some(if self.big { u16::from_be_bytes(b) } else { u16::from_le_bytes(b) })
    }

    fn u32(&self, at: usize) -> Option<u32> {
        let b = self.src.array(at)?;
        Some(if self.big { u32::from_be_bytes(b) } else { u32::from_le_bytes(b) })
    }

    /// An element's tag, declared length and where its value starts, as `dicom-encoding`'s
    /// decoders read them; `None` past the end of the file.
    fn header(&self, at: usize) -> Option<((u16, u16), u32, usize)> {
        let tag = (self.u16(at)?, self.u16(at + 2)?);
        if !self.explicit || tag.0 == 0xFFFE {
            return Some((tag, self.u32(at + 4)?, at + 8));
        }
        let vr: [u8; 2] = self.src.array(at + 4)?;
        if SHORT_VRS.contains(&&vr) {
            Some((tag, u32::from(self.u16(at + 6)?), at + 8))
        } else {
            Some((tag, self.u32(at + 8)?, at + 12))
        }
    }

    /// The end of a value of `len` bytes at `value`, if it ends by `end`.
    fn fits(&self, tag: (u16, u16), at: usize, len: u32, value: usize, end: usize) -> Result<usize, Bad> {
        let left = end.saturating_sub(value);
        if len as usize > left {
            return Err(Bad { tag, at, why: Why::TooLong { declared: len, left } });
        }
        Ok(value + len as usize)
    }

    /// The VR bytes of the element at `at` (`None` in implicit VR).
    fn raw_vr(&self, tag: (u16, u16), at: usize) -> Option<[u8; 2]> {
        (self.explicit && tag.0 != 0xFFFE).then(|| self.src.array(at + 4)).flatten()
    }

    /// The VR `dicom-parser` reads the element at `at` with: its header's (`UN` where that is
    /// no VR), or in implicit VR the standard dictionary's; then `SS` for a "US or SS" element
    /// once Pixel Representation said signed.
    fn vr(&self, tag: (u16, u16), at: usize) -> VR {
        let vr = match self.raw_vr(tag, at) {
            Some(raw) => VR::from_binary(raw).unwrap_or(VR::UN),
            None if tag.0 == 0xFFFE && self.explicit => VR::UN,
            None if tag == PIXEL_DATA || (tag.0 >> 8 == 0x60 && tag.1 == 0x3000) => VR::OW,
            None => dictionary(tag).map_or(VR::UN, |e| e.vr.relaxed()),
        };
        let xs = || dictionary(tag).is_some_and(|e| e.vr == VirtualVr::Xs);
        if self.signed.get() == Some(true) && xs() {
            VR::SS
        } else {
            vr
        }
    }

    /// Check a value of defined length the parser reads as a whole (not a sequence), and note
    /// Pixel Representation as the parser does. A binary value split mid-value is a reject,
    /// except as the file's last element (nothing is read after it).
    fn value(&self, tag: (u16, u16), at: usize, vr: VR, len: u32, value: usize) -> Result<(), Bad> {
        let size = value_size(vr);
        let last = value + len as usize == self.src.len();
        if !len.is_multiple_of(size) && !last {
            return Err(Bad { tag, at, why: Why::Split { vr, declared: len, size } });
        }
        if tag == PIXEL_REPRESENTATION && matches!(vr, VR::US | VR::OW) && len > 0 {
            self.signed.set(self.u16(value).filter(|_| len >= 2).map(|v| v != 0));
        }
        Ok(())
    }

    /// Elements from `at` to `end` (the data set, or an item of defined length), or (`in_item`)
    /// to an item delimitation item; the position after them.
    fn elements(&self, mut at: usize, end: usize, in_item: bool, depth: u32) -> Walked {
        while at < end {
            let Some((tag, len, value)) = self.header(at) else { return Ok(None) };
            if tag == ITEM_END {
                // the end of the item holding it, whatever its length; ignored outside any
                if depth > 0 {
                    return Ok(Some(value));
                }
                at = value;
                continue;
            }
            let vr = self.vr(tag, at);
            if len == UNDEFINED {
                // Encapsulated Pixel Data holds fragments. `dicom-parser` reads every other
                // element of undefined length as a sequence of data sets in the file's encoding,
                // whatever its VR (an `UN` too, though the standard puts implicit VR in it).
                let data_sets = tag != PIXEL_DATA || vr == VR::SQ;
                let Some(next) = self.items((tag, at), value, end, data_sets, depth + 1)? else { return Ok(None) };
                at = next;
                continue;
            }
            let next = self.fits(tag, at, len, value, end)?;
            if vr == VR::SQ {
                // a sequence delimitation item ends it early, and the parser goes on there; past
                // its end, the parser fails
                let Some(after) = self.items((tag, at), value, next, true, depth + 1)?.filter(|&a| a <= next) else {
                    return Ok(None);
                };
                at = after;
                continue;
            }
            self.value(tag, at, vr, len, value)?;
            if depth == 0 && tag == PIXEL_DATA && self.pixel_data.get().is_none() {
                let vr = self.raw_vr(tag, at);
                self.pixel_data.set(Some(PixelData { vr, start: value, end: next }));
            }
            at = next;
        }
        Ok((!in_item).then_some(at))
    }

    /// Items of the sequence `(tag, header offset)`, from `at` to `end` or to a sequence
    /// delimitation item; their contents are data sets when `data_sets`, else fragments
    /// (encapsulated Pixel Data). The position after them.
    fn items(&self, seq: ((u16, u16), usize), mut at: usize, end: usize, data_sets: bool, depth: u32) -> Walked {
        if depth > MAX_DEPTH {
            return Err(Bad { tag: seq.0, at: seq.1, why: Why::TooDeep });
        }
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
                        // an item delimitation item ends it early, and the sequence goes on there
                        let Some(after) = self.elements(value, next, false, depth)? else { return Ok(None) };
                        at = after;
                    } else {
                        at = next;
                    }
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

    /// An implicit VR element.
    fn imp(tag: (u16, u16), len: u32, value: &[u8]) -> Vec<u8> {
        [&tag.0.to_le_bytes()[..], &tag.1.to_le_bytes(), &len.to_le_bytes(), value].concat()
    }

    /// Preamble, `DICM`, a meta group of the transfer syntax only, then `data_set`.
    fn file(data_set: &[u8]) -> Vec<u8> {
        file_in(b"1.2.840.10008.1.2.1\0", data_set)
    }

    /// [`file`] in transfer syntax `uid` (even length, padded).
    fn file_in(uid: &[u8], data_set: &[u8]) -> Vec<u8> {
        let meta = el((2, 0x10), b"UI", uid.len() as u32, uid);
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

    /// A sequence of undefined length holding an item of each length.
    fn sequence() -> Vec<u8> {
        [
            el((0x28, 0x3000), b"SQ", UNDEFINED, &[]),
            item(UNDEFINED, &el((0x28, 0x3002), b"US", 6, &[0; 6])),
            ITEM_END.to_vec(),
            item(10, &el((0x28, 0x3003), b"LO", 2, b"ab")),
            SEQ_END.to_vec(),
        ]
        .concat()
    }

    #[test]
    fn well_formed_files_pass() {
        let nested = [
            rows(),
            sequence(),
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
        // a UID padded with a tab is implicit VR to the parser (found by fuzzing: the walk read
        // it as explicit VR and missed an element declaring 1.3 GB)
        let bomb = imp((0x4300, 0x0C53), 0x4E4F_4D00, &[0; 8]);
        let err = check(&file_in(b"1.2.840.10008.1.2\t\0", &bomb)).unwrap_err().to_string();
        assert!(err.contains("element (4300,0C53)") && err.contains("declares 1313819904 bytes"), "{err}");
    }

    #[test]
    fn a_binary_value_split_mid_value_is_a_reject_unless_nothing_follows_it() {
        // a 2-byte FL: dicom-parser reads no value from it, then the next header 2 bytes early
        let split = [rows(), el((0x28, 0x103), b"FL", 2, &[0, 0]), el((0x7FE0, 0x10), b"OW", 4, &[0; 4])].concat();
        let err = check(&file(&split)).unwrap_err().to_string();
        let expected = "element (0028,0103) at byte 182 is FL of 2 bytes, not a whole number of 4-byte values";
        assert!(err.contains(expected), "{err}");
        // in an item too
        let nested = [
            el((0x28, 0x3000), b"SQ", UNDEFINED, &[]),
            item(UNDEFINED, &el((0x28, 0x3002), b"US", 3, &[0; 3])),
            ITEM_END.to_vec(),
            SEQ_END.to_vec(),
        ]
        .concat();
        let err = check(&file(&nested)).unwrap_err().to_string();
        assert!(err.contains("element (0028,3002)") && err.contains("is US of 3 bytes"), "{err}");
        // the file's last element: nothing is read after it (odd-length OW Pixel Data, say)
        let last = file(&[rows(), el((0x7FE0, 0x10), b"OW", 5, &[0; 5])].concat());
        assert_eq!(check(&last).unwrap().pixel_data.map(|p| p.end), Some(last.len()));
    }

    #[test]
    fn implicit_vr_is_read_with_the_dictionarys_vrs() {
        const IMPLICIT: &[u8] = b"1.2.840.10008.1.2\0";
        // Pixel Representation is US in the dictionary: 3 bytes split a value
        let split = [imp((0x28, 0x103), 3, &[0; 3]), imp((0x28, 0x10), 2, &[16, 0])].concat();
        let err = check(&file_in(IMPLICIT, &split)).unwrap_err().to_string();
        assert!(err.contains("element (0028,0103)") && err.contains("is US of 3 bytes"), "{err}");
        // Modality LUT Sequence is SQ in the dictionary: the items of a defined length are walked
        let inner = imp((0x28, 0x3006), 1 << 30, &[0; 8]);
        let seq = [imp((0x28, 0x3000), inner.len() as u32 + 8, &[]), item(inner.len() as u32, &inner)].concat();
        let err = check(&file_in(IMPLICIT, &seq)).unwrap_err().to_string();
        assert!(err.contains("element (0028,3006)") && err.contains("declares 1073741824 bytes"), "{err}");
        // Pixel Data is OW there, and found
        let native = file_in(IMPLICIT, &[imp((0x28, 0x10), 2, &[16, 0]), imp((0x7FE0, 0x10), 4, &[0; 4])].concat());
        let found = check(&native).unwrap().pixel_data;
        assert_eq!(found, Some(PixelData { vr: None, start: native.len() - 4, end: native.len() }));
    }

    #[test]
    fn signed_pixel_representation_makes_us_or_ss_elements_ss_as_the_parser_reads_them() {
        // Smallest Image Pixel Value (US or SS) written as OB of 3 bytes: whole bytes while
        // unsigned, a split SS once Pixel Representation says signed
        let smallest = el((0x28, 0x106), b"OB", 3, &[0; 3]);
        let pr = |v: u16| el((0x28, 0x103), b"US", 2, &v.to_le_bytes());
        let tail = el((0x7FE0, 0x10), b"OW", 4, &[0; 4]);
        assert!(check(&file(&[pr(0), smallest.clone(), tail.clone()].concat())).is_ok());
        let err = check(&file(&[pr(1), smallest, tail].concat())).unwrap_err().to_string();
        assert!(err.contains("element (0028,0106)") && err.contains("is SS of 3 bytes"), "{err}");
    }

    #[test]
    fn item_delimiters_and_deep_nesting_are_read_as_the_parser_reads_them() {
        let bomb = || el((0x29, 0x1010), b"OB", 0xFFFF_FFF0, &[0; 8]);
        // outside any sequence the parser skips it, and reads on
        let stray = [rows(), ITEM_END.to_vec(), bomb()].concat();
        assert!(check(&file(&stray)).unwrap_err().to_string().contains("element (0029,1010)"));
        // in an item of defined length it ends the item, and the sequence goes on after it
        let rest = [ITEM_END.to_vec(), item(UNDEFINED, &bomb())].concat();
        let early = [el((0x28, 0x3000), b"SQ", UNDEFINED, &[]), item(rest.len() as u32, &rest)].concat();
        assert!(check(&file(&early)).unwrap_err().to_string().contains("element (0029,1010)"));
        // 32 levels of sequences are walked, 33 are a reject
        let nest = |levels: usize| {
            let level = [el((0x28, 0x3000), b"SQ", UNDEFINED, &[]), item(UNDEFINED, &[])].concat();
            file(&level.repeat(levels))
        };
        assert!(check(&nest(32)).is_ok());
        let err = check(&nest(33)).unwrap_err().to_string();
        assert!(err.contains("element (0028,3000)") && err.contains("nested deeper than 32 levels"), "{err}");
    }

    /// A reader that yields at most 3 bytes a read (an inflating one may yield any number).
    struct Dribble<'a>(&'a [u8]);

    impl Read for Dribble<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(3).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    /// The walk of the Explicit VR Little Endian `data_set` in memory, and as a stream read
    /// `ahead` bytes at a time.
    fn walked_both_ways(data_set: &[u8], ahead: usize) -> (Result<(), String>, Result<(), String>) {
        let whole = |w: Result<(), InputError>| w.map_err(|e| e.to_string());
        let in_memory = whole(Walk::new(data_set, true, false).data_set(0, "d", "data set"));
        let stream = Stream::new(Dribble(data_set), data_set.len(), ahead);
        (in_memory, whole(Walk::new(stream, true, false).data_set(0, "d", "data set")))
    }

    /// Data sets of every kind the walk reads: sequences and items of both lengths, fragments,
    /// delimiters, and a long value between elements.
    fn corpus() -> Vec<u8> {
        [
            rows(),
            sequence(),
            el((0x28, 0x103), b"US", 2, &[1, 0]),
            el((0x29, 0x1010), b"OB", 300, &[9; 300]),
            el((0x28, 0x3000), b"SQ", 18, &[]),
            item(10, &el((0x28, 0x106), b"US", 2, &[0; 2])),
            el((0x7FE0, 0x10), b"OB", UNDEFINED, &[]),
            item(0, &[]),
            item(4, &[1, 2, 3, 4]),
            SEQ_END.to_vec(),
            el((0x7FE0, 0x10), b"OW", 5, &[0; 5]),
        ]
        .concat()
    }

    #[test]
    fn a_walk_of_a_stream_reads_what_a_walk_in_memory_reads() {
        let bomb = |len: u32| el((0x29, 0x1010), b"OB", len, &[0; 8]);
        let long = el((0x29, 0x1011), b"OB", 200_000, &[3; 200_000]);
        let nest =
            |levels: usize| [el((0x28, 0x3000), b"SQ", UNDEFINED, &[]), item(UNDEFINED, &[])].concat().repeat(levels);
        let cases = [
            corpus(),
            [corpus(), bomb(0xFFFF_FFF0)].concat(),
            [long.clone(), bomb(0xFFFF_FFF0)].concat(),
            [long.clone(), bomb(8), el((0x28, 0x103), b"FL", 2, &[0; 2]), rows()].concat(),
            [rows(), ITEM_END.to_vec(), long, bomb(9)].concat(),
            nest(32),
            nest(33),
        ];
        let mut outcomes = (0, 0);
        for (i, case) in cases.iter().enumerate() {
            for ahead in [1, 7, 64, WINDOW] {
                let (in_memory, streamed) = walked_both_ways(case, ahead);
                assert_eq!(in_memory, streamed, "case {i}, {ahead} bytes ahead");
                if in_memory.is_ok() {
                    outcomes.0 += 1
                } else {
                    outcomes.1 += 1
                }
            }
        }
        assert_eq!(outcomes, (8, 20), "passes and rejects, four ways each");
    }

    proptest::proptest! {
        #[test]
        fn a_walk_of_a_changed_or_cut_stream_reads_what_a_walk_in_memory_reads(
            changes in proptest::collection::vec((proptest::prelude::any::<proptest::sample::Index>(), 0u8..=255), 0..6),
            cut in proptest::prelude::any::<proptest::sample::Index>(),
            ahead in 1usize..40,
        ) {
            let mut d = corpus();
            for (i, b) in changes {
                let i = i.index(d.len());
                d[i] = b;
            }
            d.truncate(d.len() - cut.index(d.len() / 4));
            let (in_memory, streamed) = walked_both_ways(&d, ahead);
            proptest::prop_assert_eq!(in_memory, streamed);
        }
    }
}
