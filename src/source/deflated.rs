//! Deflated Explicit VR Little Endian (PS3.5 A.5): the one transfer syntax whose data set is
//! not bounded by the file's size. Its data set is a single deflate stream, which `dicom-object`
//! inflates whole into memory; deflate reaches ~1000:1, so a 4 MB file can stand for 4 GiB
//! (measured: a 16 × 16 image with a 4 GiB Pixel Data of zeros, 4.2 GB peak RSS), enough to get
//! a worker killed where memory is limited.
//!
//! Before `dicom-object` reads such a file, the stream is inflated here and counted
//! ([`inflated_size`]); a data set over [`MAX_BYTES`] is a reject. Then it is inflated again and
//! its element lengths are walked as it inflates, as a plain file's are (`lengths`): the parser
//! zero-fills the length an element declares before it reads the value, and a 369-byte file whose
//! stream inflated to an element declaring 977 MB took 967 MB. Neither pass holds the data set,
//! only a window of it. Once the header is read, the data set may hold no more than the samples
//! the header declares plus [`MAX_ATTRIBUTE_BYTES`] ([`check_declared`]). Deflated files pay two
//! inflations more than the parser's own.

use super::header::{reject, Header};
use super::lengths::Meta;
use crate::error::InputError;
use std::io::Read;

/// The transfer syntax UID.
pub const UID: &str = "1.2.840.10008.1.2.1.99";

/// Attributes other than Pixel Data a deflated data set may hold, in bytes.
pub const MAX_ATTRIBUTE_BYTES: u64 = 64 << 20;

/// Samples a deflated data set may hold, in bytes (all frames).
pub const MAX_SAMPLE_BYTES: u64 = 1 << 30;

/// Largest data set a deflated file may inflate to.
pub const MAX_BYTES: u64 = MAX_SAMPLE_BYTES + MAX_ATTRIBUTE_BYTES;

/// How many bytes the data set of `bytes` inflates to, if `bytes` is a deflated Part 10 file
/// whose meta group is `meta`; `None` for any other file (or one whose meta group cannot be
/// read: the DICOM parser then reports it). A stream that breaks counts up to where it breaks:
/// the parser reads that much and then reports it.
///
/// # Errors
/// A data set that inflates to more than [`MAX_BYTES`] (counting stops there), or one holding a
/// length the parser would act on wrongly (`lengths`).
pub fn inflated_size(bytes: &[u8], meta: Option<&Meta>) -> Result<Option<u64>, InputError> {
    let Some(meta) = meta else { return Ok(None) };
    if meta.transfer_syntax != UID {
        return Ok(None);
    }
    let inflate = || flate2::read::DeflateDecoder::new(&bytes[meta.data_set..]);
    let total = count(inflate().take(MAX_BYTES + 1));
    if total > MAX_BYTES {
        return Err(reject(format!(
            "Deflated Explicit VR Little Endian: the data set inflates to more than {} MiB ({} MiB of samples \
             and {} MiB of other attributes at most); not inflated further",
            MAX_BYTES >> 20,
            MAX_SAMPLE_BYTES >> 20,
            MAX_ATTRIBUTE_BYTES >> 20
        )));
    }
    super::lengths::check_data_set(inflate(), total as usize, "deflated data set")?;
    Ok(Some(total))
}

/// Bytes `stream` yields before it ends or fails.
fn count(mut stream: impl Read) -> u64 {
    let (mut total, mut buf) = (0u64, vec![0u8; 64 << 10]);
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return total,
            Ok(n) => total += n as u64,
        }
    }
}

/// Check that a deflated data set of `inflated` bytes holds no more than the samples `h`
/// declares (every frame) and [`MAX_ATTRIBUTE_BYTES`].
///
/// # Errors
/// A data set larger than that.
pub fn check_declared(inflated: u64, h: &Header) -> Result<(), InputError> {
    let frame = u64::from(h.rows) * u64::from(h.cols) * u64::from(h.samples_per_pixel) * h.sample_bytes() as u64;
    let samples = frame.saturating_mul(u64::from(h.frames)).min(MAX_SAMPLE_BYTES);
    if inflated > samples + MAX_ATTRIBUTE_BYTES {
        return Err(reject(format!(
            "Deflated Explicit VR Little Endian: the data set inflates to {inflated} bytes, more than the {samples} \
             bytes of samples the header declares ({} frame(s) of {}x{}, {} sample(s) of {} bits) and {} MiB of \
             other attributes",
            h.frames,
            h.rows,
            h.cols,
            h.samples_per_pixel,
            h.bits_allocated,
            MAX_ATTRIBUTE_BYTES >> 20
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A deflated file: preamble, `DICM`, a meta group of its length, the version and the UID,
    /// then `stream`, the deflated data set.
    fn file_of_stream(stream: &[u8]) -> Vec<u8> {
        let mut uid = UID.as_bytes().to_vec();
        uid.push(0);
        // (0002,0001) OB, a long-length VR, then (0002,0010) UI
        let mut meta = vec![0x02, 0x00, 0x01, 0x00, b'O', b'B', 0, 0, 2, 0, 0, 0, 0, 1];
        meta.extend_from_slice(&[0x02, 0x00, 0x10, 0x00, b'U', b'I']);
        meta.extend_from_slice(&(uid.len() as u16).to_le_bytes());
        meta.extend_from_slice(&uid);
        let mut out = vec![0u8; 128];
        out.extend_from_slice(b"DICM");
        out.extend_from_slice(&[0x02, 0x00, 0x00, 0x00, b'U', b'L', 0x04, 0x00]);
        out.extend_from_slice(&(meta.len() as u32).to_le_bytes());
        out.extend_from_slice(&meta);
        out.extend_from_slice(stream);
        out
    }

    fn file(data_set: &[u8]) -> Vec<u8> {
        let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(data_set).unwrap();
        file_of_stream(&z.finish().unwrap())
    }

    /// [`inflated_size`] with the meta group read as `decode` reads it.
    fn size(f: &[u8]) -> Result<Option<u64>, InputError> {
        inflated_size(f, super::super::lengths::check(f).unwrap().meta.as_ref())
    }

    /// A private `OB` element of `len` bytes of value (a data set of `len + 12` bytes), whose
    /// header may declare `declared` bytes instead.
    fn ob(len: usize, declared: u32) -> Vec<u8> {
        let mut e = vec![0x29, 0x00, 0x10, 0x10, b'O', b'B', 0, 0];
        e.extend(declared.to_le_bytes());
        e.resize(len + 12, 7);
        e
    }

    #[test]
    fn counts_what_the_data_set_inflates_to_and_ignores_other_files() {
        assert_eq!(size(&file(&ob(988, 988))).unwrap(), Some(1000));
        assert_eq!(size(b"not a DICOM file").unwrap(), None);
        let f = file(&ob(10, 10));
        let data_set = super::super::lengths::check(&f).unwrap().meta.unwrap().data_set;
        let explicit = Meta { data_set, transfer_syntax: "1.2.840.10008.1.2.1".into() };
        assert_eq!(inflated_size(&f, Some(&explicit)).unwrap(), None);
    }

    #[test]
    fn a_data_set_over_the_limit_is_a_reject_counted_no_further() {
        // 1.1 GiB of zeros in ~1 MB, as a bomb would be.
        let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..(MAX_BYTES >> 20) + 16 {
            z.write_all(&zeros).unwrap();
        }
        let f = file_of_stream(&z.finish().unwrap());
        assert!(f.len() < 4 << 20, "a small file: {} bytes", f.len());
        let err = size(&f).unwrap_err().to_string();
        assert!(err.contains("inflates to more than 1088 MiB"), "{err}");
    }

    #[test]
    fn element_lengths_of_a_small_data_set_are_walked_as_a_files_are() {
        // 4 GiB declared in 28 inflated bytes: the parser would zero-fill it before reading
        let err = size(&file(&ob(16, 0xFFFF_FFF0))).unwrap_err().to_string();
        let expected = "deflated data set: element (0029,1010) at byte 0 declares 4294967280 bytes";
        assert!(err.contains(expected), "{err}");
    }

    #[test]
    fn element_lengths_are_walked_however_large_the_data_set() {
        // 80 MiB of value, then an element declaring 4 GiB: a file of ~80 KB
        let mut data_set = ob(80 << 20, 80 << 20);
        data_set.extend([0x29, 0x00, 0x11, 0x10, b'O', b'B', 0, 0]);
        data_set.extend(0xFFFF_FFF0u32.to_le_bytes());
        data_set.extend([0; 16]);
        let f = file(&data_set);
        assert!(f.len() < 1 << 20, "a small file: {} bytes", f.len());
        let err = size(&f).unwrap_err().to_string();
        let expected = "deflated data set: element (0029,1011) at byte 83886092 declares 4294967280 bytes, \
                        but the data set has 16 bytes after it";
        assert!(err.contains(expected), "{err}");
    }
}
