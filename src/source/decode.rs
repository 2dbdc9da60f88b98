//! Image decoders: DICOM through `dicom-object` + `dicom-pixeldata` (lossy JPEG through
//! libjpeg-turbo, see `source/jpeg.rs`), rasters through `image`.
//!
//! Decoders only read: they return stored values and the allow-listed technical attributes
//! (see [`super::header`]) in a [`SourceImage`]; all display maths (modality LUT, VOI,
//! inversion, padding) lives in `transform::window`. `dicom-pixeldata` is built without rayon
//! (no nested thread pool) and only its frame decoder is used, never its conversion helpers
//! (which would apply or skip LUTs and invert MONOCHROME1 on their own), so nothing is applied
//! twice. Every failure is an [`InputError`] saying what was found and what was expected,
//! naming the transfer syntax when a codec is missing or fails; nothing here panics on data.

use super::header::{reject, Colour, Header};
pub use super::header::{transfer_syntax_name, MAX_PIXELS};
use super::image::{Photometric, Samples, SourceImage, SourceKind, VoiFunction, Words};
use super::lengths::PixelData;
use crate::config::{ColorPolicy, ImagePlan, MultiFrame};
use crate::error::InputError;
use dicom_dictionary_std::tags;
use dicom_object::file::ReadPreamble;
use dicom_object::{DefaultDicomObject, OpenFileOptions};
use dicom_pixeldata::PixelDecoder;

/// The pipeline-file choices a DICOM decoder needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Multi-frame files: frame 0 or reject.
    pub multiframe: MultiFrame,
    /// Colour files: reject or convert to grey.
    pub color: ColorPolicy,
}

impl DecodeOptions {
    /// The decoder settings of an image plan.
    pub fn from_plan(plan: &ImagePlan) -> Self {
        DecodeOptions { multiframe: plan.multiframe, color: plan.color }
    }
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions { multiframe: MultiFrame::First, color: ColorPolicy::Reject }
    }
}

/// Decode frame 0 of a DICOM Part 10 file held in memory (samples are copied out of `bytes`).
pub fn decode_dicom(bytes: &[u8], opts: &DecodeOptions) -> Result<SourceImage, InputError> {
    decode(bytes, None, opts)
}

/// [`decode_dicom`] for a file in a shared buffer: the 16-bit samples of a native little-endian
/// frame are then read in place (see [`super::image::Words`]) instead of copied.
pub fn decode_dicom_bytes(bytes: &bytes::Bytes, opts: &DecodeOptions) -> Result<SourceImage, InputError> {
    decode(bytes, Some(bytes), opts)
}

/// Decode frame 0 of a DICOM Part 10 file held in memory.
///
/// The header (everything before Pixel Data) is parsed by `dicom-object` and checked first, so
/// colour and multi-frame files are accepted or rejected per `opts` before any decoding. For
/// greyscale native little-endian files the samples are then read straight from the file's
/// bytes; every other case goes through `dicom-pixeldata`'s frame decoder.
fn decode(bytes: &[u8], shared: Option<&bytes::Bytes>, opts: &DecodeOptions) -> Result<SourceImage, InputError> {
    // Lengths past the end of the file, and deflated data sets, are checked before the parser
    // makes room for any value (`lengths`, `deflated`).
    let layout = super::lengths::check(bytes)?;
    let inflated = super::deflated::inflated_size(bytes, layout.meta.as_ref())?;
    let head = OpenFileOptions::new()
        .read_preamble(ReadPreamble::Auto)
        .read_until(tags::PIXEL_DATA)
        .from_reader(bytes)
        .map_err(|e| reject(format!("not a readable DICOM Part 10 file: {}", chain(&e))))?;
    let header = Header::read(&head)?;
    drop(head);
    if let Some(inflated) = inflated {
        super::deflated::check_declared(inflated, &header)?;
    }
    check_policies(&header, opts)?;
    let (samples, photometric, bits_stored) = match header.colour {
        Colour::Grey(photometric) => {
            let (samples, bits) = stored_samples(bytes, shared, &header, layout.pixel_data)?;
            (samples, photometric, bits)
        }
        Colour::Colour => {
            let d = decode_frame(bytes, &header)?;
            let grey = super::colour::luma(&d.data, &header, &d.photometric, d.planar)?;
            let bits = grey.sample_bits();
            (grey, Photometric::Monochrome2, bits)
        }
        Colour::Palette => {
            let (indices, bits) = stored_samples(bytes, shared, &header, layout.pixel_data)?;
            let rgb = header.palette.as_ref().ok_or_else(|| reject("PALETTE COLOR without palette LUTs"))?;
            let grey = super::colour::palette_luma(&indices, bits, header.signed, rgb);
            let bits = grey.sample_bits();
            (grey, Photometric::Monochrome2, bits)
        }
    };
    let colour = !matches!(header.colour, Colour::Grey(_));
    Ok(SourceImage {
        width: header.cols,
        height: header.rows,
        samples,
        bits_stored,
        signed: header.signed && !colour,
        photometric,
        rescale: if colour { None } else { header.rescale },
        // VOI applies to greyscale images: a window in a colour file describes no grey of ours
        windows: if colour { Vec::new() } else { header.windows },
        voi_function: header.voi_function,
        luts: if colour { Default::default() } else { header.luts },
        kind: SourceKind::Dicom,
        transfer_syntax: Some(header.transfer_syntax),
    })
}

/// One-sample frames (greyscale or palette indices): the stored samples and how many low bits
/// of each are the value (`BitsStored`, or wider where a lossy codec may overshoot it).
fn stored_samples(
    bytes: &[u8],
    shared: Option<&bytes::Bytes>,
    header: &Header,
    pixel_data: Option<PixelData>,
) -> Result<(Samples, u16), InputError> {
    let mut bits_stored = header.bits_stored;
    let in_place = |range: &std::ops::Range<usize>| {
        let words = shared.filter(|_| header.bits_allocated == 16).map(|b| b.slice(range.clone()));
        words.and_then(Words::shared).map(Samples::U16)
    };
    let samples = match native_pixel_range(header, pixel_data) {
        Some(range) => match in_place(&range) {
            Some(samples) => samples,
            None => samples_from_bytes(&bytes[range], header, Endian::Little)?,
        },
        None => {
            let d = decode_frame(bytes, header)?;
            if let Some(bits) = d.value_bits.filter(|_| !header.signed) {
                bits_stored = bits_stored.max(bits);
            }
            samples_from_bytes(&d.data, header, Endian::Native)?
        }
    };
    if super::codestream::is_jpeg2000(&header.transfer_syntax) {
        bits_stored = j2k_bits(&samples, header);
    }
    Ok((samples, bits_stored))
}

fn check_policies(h: &Header, opts: &DecodeOptions) -> Result<(), InputError> {
    if h.frames > 1 && opts.multiframe == MultiFrame::Reject {
        return Err(reject(format!(
            "multi-frame file ({} frames) and image.multiframe = \"reject\" (set \"first\" to use frame 0)",
            h.frames
        )));
    }
    if h.colour == Colour::Colour && opts.color == ColorPolicy::Reject {
        return Err(reject(format!(
            "colour image (PhotometricInterpretation {}, 3 samples per pixel) and image.color = \"reject\" \
             (set \"luma\" to convert to grey)",
            h.photometric_name
        )));
    }
    if h.colour == Colour::Palette && opts.color == ColorPolicy::Reject {
        return Err(reject(
            "colour image (PhotometricInterpretation PALETTE COLOR) and image.color = \"reject\" \
             (set \"luma\" to convert to grey)",
        ));
    }
    Ok(())
}

/// Frame 0 as a codec decoded it.
pub(super) struct Decoded {
    /// Samples in native byte order, `BitsAllocated` wide.
    pub(super) data: Vec<u8>,
    /// Photometric interpretation of `data`.
    pub(super) photometric: String,
    /// Colour planes one after the other.
    pub(super) planar: bool,
    /// Bits of each value when the codec may reconstruct values above `BitsStored` (lossy JPEG:
    /// its precision); unsigned values are then taken at this width, as pydicom gives them.
    pub(super) value_bits: Option<u16>,
}

const RLE_LOSSLESS: &str = "1.2.840.10008.1.2.5";

/// The general path: parse the whole file and decode frame 0 with the transfer syntax's codec,
/// libjpeg-turbo for lossy JPEG, `openjp2` for JPEG 2000 and HTJ2K (`jpeg2000`), RLE Lossless
/// decoded here (`rle`), `dicom-pixeldata` for everything else.
fn decode_frame(bytes: &[u8], header: &Header) -> Result<Decoded, InputError> {
    let ts = transfer_syntax_name(&header.transfer_syntax);
    let obj = OpenFileOptions::new()
        .read_preamble(ReadPreamble::Auto)
        .from_reader(bytes)
        .map_err(|e| reject(format!("cannot read the data set (transfer syntax {ts}): {}", chain(&e))))?;
    let Some(pixels) = obj.get(tags::PIXEL_DATA) else {
        return Err(reject("no Pixel Data (7FE0,0010) element"));
    };
    if super::jpeg::handles(&header.transfer_syntax) {
        let (Some(fragments), Some(offsets)) = (pixels.fragments(), pixels.value().offset_table()) else {
            return Err(reject(format!("transfer syntax {ts}: Pixel Data is not encapsulated (no fragments)")));
        };
        return super::jpeg::decode(fragments, offsets, header);
    }
    let rle = header.transfer_syntax == RLE_LOSSLESS;
    if !rle && !super::codestream::checks(&header.transfer_syntax) {
        return decode_with_pixeldata(&obj, header);
    }
    let offsets = pixels.value().offset_table().unwrap_or_default();
    let frame = pixels.fragments().and_then(|f| super::codestream::frame0(f, offsets, header.frames));
    if rle {
        let Some(frame) = frame else {
            return Err(reject(format!("transfer syntax {ts}: Pixel Data is not encapsulated (no fragments)")));
        };
        return super::rle::decode(&frame, header);
    }
    if let Some(frame) = frame {
        super::codestream::check(&frame, header)?;
        if super::codestream::is_jpeg2000(&header.transfer_syntax) {
            return super::jpeg2000::decode(&frame, header);
        }
    }
    decode_with_pixeldata(&obj, header)
}

/// Run `codec` on a frame of transfer syntax `ts`: a panicking codec must not take the worker
/// down, so a panic becomes a reject like any error.
///
/// # Errors
/// The codec panicked.
pub(super) fn guarded<T>(ts: &str, codec: impl FnOnce() -> T) -> Result<T, InputError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(codec))
        .map_err(|_| reject(format!("the decoder for transfer syntax {ts} panicked on this file")))
}

/// Frame 0 through `dicom-pixeldata`'s frame decoder.
fn decode_with_pixeldata(obj: &DefaultDicomObject, header: &Header) -> Result<Decoded, InputError> {
    let ts = transfer_syntax_name(&header.transfer_syntax);
    let decoded = guarded(&ts, || obj.decode_pixel_data_frame(0))?
        .map_err(|e| reject(format!("cannot decode Pixel Data (transfer syntax {ts}): {}", chain(&e))))?;
    if decoded.bits_allocated() != header.bits_allocated {
        return Err(reject(format!(
            "transfer syntax {ts}: the codec produced {}-bit samples, the header says BitsAllocated {}",
            decoded.bits_allocated(),
            header.bits_allocated
        )));
    }
    let encapsulated = obj.get(tags::PIXEL_DATA).is_some_and(|e| e.fragments().is_some());
    // JPEG-family codecs return RGB; native frames keep the header's colour model
    // (`dicom-pixeldata` labels every decoded 3-sample frame RGB).
    let photometric = if encapsulated {
        decoded.photometric_interpretation().as_str().to_string()
    } else {
        header.photometric_name.clone()
    };
    let planar = !encapsulated && header.planar;
    Ok(Decoded { data: decoded.into_data(), photometric, planar, value_bits: None })
}

/// An error and its sources, `a: b: c` (codec errors hide the useful part in the source).
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let msg = s.to_string();
        if !out.contains(&msg) {
            out = format!("{out}: {msg}");
        }
        cur = s.source();
    }
    out
}

/// How many low bits of a JPEG 2000 (or HTJ2K) sample are the value. The codec writes each component's
/// integers at the full allocated width (sign-extended when the codestream is signed), and a lossy
/// reconstruction may overshoot `BitsStored`, so those values are taken whole, as pydicom does.
/// A codestream that says unsigned while PixelRepresentation says signed (seen in the wild:
/// no sample is negative at full width) gets the usual BitsStored sign extension instead.
fn j2k_bits(samples: &Samples, h: &Header) -> u16 {
    let any_negative = match samples {
        Samples::U8(v) => v.iter().any(|&s| (s as i8) < 0),
        Samples::U16(v) => v.iter().any(|&s| (s as i16) < 0),
    };
    if !h.signed || any_negative {
        h.bits_allocated
    } else {
        h.bits_stored
    }
}

const IMPLICIT_VR_LE: &str = "1.2.840.10008.1.2";
const EXPLICIT_VR_LE: &str = "1.2.840.10008.1.2.1";

/// Where frame 0's samples are in a native little-endian file: in the value of its top-level
/// Pixel Data element as the length walk found it (`lengths`), if that has VR `OB` or `OW` (in
/// explicit VR) and covers one frame. `None` sends the file to the general decoder, which
/// handles everything else.
fn native_pixel_range(h: &Header, pixel_data: Option<PixelData>) -> Option<std::ops::Range<usize>> {
    let explicit = match h.transfer_syntax.as_str() {
        EXPLICIT_VR_LE => true,
        IMPLICIT_VR_LE => false,
        _ => return None,
    };
    let PixelData { vr, start, end } = pixel_data?;
    let vr_fits = if explicit { matches!(vr.as_ref(), Some(b"OB" | b"OW")) } else { vr.is_none() };
    let need = h.rows as usize * h.cols as usize * h.sample_bytes();
    (vr_fits && end - start >= need).then_some(start..start + need)
}

/// Byte order of 16-bit samples: the file's own bytes (fast path) or `dicom-pixeldata`'s output.
#[derive(Clone, Copy)]
enum Endian {
    Little,
    Native,
}

fn samples_from_bytes(data: &[u8], h: &Header, endian: Endian) -> Result<Samples, InputError> {
    let n = h.rows as usize * h.cols as usize;
    let need = n * h.sample_bytes();
    if data.len() < need {
        return Err(reject(format!(
            "Pixel Data holds {} bytes, expected at least {need} for {}x{} at {} bits allocated (transfer syntax {})",
            data.len(),
            h.rows,
            h.cols,
            h.bits_allocated,
            transfer_syntax_name(&h.transfer_syntax)
        )));
    }
    Ok(match h.bits_allocated {
        8 => Samples::U8(data[..n].to_vec()),
        _ => Samples::U16(
            data[..need]
                .chunks_exact(2)
                .map(|c| match endian {
                    Endian::Little => u16::from_le_bytes([c[0], c[1]]),
                    Endian::Native => u16::from_ne_bytes([c[0], c[1]]),
                })
                .collect::<Vec<_>>()
                .into(),
        ),
    })
}

/// Decode a raster image (PNG, JPEG, ...) as greyscale: 8- and 16-bit grey are kept as is;
/// colour is converted to luma (Rec. 709 weights, the `image` crate's conversion). 8-bit grey
/// PNGs (the public release's) take a faster path with the same pixels (`source::png`).
pub fn decode_raster(bytes: &[u8]) -> Result<SourceImage, InputError> {
    use image::DynamicImage;
    if let Some((w, h, pixels)) = super::png::decode_grey8(bytes, MAX_PIXELS) {
        return Ok(raster(w, h, Samples::U8(pixels), 8));
    }
    let reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| reject(format!("cannot read image header: {e}")))?;
    let (w, h) = reader.into_dimensions().map_err(|e| reject(format!("not a readable image: {e}")))?;
    if w == 0 || h == 0 || w as u64 * h as u64 > MAX_PIXELS {
        return Err(reject(format!("image is {h}x{w}, expected 1..={MAX_PIXELS} pixels")));
    }
    let img = image::load_from_memory(bytes).map_err(|e| reject(format!("cannot decode image: {e}")))?;
    let (samples, bits) = match img {
        DynamicImage::ImageLuma8(b) => (Samples::U8(b.into_raw()), 8),
        DynamicImage::ImageLuma16(b) => (Samples::U16(b.into_raw().into()), 16),
        DynamicImage::ImageLumaA16(_) | DynamicImage::ImageRgb16(_) | DynamicImage::ImageRgba16(_) => {
            (Samples::U16(img.into_luma16().into_raw().into()), 16)
        }
        other => (Samples::U8(other.into_luma8().into_raw()), 8),
    };
    Ok(raster(w, h, samples, bits))
}

/// A decoded raster image: grey, unsigned, no DICOM display attributes.
fn raster(width: u32, height: u32, samples: Samples, bits: u16) -> SourceImage {
    SourceImage {
        width,
        height,
        samples,
        bits_stored: bits,
        signed: false,
        photometric: Photometric::Monochrome2,
        rescale: None,
        windows: Vec::new(),
        voi_function: VoiFunction::Linear,
        luts: Default::default(),
        kind: SourceKind::Raster,
        transfer_syntax: None,
    }
}
