//! `cxrshard decode`: one image through exactly the decode → display chain → resize code that
//! `run` uses, written as `.npy` (NumPy) or `.png`, for inspection and reference comparisons.
//! `--raw` writes the stored values instead (BitsStored masked, sign-extended; no LUT), which is
//! what pydicom's `pixel_array` holds.

use super::npy;
use cxrshard::config::{self, DType, Overrides, Plan};
use cxrshard::source::decoder_for;
use cxrshard::source::image::{Samples, SourceImage};
use cxrshard::transform::{self, resize, window};
use cxrshard::Error;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `decode`.
#[derive(clap::Args)]
pub struct Args {
    /// DICOM or raster image file.
    file: PathBuf,
    /// Output file: `.npy` (any dtype) or `.png` (uint8/uint16).
    #[arg(long)]
    out: PathBuf,
    /// Output size: `native` (no resize) or `HxW`, e.g. `512x512`. Default: the pipeline's
    /// `image.size` (512x512).
    #[arg(long)]
    size: Option<String>,
    /// VOI window: `file`, `minmax` or `CENTER,WIDTH` (modality units).
    #[arg(long)]
    window: Option<String>,
    /// Output dtype: `uint8`, `uint16`, `float32`.
    #[arg(long)]
    dtype: Option<String>,
    /// Write the stored values (no modality/VOI/inversion, native size) as `uint8`/`int8`/
    /// `uint16`/`int16`, like pydicom's `pixel_array`.
    #[arg(long, conflicts_with_all = ["window", "dtype", "size"])]
    raw: bool,
    /// Take every other setting from this pipeline file (its roots are not needed).
    #[arg(long)]
    pipeline: Option<PathBuf>,
    /// Override any pipeline setting, e.g. `--set image.color=luma` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
}

/// Run `decode`.
pub fn run(a: Args) -> cxrshard::Result<ExitCode> {
    let (plan, native) = plan(&a)?;
    let mut image = plan.image;
    let bytes: bytes::Bytes =
        std::fs::read(&a.file).map_err(|source| Error::Io { path: a.file.clone(), source })?.into();
    let decoder = decoder_for(&a.file.to_string_lossy(), plan.input.format);
    let src = transform::decode(&bytes, decoder, &image)?;
    let (dims, descr, data) = if a.raw {
        raw_samples(&src)
    } else {
        if native {
            (image.height, image.width) = (src.height, src.width);
        }
        // As `run` does it: the display table, then one lookup-and-resize pass.
        let (table, applied) = window::table(&src, &image)?;
        let (data, _) = resize::resize_table(&src.samples, &table, src.width, src.height, &image, None)?;
        tracing::info!(
            "window {} center {:?} width {:?} ({:?})",
            applied.source.as_str(),
            applied.center,
            applied.width,
            applied.function
        );
        ([image.height as usize, image.width as usize], descr(image.dtype), data)
    };
    write(&a.out, dims, descr, &data)?;
    println!("{}: {}x{} {} → {}", a.file.display(), dims[0], dims[1], descr, a.out.display());
    Ok(ExitCode::SUCCESS)
}

/// The plan from the pipeline file (if any) and the flags; whether the size is native.
fn plan(a: &Args) -> cxrshard::Result<(Plan, bool)> {
    let (text, origin) = match &a.pipeline {
        Some(p) => {
            let t = std::fs::read_to_string(p).map_err(|source| Error::Io { path: p.clone(), source })?;
            (t, p.display().to_string())
        }
        None => (String::new(), "decode flags".to_string()),
    };
    let mut set = Vec::new();
    let native = a.raw || a.size.as_deref() == Some("native");
    if let Some(size) = a.size.as_deref().filter(|s| *s != "native") {
        let (h, w) =
            size.split_once(['x', 'X']).ok_or_else(|| usage(format!("--size {size:?}: expected native or HxW")))?;
        set.push(format!("image.size=[{h},{w}]"));
    }
    match a.window.as_deref() {
        None => {}
        Some(k @ ("file" | "minmax")) => set.push(format!("image.window=\"{k}\"")),
        Some(cw) => {
            let (c, w) =
                cw.split_once(',').ok_or_else(|| usage(format!("--window {cw:?}: expected file, minmax or C,W")))?;
            set.push(format!("image.window={{ center = {c}, width = {w} }}"));
        }
    }
    if let Some(d) = &a.dtype {
        set.push(format!("image.dtype=\"{d}\""));
    }
    set.extend(a.set.iter().cloned());
    // The roots are irrelevant to one image; any value satisfies validation.
    let overrides = Overrides { input: Some(".".into()), output: Some(".".into()), set };
    Ok((config::parse(&text, &origin, &overrides)?, native))
}

fn usage(problem: String) -> Error {
    Error::Config { origin: "decode flags".into(), problems: vec![problem] }
}

fn descr(d: DType) -> &'static str {
    match d {
        DType::Uint8 => "|u1",
        DType::Uint16 => "<u2",
        DType::Float32 => "<f4",
    }
}

/// Stored values at native size, typed like pydicom's `pixel_array`.
fn raw_samples(src: &SourceImage) -> ([usize; 2], &'static str, Vec<u8>) {
    let dims = [src.height as usize, src.width as usize];
    let stored = |raw: u16| window::stored_value(raw, src.bits_stored, src.signed);
    match (&src.samples, src.signed) {
        (Samples::U8(v), false) => (dims, "|u1", v.iter().map(|&s| stored(s as u16) as u8).collect()),
        (Samples::U8(v), true) => (dims, "|i1", v.iter().map(|&s| stored(s as u16) as i8 as u8).collect()),
        (Samples::U16(v), false) => (dims, "<u2", v.iter().flat_map(|&s| (stored(s) as u16).to_le_bytes()).collect()),
        (Samples::U16(v), true) => (dims, "<i2", v.iter().flat_map(|&s| (stored(s) as i16).to_le_bytes()).collect()),
    }
}

fn write(out: &Path, dims: [usize; 2], descr: &str, data: &[u8]) -> cxrshard::Result<()> {
    let io = |source| Error::Io { path: out.to_path_buf(), source };
    let ext = out.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let bytes = match ext.as_str() {
        "npy" => npy::encode(descr, &dims, data),
        "png" => png(dims, descr, data)?,
        _ => return Err(usage(format!("--out {}: expected a .npy or .png file name", out.display()))),
    };
    std::fs::write(out, bytes).map_err(io)
}

fn png(dims: [usize; 2], descr: &str, data: &[u8]) -> cxrshard::Result<Vec<u8>> {
    use image::{ExtendedColorType, ImageEncoder};
    let colour = match descr {
        "|u1" => ExtendedColorType::L8,
        // PNG stores 16-bit samples big-endian; the encoder takes native-endian u16 bytes.
        "<u2" => ExtendedColorType::L16,
        _ => return Err(usage(format!("a PNG cannot hold {descr} samples: write .npy instead"))),
    };
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(data, dims[1] as u32, dims[0] as u32, colour)
        .map_err(|e| Error::Output(format!("encoding PNG: {e}")))?;
    Ok(out)
}
