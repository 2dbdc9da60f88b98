//! Build small DICOM files for tests with dicom-object (valid, or broken on purpose).

use dicom_core::value::PixelFragmentSequence;
use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::mem::InMemElement;
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};

/// What to put in a test DICOM.
pub struct Spec {
    pub rows: u16,
    pub cols: u16,
    pub samples_per_pixel: u16,
    pub photometric: &'static str,
    /// `None`: no Pixel Data element at all.
    pub pixels: Option<Vec<u16>>,
    /// Extra (tag, VR, value) attributes, e.g. patient data.
    pub extra: Vec<(Tag, VR, &'static str)>,
}

impl Spec {
    /// A valid 12-bit MONOCHROME2 image with a gradient and a window.
    pub fn gradient(rows: u16, cols: u16) -> Self {
        let pixels = (0..rows as usize * cols as usize).map(|i| ((i * 37) % 4096) as u16).collect();
        Self { rows, cols, samples_per_pixel: 1, photometric: "MONOCHROME2", pixels: Some(pixels), extra: vec![] }
    }
}

fn put(obj: &mut InMemDicomObject, tag: Tag, vr: VR, value: impl Into<PrimitiveValue>) {
    obj.put(DataElement::new(tag, vr, value.into()));
}

/// Encode a Part 10 file (Explicit VR Little Endian).
pub fn encode(spec: &Spec) -> Vec<u8> {
    let mut obj = attributes(spec);
    if let Some(p) = &spec.pixels {
        obj.put(DataElement::new(tags::PIXEL_DATA, VR::OW, PrimitiveValue::U16(p.iter().copied().collect())));
    }
    write(obj, uids::EXPLICIT_VR_LITTLE_ENDIAN)
}

/// Encode a Part 10 file (Explicit VR Little Endian) with more elements than `Spec` describes
/// (binary ones, such as palette LUTs).
pub fn encode_with(spec: &Spec, more: Vec<InMemElement>) -> Vec<u8> {
    let mut obj = attributes(spec);
    if let Some(p) = &spec.pixels {
        obj.put(DataElement::new(tags::PIXEL_DATA, VR::OW, PrimitiveValue::U16(p.iter().copied().collect())));
    }
    for e in more {
        obj.put(e);
    }
    write(obj, uids::EXPLICIT_VR_LITTLE_ENDIAN)
}

/// Encode a Part 10 file whose Pixel Data is one encapsulated fragment (a JPEG codestream, say)
/// in transfer syntax `ts`; `spec.pixels` is ignored.
pub fn encode_encapsulated(spec: &Spec, ts: &str, fragment: Vec<u8>) -> Vec<u8> {
    let mut obj = attributes(spec);
    let mut fragment = fragment;
    if fragment.len() % 2 == 1 {
        fragment.push(0); // items have even length
    }
    let pixels = PixelFragmentSequence::new(Vec::<u32>::new(), vec![fragment]);
    obj.put(DataElement::new(tags::PIXEL_DATA, VR::OB, pixels));
    write(obj, ts)
}

fn attributes(spec: &Spec) -> InMemDicomObject {
    let mut obj = InMemDicomObject::new_empty();
    put(&mut obj, tags::SOP_CLASS_UID, VR::UI, uids::DIGITAL_X_RAY_IMAGE_STORAGE_FOR_PRESENTATION);
    put(&mut obj, tags::SOP_INSTANCE_UID, VR::UI, "2.25.1234567890");
    put(&mut obj, tags::SAMPLES_PER_PIXEL, VR::US, spec.samples_per_pixel);
    put(&mut obj, tags::PHOTOMETRIC_INTERPRETATION, VR::CS, spec.photometric);
    put(&mut obj, tags::ROWS, VR::US, spec.rows);
    put(&mut obj, tags::COLUMNS, VR::US, spec.cols);
    put(&mut obj, tags::BITS_ALLOCATED, VR::US, 16u16);
    put(&mut obj, tags::BITS_STORED, VR::US, 12u16);
    put(&mut obj, tags::HIGH_BIT, VR::US, 11u16);
    put(&mut obj, tags::PIXEL_REPRESENTATION, VR::US, 0u16);
    put(&mut obj, tags::WINDOW_CENTER, VR::DS, "2048");
    put(&mut obj, tags::WINDOW_WIDTH, VR::DS, "4096");
    for (tag, vr, v) in &spec.extra {
        put(&mut obj, *tag, *vr, *v);
    }
    obj
}

fn write(obj: InMemDicomObject, ts: &str) -> Vec<u8> {
    let meta = FileMetaTableBuilder::new().transfer_syntax(ts);
    let file = obj.with_meta(meta).expect("meta group");
    let mut buf = Vec::new();
    file.write_all(&mut buf).expect("encode DICOM");
    buf
}

/// Replace the transfer syntax UID in the meta group with an unknown one of the same length.
pub fn with_unknown_transfer_syntax(mut bytes: Vec<u8>) -> Vec<u8> {
    let from = b"1.2.840.10008.1.2.1\0";
    let to = b"1.2.840.10008.9.9.9\0";
    let at = bytes.windows(from.len()).position(|w| w == from).expect("transfer syntax UID present");
    bytes[at..at + to.len()].copy_from_slice(to);
    bytes
}
