//! Lossy JPEG frames, JPEG Baseline (1.2.840.10008.1.2.4.50) and JPEG Extended
//! (1.2.840.10008.1.2.4.51), 8- and 12-bit, through libjpeg-turbo 3's TurboJPEG API
//! (`turbojpeg-sys`, which builds the vendored libjpeg-turbo 3.1 with cmake + nasm and links it
//! statically; its bindings are pre-generated, so no libclang at build time).
//!
//! Why libjpeg-turbo and not `jpeg-decoder` (dicom-pixeldata's `jpeg` codec, still used for the
//! lossless JPEG syntaxes): jpeg-decoder implements only 8-bit DCT, so 12-bit JPEG Extended
//! (common for CR/DX archives) could not be read; and for 8-bit its IDCT rounds differently from
//! libjpeg's, so stored values differed from pydicom's by a unit on some pixels. One decoder for
//! both lossy syntaxes and both precisions keeps results consistent (README, "Transfer syntaxes").
//!
//! Invariants:
//! - the codestream's own width, height and colour model are checked against Rows, Columns and
//!   SamplesPerPixel from its header before any pixel is decoded, so the frame buffer never
//!   exceeds what the DICOM header (capped at [`super::header::MAX_PIXELS`]) allowed;
//! - libjpeg reports errors with `longjmp`; TurboJPEG's `setjmp` is inside each `tj3*` function,
//!   so no Rust frame is ever jumped over. Errors and warnings come back as `-1` and a message,
//!   and become a reject naming the transfer syntax; nothing here panics. Warnings matter: for
//!   corrupt or truncated data libjpeg fills the rest of the frame with grey and only warns. The
//!   one warning accepted is [`BENIGN_WARNING`] (TurboJPEG keeps only the last warning, and a
//!   data warning of a one-scan greyscale frame comes after it);
//! - libjpeg's defaults are kept: the accurate integer IDCT (`TJPARAM_FASTDCT` = 0) and fancy
//!   (smooth) chroma upsampling, as Pillow (libjpeg-turbo) applies them for pydicom;
//! - one TurboJPEG instance per frame, destroyed on every path: no state shared between workers.

use super::codestream::{frame0, matches_header, Declared};
use super::decode::Decoded;
use super::header::{reject, transfer_syntax_name, Header};
use crate::error::InputError;
use std::ffi::{c_int, CStr};
use turbojpeg_sys as tj;

/// The transfer syntaxes this module decodes.
pub const LOSSY_JPEG: [&str; 2] = ["1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51"];

/// Largest JPEG sample precision decoded here (lossy DCT JPEG is 8- or 12-bit).
const MAX_PRECISION: c_int = 12;

/// libjpeg's `JWRN_NOT_SEQUENTIAL`: a sequential scan header with progressive-mode spectral
/// parameters, which sequential decoding ignores (pydicom's `JPEG-lossy.dcm` has it; GDCM and
/// IJG libjpeg decode such files with this warning). No sample is lost.
const BENIGN_WARNING: &str = "Invalid SOS parameters for sequential JPEG";

/// Whether frames in transfer syntax `uid` are decoded by this module.
pub fn handles(uid: &str) -> bool {
    LOSSY_JPEG.contains(&uid)
}

/// Decode frame 0 of encapsulated Pixel Data (`fragments` without the offset table).
///
/// Samples come back in native byte order at `BitsAllocated` width, grey for a one-component
/// codestream and RGB (libjpeg's YCbCr → RGB when the stream is YCbCr) for three, with
/// `value_bits` set to the JPEG precision: a lossy reconstruction may overshoot a smaller
/// `BitsStored`, and the values are taken whole, as the codec and pydicom give them.
///
/// # Errors
/// A reject naming the transfer syntax and what failed: no fragment, a codestream that does not
/// match the header, a precision the header cannot hold, or libjpeg's own error or warning.
pub fn decode(fragments: &[Vec<u8>], offsets: &[u32], h: &Header) -> Result<Decoded, InputError> {
    let ts = transfer_syntax_name(&h.transfer_syntax);
    let fail = |what: String| reject(format!("cannot decode Pixel Data (transfer syntax {ts}): {what}"));
    let stream = frame0(fragments, offsets, h.frames).ok_or_else(|| fail("no JPEG fragment for frame 0".into()))?;
    let tj = Handle::new().map_err(&fail)?;
    let info = tj.header(&stream).map_err(|e| fail(format!("libjpeg-turbo: {e}")))?;
    check(&info, h).map_err(fail)?;
    let data = tj.decompress(&stream, &info, h).map_err(|e| fail(format!("libjpeg-turbo: {e}")))?;
    let photometric = if info.components == 1 { h.photometric_name.clone() } else { "RGB".to_string() };
    Ok(Decoded { data, photometric, planar: false, value_bits: Some(info.precision as u16) })
}

/// What a codestream's header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct StreamInfo {
    width: c_int,
    height: c_int,
    precision: c_int,
    components: usize,
    lossless: bool,
}

/// The codestream must be the frame the DICOM header describes, in a precision it can hold.
fn check(info: &StreamInfo, h: &Header) -> Result<(), String> {
    let declared = Declared {
        width: u32::try_from(info.width).unwrap_or(0),
        height: u32::try_from(info.height).unwrap_or(0),
        components: u32::try_from(info.components).unwrap_or(u32::MAX),
    };
    matches_header("JPEG codestream", &declared, h)?;
    if info.lossless || !(2..=MAX_PRECISION).contains(&info.precision) {
        return Err(format!(
            "a {}{}-bit JPEG codestream, expected 8- or 12-bit lossy (DCT) JPEG",
            if info.lossless { "lossless " } else { "" },
            info.precision
        ));
    }
    if info.precision > 8 && h.bits_allocated < 16 {
        return Err(format!("{}-bit JPEG samples do not fit BitsAllocated {}", info.precision, h.bits_allocated));
    }
    Ok(())
}

/// A TurboJPEG decompressor, destroyed on drop.
struct Handle(tj::tjhandle);

impl Handle {
    fn new() -> Result<Self, String> {
        // SAFETY: no preconditions; a null handle means failure (out of memory).
        let handle = unsafe { tj::tj3Init(tj::TJINIT_TJINIT_DECOMPRESS as c_int) };
        if handle.is_null() {
            return Err("cannot create a libjpeg-turbo decompressor".into());
        }
        Ok(Handle(handle))
    }

    /// Read the codestream's header (SOF, tables) without decoding any pixel.
    fn header(&self, stream: &[u8]) -> Result<StreamInfo, String> {
        // SAFETY: a valid handle; `stream` is readable for its length.
        self.ok(unsafe { tj::tj3DecompressHeader(self.0, stream.as_ptr(), stream.len() as tj::size_t) })?;
        // SAFETY: a valid handle and known parameters (-1 when unknown, rejected by `check`).
        let get = |p: tj::TJPARAM| unsafe { tj::tj3Get(self.0, p as c_int) };
        let components = match get(tj::TJPARAM_TJPARAM_COLORSPACE) as tj::TJCS {
            tj::TJCS_TJCS_GRAY => 1,
            tj::TJCS_TJCS_RGB | tj::TJCS_TJCS_YCbCr => 3,
            _ => 4, // CMYK / YCCK: never a DICOM photometric, rejected by `check`
        };
        let (width, height) = (get(tj::TJPARAM_TJPARAM_JPEGWIDTH), get(tj::TJPARAM_TJPARAM_JPEGHEIGHT));
        if width <= 0 || height <= 0 {
            // a tables-only (abbreviated) stream, or garbage after SOI
            return Err("no frame header (SOF marker) in the codestream".into());
        }
        Ok(StreamInfo {
            width,
            height,
            precision: get(tj::TJPARAM_TJPARAM_PRECISION),
            components,
            lossless: get(tj::TJPARAM_TJPARAM_LOSSLESS) == 1,
        })
    }

    /// Decode the checked codestream into `BitsAllocated`-wide native-endian samples: grey for
    /// one component, RGB for three.
    fn decompress(&self, stream: &[u8], info: &StreamInfo, h: &Header) -> Result<Vec<u8>, String> {
        let format = if info.components == 1 { tj::TJPF_TJPF_GRAY } else { tj::TJPF_TJPF_RGB } as c_int;
        let n = h.rows as usize * h.cols as usize * info.components;
        let len = stream.len() as tj::size_t;
        if info.precision <= 8 {
            let mut out = vec![0u8; n];
            // SAFETY: a valid handle; `out` holds rows × cols × components samples, what a frame
            // of the checked dimensions in `format` needs at pitch 0 (tightly packed rows).
            self.ok(unsafe { tj::tj3Decompress8(self.0, stream.as_ptr(), len, out.as_mut_ptr(), 0, format) })?;
            Ok(match h.bits_allocated {
                8 => out,
                _ => out.into_iter().flat_map(|v| u16::from(v).to_ne_bytes()).collect(),
            })
        } else {
            let mut out = vec![0i16; n];
            // SAFETY: as above, with 16-bit storage for 12-bit samples.
            self.ok(unsafe { tj::tj3Decompress12(self.0, stream.as_ptr(), len, out.as_mut_ptr(), 0, format) })?;
            // libjpeg's 12-bit samples are 0..=4095 in a `short`: the bit pattern is the value.
            Ok(out.into_iter().flat_map(|v| (v as u16).to_ne_bytes()).collect())
        }
    }

    /// `Ok` for a TurboJPEG success code or the benign warning, else libjpeg's message.
    /// Warnings (`TJPARAM_STOPONWARNING` off) let the call finish, so the last one is known.
    fn ok(&self, rc: c_int) -> Result<(), String> {
        if rc == 0 {
            return Ok(());
        }
        // SAFETY: a valid handle; the string is NUL-terminated, owned by the library and read
        // at once on this thread (the global message is thread-local).
        let (code, msg) = unsafe { (tj::tj3GetErrorCode(self.0), CStr::from_ptr(tj::tj3GetErrorStr(self.0))) };
        let msg = msg.to_string_lossy().into_owned();
        match code as tj::TJERR {
            tj::TJERR_TJERR_WARNING if msg == BENIGN_WARNING => Ok(()),
            tj::TJERR_TJERR_WARNING => Err(format!("{msg} (corrupt or truncated data)")),
            _ => Err(msg),
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: the handle came from tj3Init and is destroyed exactly once.
        unsafe { tj::tj3Destroy(self.0) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_that_is_not_jpeg_is_an_error_not_a_crash() {
        let tj = Handle::new().unwrap();
        let err = tj.header(b"not a jpeg at all").unwrap_err();
        assert!(err.starts_with("Not a JPEG file"), "libjpeg's message is passed on: {err}");
        // SOI, then nothing usable: libjpeg reads it as a tables-only stream
        let err = tj.header(b"\xFF\xD8 no frame header").unwrap_err();
        assert_eq!(err, "no frame header (SOF marker) in the codestream");
    }
}
