//! The DICOM display chain (PS3.3 C.11), in the standard's order:
//! stored value (BitsStored mask, sign extension) → modality LUT (Modality LUT Sequence, else
//! rescale slope/intercept) → VOI (VOI LUT Sequence, else window with LINEAR, LINEAR_EXACT or
//! SIGMOID) → inversion (MONOCHROME1 or Presentation LUT Shape INVERSE, once) → optional min–max
//! normalisation → pixel padding to 0 → output dtype.
//!
//! A sample's output depends only on its stored value, so the whole chain is computed in `f64`
//! once per stored value (2^BitsStored of them), spread over a lookup table of every bit
//! pattern (65,536 entries at most), and the image is converted in one pass through it. The
//! window output is in 0..=1 (the standard's y_min..y_max); it is scaled to 0..=255 or
//! 0..=65535 with rounding, or kept as `f32`.

use crate::config::{DType, ImagePlan, Normalize, WindowChoice};
use crate::error::{InputError, Stage};
pub use crate::source::image::stored_value;
use crate::source::image::{Lut, Photometric, Samples, SourceImage, SourceKind, VoiFunction};
use crate::transform::affine::Affine;
use crate::transform::staged::{self, ReadAt};

/// A plane of output-typed samples.
#[derive(Debug, Clone, PartialEq)]
pub enum Plane {
    /// `uint8` samples.
    U8(Vec<u8>),
    /// `uint16` samples.
    U16(Vec<u16>),
    /// `float32` samples in 0..=1.
    F32(Vec<f32>),
}

/// Where the applied window came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowSource {
    /// The file's WindowCenter/WindowWidth.
    File,
    /// The pipeline file's fixed window.
    Fixed,
    /// The image's own modality min..max.
    MinMax,
    /// The full stored range (display-ready rasters without a window).
    FullRange,
}

impl WindowSource {
    /// Name used in outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            WindowSource::File => "file",
            WindowSource::Fixed => "fixed",
            WindowSource::MinMax => "minmax",
            WindowSource::FullRange => "full_range",
        }
    }
}

/// The window actually applied to an image (recorded per row).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AppliedWindow {
    /// Centre in modality units.
    pub center: f64,
    /// Width in modality units.
    pub width: f64,
    /// VOI function used.
    pub function: VoiFunction,
    /// Where it came from.
    pub source: WindowSource,
}

/// The VOI function of PS3.3 C.11.2.1.2 / C.11.2.1.3 with y range 0..=1.
pub fn voi(x: f64, center: f64, width: f64, f: VoiFunction) -> f64 {
    Voi::new(center, width, f).at(x)
}

/// [`voi`] of every value in place, the function's case chosen once.
fn voi_all(values: &mut [f64], center: f64, width: f64, f: VoiFunction) {
    match Voi::new(center, width, f) {
        // The common case in a loop of its own, with no other case to branch to.
        Voi::Ramp(c, w) => values.iter_mut().for_each(|x| *x = ramp(*x, c, w)),
        other => values.iter_mut().for_each(|x| *x = other.at(*x)),
    }
}

/// A VOI function's case for one centre and width, with the parameters PS3.3 derives from them.
#[derive(Clone, Copy)]
enum Voi {
    /// [`ramp`] over `(c, w)`: LINEAR (with its shifted centre and width), LINEAR_EXACT, and
    /// a LUT's recorded centre/width, which span its input range.
    Ramp(f64, f64),
    /// LINEAR of width 1: a threshold at `c` (the formula's limit).
    Threshold(f64),
    /// SIGMOID with its centre and width.
    Sigmoid(f64, f64),
}

impl Voi {
    fn new(center: f64, width: f64, f: VoiFunction) -> Voi {
        match f {
            VoiFunction::Linear => {
                let (c, w) = (center - 0.5, width - 1.0);
                if w <= 0.0 {
                    Voi::Threshold(c)
                } else {
                    Voi::Ramp(c, w)
                }
            }
            VoiFunction::LinearExact | VoiFunction::Lut => Voi::Ramp(center, width),
            VoiFunction::Sigmoid => Voi::Sigmoid(center, width),
        }
    }

    fn at(self, x: f64) -> f64 {
        match self {
            Voi::Ramp(c, w) => ramp(x, c, w),
            Voi::Threshold(c) => {
                if x <= c {
                    0.0
                } else {
                    1.0
                }
            }
            Voi::Sigmoid(c, w) => 1.0 / (1.0 + (-4.0 * (x - c) / w).exp()),
        }
    }
}

/// 0 up to `c - w/2`, 1 above `c + w/2`, linear between: LINEAR (with PS3.3's shifted `c`, `w`)
/// and LINEAR_EXACT alike.
fn ramp(x: f64, c: f64, w: f64) -> f64 {
    if x <= c - w / 2.0 {
        0.0
    } else if x > c + w / 2.0 {
        1.0
    } else {
        (x - c) / w + 0.5
    }
}

/// `x.round()` (half away from zero) without the library call it compiles to on x86-64's
/// baseline, and without branches, so a table's entries are rounded several at a time: below
/// 2^52, adding and taking away 2^52 rounds `|x|` half to even, and a tie that went down (to
/// exactly half below `|x|`) goes up instead. Larger magnitudes, infinities and NaN are
/// returned as they are, as `round` returns them.
#[inline(always)]
fn round_half_away(x: f64) -> f64 {
    const TWO_52: f64 = 4_503_599_627_370_496.0;
    let a = x.abs();
    let even = (a + TWO_52) - TWO_52;
    let away = even + if a - even == 0.5 { 1.0 } else { 0.0 };
    (if a < TWO_52 { away } else { a }).copysign(x)
}

/// Run the display chain on a decoded image, giving a native-size plane of the output dtype.
pub fn apply(img: &SourceImage, plan: &ImagePlan) -> Result<(Plane, AppliedWindow), InputError> {
    let (table, window) = table(img, plan)?;
    Ok((table.map(&img.samples), window))
}

/// The display chain as a lookup table: the output sample for every bit pattern a sample can
/// take (`Samples::lut_len` entries), for mapping the image ([`Table::map`]) or for a resize
/// that looks samples up itself (`transform::area`).
pub fn table(img: &SourceImage, plan: &ImagePlan) -> Result<(Table, AppliedWindow), InputError> {
    table_reading(img, plan, None)
}

/// [`table`], reading the samples for a min..max through `reader` in bands when one is given
/// (`transform::staged`: a mapped file's sample pages are then not touched).
///
/// # Errors
/// As [`table`], and a failed read (`Stage::Read`).
pub fn table_reading(
    img: &SourceImage,
    plan: &ImagePlan,
    reader: Option<&dyn ReadAt>,
) -> Result<(Table, AppliedWindow), InputError> {
    let stored = |raw: u16| stored_value(raw, img.bits_stored, img.signed);
    let modality = |raw: u16| {
        let s = stored(raw) as f64;
        match (&img.luts.modality, img.rescale) {
            (Some(lut), _) => lut.lookup(s),
            (None, Some((slope, intercept))) => s * slope + intercept,
            (None, None) => s,
        }
    };
    let is_padding = |raw: usize| img.luts.padding.is_some_and(|p| p.contains(stored(raw as u16)));
    // A sample's display value depends only on its low `bits` bits (its stored value), so the
    // chain runs once per stored value (16,384 for 14-bit data), not once per bit pattern.
    let bits = img.bits_stored.clamp(1, 16).min(img.samples.sample_bits());
    let stored_values = 1usize << bits;
    let read_failed = |e: std::io::Error| {
        InputError::new(
            Stage::Read,
            format!("reading the pixel data from the file: {e} (was it changed during the run?)"),
        )
    };
    // Which stored values occur costs a pass over every pixel: done only when a min..max needs it.
    let present = std::cell::OnceCell::new();
    let present = || -> Result<&Vec<bool>, InputError> {
        if let Some(p) = present.get() {
            return Ok(p);
        }
        let mut p = presence(&img.samples, img.width as usize, stored_values, reader).map_err(read_failed)?;
        // Padding is not image: it takes no part in min..max statistics and is written as 0.
        p.iter_mut().enumerate().filter(|(raw, _)| is_padding(*raw)).for_each(|(_, p)| *p = false);
        Ok(present.get_or_init(|| p))
    };
    // Without a modality LUT or padding the modality is monotonic in the stored value, so
    // its min..max are those of the least and greatest stored value (one vectorised pass).
    let flip = if img.signed && bits == img.bits_stored.clamp(1, 16) { 1u16 << (bits - 1) } else { 0 };
    let extremes = || {
        stored_extremes(&img.samples, img.width as usize, (stored_values - 1) as u16, flip, reader).map_err(read_failed)
    };
    let range = || {
        if img.luts.modality.is_none() && img.luts.padding.is_none() {
            if let Some(range) = monotonic_range(extremes()?, modality) {
                return Ok(range);
            }
        }
        Ok(modality_range(present()?, modality))
    };
    let (window, lut) = choose_window(img, plan, range)?;
    let invert = img.photometric == Photometric::Monochrome1 || img.luts.presentation_inverse;
    // The chain one step at a time over all stored values (modality, VOI, inversion), the VOI
    // function's case chosen once (a table is made per image; with the rounding and the fit
    // check below, 94 → 61 µs for the `table_only` bench's image, the same values).
    let mut display: Vec<f64> = (0..stored_values).map(|raw| modality(raw as u16)).collect();
    match lut {
        Some(lut) => display.iter_mut().for_each(|m| *m = (lut.lookup(*m) / lut.max_output()).clamp(0.0, 1.0)),
        None => voi_all(&mut display, window.center, window.width, window.function),
    }
    if invert {
        display.iter_mut().for_each(|v| *v = 1.0 - *v);
    }
    if plan.normalize == Normalize::MinMax {
        stretch(&mut display, present()?);
    }
    if img.luts.padding.is_some() {
        display.iter_mut().enumerate().filter(|(raw, _)| is_padding(*raw)).for_each(|(_, v)| *v = 0.0);
    }
    Ok((Table::new(&img.samples, &display, plan.dtype), window))
}

/// The window to apply and, when it comes from a VOI LUT Sequence item, that LUT. With
/// `window = "file"` a VOI LUT Sequence is preferred over WindowCenter/WindowWidth (as
/// pydicom's `apply_voi_lut` does); `window_index` picks the item or value.
fn choose_window<'a>(
    img: &'a SourceImage,
    plan: &ImagePlan,
    range: impl Fn() -> Result<(f64, f64), InputError>,
) -> Result<(AppliedWindow, Option<&'a Lut>), InputError> {
    let from_range = |(lo, hi): (f64, f64), source| AppliedWindow {
        center: (lo + hi) / 2.0,
        width: (hi - lo).max(f64::MIN_POSITIVE),
        function: VoiFunction::LinearExact,
        source,
    };
    let file_lut = img.luts.voi.get(plan.window_index).or(img.luts.voi.first());
    if let (WindowChoice::File, Some(lut)) = (plan.window, file_lut) {
        let n = lut.data.len() as f64;
        let w = AppliedWindow {
            center: lut.first as f64 + n / 2.0,
            width: n,
            function: VoiFunction::Lut,
            source: WindowSource::File,
        };
        return Ok((w, Some(lut)));
    }
    let w = match plan.window {
        WindowChoice::Fixed { center, width } => {
            AppliedWindow { center, width, function: img.voi_function, source: WindowSource::Fixed }
        }
        WindowChoice::MinMax => from_range(range()?, WindowSource::MinMax),
        WindowChoice::File => match img.windows.get(plan.window_index).or(img.windows.first()) {
            Some(&(center, width)) => {
                AppliedWindow { center, width, function: img.voi_function, source: WindowSource::File }
            }
            None if img.kind == SourceKind::Raster => {
                let max = ((1u32 << img.bits_stored.clamp(1, 16)) - 1) as f64;
                from_range((0.0, max), WindowSource::FullRange)
            }
            None => from_range(range()?, WindowSource::MinMax),
        },
    };
    if !(w.width > 0.0 && w.width.is_finite() && w.center.is_finite()) {
        return Err(InputError::new(
            Stage::Window,
            format!("window center {:?} / width {:?}: expected finite values, width > 0", w.center, w.width),
        ));
    }
    Ok((w, None))
}

/// Which stored values occur in the image: one flag per value of the low bits (`stored_values`
/// is a power of two), indexed like the display table. With a `reader` the samples (rows of
/// `width`) are read through it in bands, as for [`stored_extremes`].
fn presence(
    samples: &Samples,
    width: usize,
    stored_values: usize,
    reader: Option<&dyn ReadAt>,
) -> std::io::Result<Vec<bool>> {
    fn mark<T: bytemuck::Pod + Into<usize>>(
        v: &[T],
        width: usize,
        p: &mut [bool],
        reader: Option<&dyn ReadAt>,
    ) -> std::io::Result<()> {
        let mask = p.len() - 1;
        staged::for_each_band(v, width, reader, &mut |b: &[T]| b.iter().for_each(|&s| p[s.into() & mask] = true))
    }
    let mut p = vec![false; stored_values];
    match samples {
        Samples::U8(v) => mark(v, width, &mut p, reader)?,
        Samples::U16(v) => mark(v, width, &mut p, reader)?,
    }
    Ok(p)
}

/// The least and greatest bit pattern of the samples' low bits (`mask`) in stored-value order:
/// `flip` is the sign bit of signed stored values (XOR with it orders two's complement values
/// as unsigned ones), else 0. `None` without samples. A min/max reduction, which the compiler
/// vectorises, where marking each value present stores to a table per sample. With a `reader`
/// the samples (rows of `width`) are read through it in bands.
fn stored_extremes(
    samples: &Samples,
    width: usize,
    mask: u16,
    flip: u16,
    reader: Option<&dyn ReadAt>,
) -> std::io::Result<Option<(u16, u16)>> {
    fn fold<T: bytemuck::Pod + Into<u16>>(
        v: &[T],
        width: usize,
        mask: u16,
        flip: u16,
        reader: Option<&dyn ReadAt>,
    ) -> std::io::Result<Option<(u16, u16)>> {
        if v.is_empty() {
            return Ok(None);
        }
        let (mut lo, mut hi) = (u16::MAX, 0u16);
        let mut band = |b: &[T]| {
            (lo, hi) = b.iter().fold((lo, hi), |(lo, hi), &s| {
                let key = (s.into() & mask) ^ flip;
                (lo.min(key), hi.max(key))
            });
        };
        staged::for_each_band(v, width, reader, &mut band)?;
        Ok(Some((lo ^ flip, hi ^ flip)))
    }
    match samples {
        Samples::U8(v) => fold(v, width, mask, flip, reader),
        Samples::U16(v) => fold(v, width, mask, flip, reader),
    }
}

/// The min..max of a monotonic `modality` over the stored values between `extremes`: its values
/// at the two ends. `None` (use the values present) without samples or if either is not finite.
fn monotonic_range(extremes: Option<(u16, u16)>, modality: impl Fn(u16) -> f64) -> Option<(f64, f64)> {
    let (lo, hi) = extremes?;
    let (a, b) = (modality(lo), modality(hi));
    (a.is_finite() && b.is_finite()).then(|| (a.min(b), a.max(b)))
}

fn modality_range(present: &[bool], modality: impl Fn(u16) -> f64) -> (f64, f64) {
    present
        .iter()
        .enumerate()
        .filter(|(_, &p)| p)
        .map(|(raw, _)| modality(raw as u16))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), m| (lo.min(m), hi.max(m)))
}

/// Stretch the display values that occur in the image to 0..=1 (constant image → 0).
fn stretch(display: &mut [f64], present: &[bool]) {
    let (lo, hi) = display
        .iter()
        .zip(present)
        .filter(|(_, &p)| p)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (&v, _)| (lo.min(v), hi.max(v)));
    let span = hi - lo;
    for v in display.iter_mut() {
        *v = if span > 0.0 { ((*v - lo) / span).clamp(0.0, 1.0) } else { 0.0 };
    }
}

/// The display chain's output for every bit pattern a sample can take, and, when one
/// reproduces it exactly, its affine form (evaluated eight samples at a time by the resize).
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Output samples indexed by a sample's bit pattern: 256 entries for 8-bit samples,
    /// 65,536 for 16-bit ones.
    pub values: Values,
    /// `Some` when `round(clamp(s · a + b))` in `f32` gives `values` at every bit pattern
    /// ([`Affine::fit`]); integer outputs only.
    pub affine: Option<Affine>,
}

/// A table's entries, in the output dtype.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// `uint8` output.
    U8(Vec<u8>),
    /// `uint16` output.
    U16(Vec<u16>),
    /// `float32` output in 0..=1.
    F32(Vec<f32>),
}

impl Table {
    /// A table without an affine form (the resize looks every sample up).
    pub fn lookup_only(values: Values) -> Table {
        Table { values, affine: None }
    }

    /// The table of the display values (one per stored value, a power of two of them) for
    /// every bit pattern of `samples`, scaled to `dtype` with rounding.
    fn new(samples: &Samples, display: &[f64], dtype: DType) -> Table {
        // `display` is per stored value (the low bits); the table covers every bit pattern.
        // (the pattern `raw` has entry `raw & (len - 1)`: the per-value entries over and over).
        fn spread<T: Copy>(samples: &Samples, per_value: &[T]) -> Vec<T> {
            per_value.repeat(samples.lut_len() / per_value.len())
        }
        // Integer outputs: the per-value entries, and their affine form if one is exact.
        fn integer<T: Copy + Into<f32>>(display: &[f64], max: f64, to: impl Fn(f64) -> T) -> (Vec<T>, Option<Affine>) {
            let per_value: Vec<T> = display.iter().map(|&v| to(round_half_away(v * max))).collect();
            let as_f32: Vec<f32> = per_value.iter().map(|&t| t.into()).collect();
            let affine = Affine::fit(display, &as_f32, max);
            (per_value, affine)
        }
        match dtype {
            DType::Uint8 => {
                let (per_value, affine) = integer(display, 255.0, |v| v as u8);
                Table { values: Values::U8(spread(samples, &per_value)), affine }
            }
            DType::Uint16 => {
                let (per_value, affine) = integer(display, 65535.0, |v| v as u16);
                Table { values: Values::U16(spread(samples, &per_value)), affine }
            }
            DType::Float32 => {
                let per_value: Vec<f32> = display.iter().map(|&v| v as f32).collect();
                Table::lookup_only(Values::F32(spread(samples, &per_value)))
            }
        }
    }

    /// Map every sample through the table.
    pub fn map(&self, samples: &Samples) -> Plane {
        match &self.values {
            Values::U8(t) => Plane::U8(lookup(samples, t)),
            Values::U16(t) => Plane::U16(lookup(samples, t)),
            Values::F32(t) => Plane::F32(lookup(samples, t)),
        }
    }
}

/// `table[sample]` for every sample. With a table of `Samples::lut_len` entries (as
/// [`Table`]s are) the lookups need no bounds checks; a shorter one reads missing entries as 0.
pub fn lookup<T: Copy + Default>(samples: &Samples, table: &[T]) -> Vec<T> {
    match (samples, <&[T; 256]>::try_from(table), <&[T; 65536]>::try_from(table)) {
        (Samples::U8(v), Ok(t), _) => v.iter().map(|&s| t[usize::from(s)]).collect(),
        (Samples::U16(v), _, Ok(t)) => v.iter().map(|&s| t[usize::from(s)]).collect(),
        (Samples::U8(v), ..) => v.iter().map(|&s| table.get(usize::from(s)).copied().unwrap_or_default()).collect(),
        (Samples::U16(v), ..) => v.iter().map(|&s| table.get(usize::from(s)).copied().unwrap_or_default()).collect(),
    }
}

#[cfg(test)]
mod tests;
