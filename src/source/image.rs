//! What a decoder hands to the pixel chain: stored samples plus the technical attributes
//! needed to display them. This is also the allow-list of DICOM attributes cxrshard carries:
//! nothing else from a file (no patient, study or institution attribute) ever leaves the
//! decoder.

/// Stored sample values, as their raw bit patterns (sign extension happens in the LUT).
#[derive(Debug, Clone, PartialEq)]
pub enum Samples {
    /// 8 bits allocated.
    U8(Vec<u8>),
    /// 16 bits allocated (little-endian already resolved).
    U16(Vec<u16>),
}

impl Samples {
    /// Number of samples.
    pub fn len(&self) -> usize {
        match self {
            Samples::U8(v) => v.len(),
            Samples::U16(v) => v.len(),
        }
    }
    /// True when there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Photometric interpretation of a greyscale image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Photometric {
    /// Minimum value is displayed white: inverted after the VOI window.
    #[serde(rename = "MONOCHROME1")]
    Monochrome1,
    /// Minimum value is displayed black.
    #[serde(rename = "MONOCHROME2")]
    Monochrome2,
}

impl Photometric {
    /// The DICOM defined term.
    pub fn as_str(self) -> &'static str {
        match self {
            Photometric::Monochrome1 => "MONOCHROME1",
            Photometric::Monochrome2 => "MONOCHROME2",
        }
    }
}

/// DICOM VOI LUT Function (0028,1056).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VoiFunction {
    /// PS3.3 C.11.2.1.2.1 (the default).
    #[default]
    Linear,
    /// PS3.3 C.11.2.1.3.2.
    LinearExact,
    /// PS3.3 C.11.2.1.3.1.
    Sigmoid,
}

/// Where the image came from, which decides the fallback when no window is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// DICOM: no window → the image's own modality min..max.
    Dicom,
    /// Display-ready raster (PNG, ...): no window → the full stored range (pixels as-is).
    Raster,
}

/// A decoded greyscale frame with its technical attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceImage {
    /// Columns.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// Row-major samples, `width * height` of them.
    pub samples: Samples,
    /// Bits Stored (<= bits allocated).
    pub bits_stored: u16,
    /// Pixel Representation 1: two's complement.
    pub signed: bool,
    /// Photometric interpretation.
    pub photometric: Photometric,
    /// (slope, intercept) of the modality LUT, when present.
    pub rescale: Option<(f64, f64)>,
    /// (center, width) pairs from WindowCenter/WindowWidth, in file order.
    pub windows: Vec<(f64, f64)>,
    /// VOI LUT Function.
    pub voi_function: VoiFunction,
    /// DICOM or raster.
    pub kind: SourceKind,
    /// Transfer syntax UID for DICOM (technical, allow-listed).
    pub transfer_syntax: Option<String>,
}
