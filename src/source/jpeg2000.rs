//! JPEG 2000 and HTJ2K frames, decoded with `openjp2` (through `jpeg2k`): the codec
//! `dicom-pixeldata` uses for them, called here directly.
//!
//! `dicom-pixeldata`'s adapter refuses any frame of 16 MiB or more whose codestream is compressed
//! more than 64:1 ("Could not allocate frame"), its guard against a codestream that declares a
//! larger image than the header. A CXR-sized file compressed 100:1 (`gdcmconv --j2k --lossy -r
//! 100`: 173 KB for 17 MB of samples), which pydicom decodes, was therefore a reject. Here the
//! codestream's own `SIZ` has already been checked against Rows, Columns and SamplesPerPixel
//! (`codestream::check`), so the decoded image is the header's, whatever the ratio. The samples
//! are laid out as the adapter lays them out (components interleaved, each value cut to
//! BitsAllocated), so the values are the same.

use super::decode::{guarded, Decoded};
use super::header::{reject, transfer_syntax_name, Header};
use crate::error::InputError;
use jpeg2k::Image;

/// Decode `frame`, frame 0's JPEG 2000 codestream (raw or in a JP2 box), of the image `h`
/// describes; `codestream::check` must have passed on it.
///
/// # Errors
/// A codec failure or panic ([`guarded`]), a BitsAllocated other than 8 or 16, or components of
/// another size than the header's.
pub(super) fn decode(frame: &[u8], h: &Header) -> Result<Decoded, InputError> {
    let ts = transfer_syntax_name(&h.transfer_syntax);
    let fail = |what: String| reject(format!("cannot decode Pixel Data (transfer syntax {ts}): {what}"));
    let width = match h.bits_allocated {
        8 => 1,
        16 => 2,
        other => return Err(fail(format!("BitsAllocated {other} (8 or 16 expected)"))),
    };
    let image = guarded(&ts, || Image::from_bytes(frame))?.map_err(|e| fail(format!("JPEG 2000 decoder: {e}")))?;
    let (pixels, spp) = (h.rows as usize * h.cols as usize, usize::from(h.samples_per_pixel));
    let components = image.components();
    if components.len() < spp {
        return Err(fail(format!("{} JPEG 2000 components, SamplesPerPixel {spp}", components.len())));
    }
    let mut data = vec![0u8; pixels * spp * width];
    for (c, component) in components.iter().take(spp).enumerate() {
        let values = component.data();
        if values.len() != pixels {
            return Err(fail(format!(
                "JPEG 2000 component {c} is {}x{} (rows x columns), the header says {}x{}",
                component.height(),
                component.width(),
                h.rows,
                h.cols
            )));
        }
        let samples = data.chunks_exact_mut(width).skip(c).step_by(spp);
        if width == 2 {
            samples.zip(values).for_each(|(out, &v)| out.copy_from_slice(&(v as u16).to_ne_bytes()));
        } else {
            samples.zip(values).for_each(|(out, &v)| out[0] = v as u8);
        }
    }
    // as `dicom-pixeldata` labels them: three components are RGB (the codec undoes the
    // codestream's colour transform), one keeps the header's interpretation
    let photometric = if spp == 3 { "RGB".to_string() } else { h.photometric_name.clone() };
    Ok(Decoded { data, photometric, planar: false, value_bits: None })
}
