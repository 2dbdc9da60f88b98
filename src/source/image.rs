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
    U16(Words),
}

/// 16-bit samples: decoded into memory, or read in place from the file's bytes (a native
/// little-endian frame, 2-byte aligned, on a little-endian machine), which saves a copy of
/// every pixel. Either way they read as a `[u16]`.
#[derive(Clone)]
pub struct Words(WordStore);

#[derive(Clone)]
enum WordStore {
    Owned(Vec<u16>),
    Shared(bytes::Bytes),
}

impl Words {
    /// View `bytes` (little-endian 16-bit samples) in place; `None` when this machine is
    /// big-endian, or the bytes are not 2-byte aligned or of even length (copy them then).
    pub fn shared(bytes: bytes::Bytes) -> Option<Self> {
        let usable = cfg!(target_endian = "little") && bytemuck::try_cast_slice::<u8, u16>(&bytes).is_ok();
        usable.then_some(Words(WordStore::Shared(bytes)))
    }
    /// Whether the samples are a view into the file's bytes (no copy was made).
    pub fn is_shared(&self) -> bool {
        matches!(self.0, WordStore::Shared(_))
    }
}

impl std::ops::Deref for Words {
    type Target = [u16];
    fn deref(&self) -> &[u16] {
        match &self.0 {
            WordStore::Owned(v) => v,
            // Alignment and length were checked when the view was made.
            WordStore::Shared(b) => bytemuck::cast_slice(b),
        }
    }
}

impl From<Vec<u16>> for Words {
    fn from(v: Vec<u16>) -> Self {
        Words(WordStore::Owned(v))
    }
}

impl PartialEq for Words {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl std::fmt::Debug for Words {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Words({} samples{})", self.len(), if self.is_shared() { ", in place" } else { "" })
    }
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
    /// Bits per sample (8 or 16).
    pub fn sample_bits(&self) -> u16 {
        match self {
            Samples::U8(_) => 8,
            Samples::U16(_) => 16,
        }
    }
    /// How many distinct bit patterns a sample can take (the size of a lookup table over them).
    pub fn lut_len(&self) -> usize {
        1 << self.sample_bits()
    }
    /// The samples' memory (in this machine's byte order): a part of the input's bytes when
    /// they are read in place.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Samples::U8(v) => v,
            Samples::U16(v) => bytemuck::cast_slice(v),
        }
    }
}

/// Stored bit pattern → stored value: keep `bits_stored` low bits, sign-extend if signed.
pub fn stored_value(raw: u16, bits_stored: u16, signed: bool) -> i32 {
    let bits = bits_stored.clamp(1, 16) as u32;
    let v = (raw as u32) & ((1u32 << bits) - 1);
    if signed && v & (1 << (bits - 1)) != 0 {
        v as i32 - (1i32 << bits)
    } else {
        v as i32
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
    /// A VOI LUT Sequence item (PS3.3 C.11.2.1.1) was applied instead of a window; the
    /// recorded centre/width then describe the LUT's input range.
    Lut,
}

/// A lookup table from a Modality or VOI LUT Sequence item (PS3.3 C.11.1.1, C.11.2.1.1):
/// inputs below `first` map to `data[0]`, above the last entry to the last value.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Lut {
    /// First input value mapped (LUT Descriptor value 2).
    pub first: i32,
    /// Bits per entry (LUT Descriptor value 3): outputs are in `0..2^bits`.
    pub bits: u16,
    /// The entries (LUT Descriptor value 1 of them, 0 meaning 65536).
    pub data: Vec<u16>,
}

impl Lut {
    /// Look an input value up, clamping to the table's ends. Fractional inputs (a rescaled
    /// value) are truncated to the entry below, as pydicom's integer indexing does.
    pub fn lookup(&self, x: f64) -> f64 {
        let last = self.data.len().saturating_sub(1) as f64;
        let i = (x - self.first as f64).clamp(0.0, last) as usize;
        self.data.get(i).copied().unwrap_or(0) as f64
    }
    /// Largest value the descriptor allows: `2^bits − 1`.
    pub fn max_output(&self) -> f64 {
        ((1u64 << self.bits.clamp(1, 16)) - 1) as f64
    }
}

/// Pixel Padding Value (0028,0120) and optional Pixel Padding Range Limit (0028,0121), as raw
/// stored bit patterns: samples equal to (or between) them are not part of the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Padding {
    /// Pixel Padding Value.
    pub value: i32,
    /// Pixel Padding Range Limit: the other end of an inclusive padding range.
    pub limit: Option<i32>,
}

impl Padding {
    /// Whether a stored value (after masking and sign extension) is padding.
    pub fn contains(&self, stored: i32) -> bool {
        match self.limit {
            Some(l) => (self.value.min(l)..=self.value.max(l)).contains(&stored),
            None => stored == self.value,
        }
    }
}

/// The display-related attributes beyond window and rescale (all optional in a file).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DisplayLuts {
    /// Modality LUT Sequence item 0; replaces Rescale Slope/Intercept when present.
    pub modality: Option<Lut>,
    /// VOI LUT Sequence items, in file order.
    pub voi: Vec<Lut>,
    /// Presentation LUT Shape (2050,0020) is `INVERSE`.
    pub presentation_inverse: bool,
    /// Pixel padding, if the file declares it.
    pub padding: Option<Padding>,
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
    /// Modality/VOI LUT sequences, Presentation LUT Shape, pixel padding.
    pub luts: DisplayLuts,
    /// DICOM or raster.
    pub kind: SourceKind,
    /// Transfer syntax UID for DICOM (technical, allow-listed).
    pub transfer_syntax: Option<String>,
}
