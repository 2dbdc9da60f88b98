//! The pipeline file as written by users: TOML deserialised into plain serde structs.
//!
//! Every struct denies unknown fields so that a typo fails loudly, and every field has a
//! default so a pipeline file only states what differs. Nothing here is checked beyond
//! types: [`super::validate`] turns a [`RawPipeline`] into a [`super::Plan`] and reports every
//! problem at once. These types are the file format: they do not reuse library types, so a
//! dependency upgrade never changes what a pipeline file means.

use serde::{Deserialize, Serialize};

/// A whole pipeline file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPipeline {
    /// Where the dataset is read from and how image paths are resolved.
    #[serde(default)]
    pub input: RawInput,
    /// The splits to process, in order. Default: VinDr-RibCXR's `train` and `validation`.
    #[serde(default, rename = "split")]
    pub splits: Vec<RawSplit>,
    /// Image geometry, pixel chain and output dtype.
    #[serde(default)]
    pub image: RawImage,
    /// Rib masks.
    #[serde(default)]
    pub mask: RawMask,
    /// Where and how shards are written.
    #[serde(default)]
    pub output: RawOutput,
    /// Concurrency bounds (never change the output bytes).
    #[serde(default)]
    pub run: RawRun,
}

/// `[input]`
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInput {
    /// Dataset root: a local folder, `file://` URL. Overridden by `--input`.
    pub root: Option<String>,
    /// Image decoder: `dicom`, `png` (any format the `image` crate reads), or `auto` (by file
    /// extension). Default `auto`.
    pub format: Option<String>,
    /// Replace the extension of each annotation `img` path with this one (e.g. `"dcm"` when the
    /// JSON names `.png` files but the folder holds DICOMs with the same stem).
    pub image_extension: Option<String>,
    /// Look images up in this folder (relative to `root`) by file name instead of the folder
    /// named in the annotation `img` path. `{split}` is replaced with the split's `images_split`
    /// name (default: the split name). Example: `"dicom/{split}"`.
    pub image_dir: Option<String>,
}

/// One `[[split]]` table.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSplit {
    /// Output split name (`train`, `validation`, `test`, ...).
    pub name: Option<String>,
    /// Annotation JSON, relative to the input root.
    pub annotations: Option<String>,
    /// Value substituted for `{split}` in `input.image_dir`. Default: `name`.
    pub images_split: Option<String>,
}

/// Window selection as written: a keyword or an explicit `{ center, width }` table.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum RawWindow {
    /// `"file"` or `"minmax"`.
    Keyword(String),
    /// A fixed window in modality (rescaled) units.
    Fixed {
        /// Window centre.
        center: f64,
        /// Window width (> 0; >= 1 for the LINEAR function).
        width: f64,
    },
}

/// `[image]`
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawImage {
    /// Output `[height, width]`. Default `[512, 512]`.
    pub size: Option<Vec<i64>>,
    /// `stretch` (default, as the dataset's authors train) or `letterbox` (keep the aspect
    /// ratio, centre, pad with 0).
    pub resize: Option<String>,
    /// Resampling filter: `area` (default, like OpenCV INTER_AREA), `bilinear`, `bicubic`,
    /// `lanczos3`, `nearest`.
    pub filter: Option<String>,
    /// Output pixel type: `uint8` (default), `uint16`, `float32` (0..1).
    pub dtype: Option<String>,
    /// VOI window: `"file"` (default: the file's WindowCenter/WindowWidth, falling back to the
    /// image's min..max when absent), `"minmax"`, or `{ center = .., width = .. }`.
    pub window: Option<RawWindow>,
    /// Which of several WindowCenter/WindowWidth values to use (0-based). Default 0.
    pub window_index: Option<i64>,
    /// After windowing: `none` (default) or `minmax` (stretch the windowed image's own
    /// min..max to the full output range, as the Python reference does).
    pub normalize: Option<String>,
    /// Multi-frame DICOM files: `first` (default: use frame 0) or `reject`.
    pub multiframe: Option<String>,
    /// Colour DICOM files (RGB, YBR): `reject` (default) or `luma` (convert to grey with
    /// Rec. 601 weights, the Y of YBR_FULL).
    pub color: Option<String>,
}

/// `[mask]`
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMask {
    /// Channel order; each name is an annotation column. Default `R1..R10, L1..L10`.
    pub labels: Option<Vec<String>>,
}

/// `[output]`
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOutput {
    /// Output root: a local folder or `file://` URL. Overridden by `--output`.
    pub root: Option<String>,
    /// `parquet` (default) or `arrow` (Arrow IPC files with `arrow.fixed_shape_tensor` columns).
    pub format: Option<String>,
    /// Rows (input images) per shard. Default 64. Mutually exclusive with `shard_bytes`.
    pub shard_rows: Option<i64>,
    /// Target uncompressed bytes per shard (image + mask tensors); converted to a row count.
    pub shard_bytes: Option<i64>,
    /// Rows per Parquet row group / Arrow record batch. Default 8. Bounds writer memory.
    pub row_group_rows: Option<i64>,
    /// `zstd` (default), `lz4`, `snappy` (Parquet only), `none`.
    pub compression: Option<String>,
    /// zstd level (1..=22). Default 1.
    pub compression_level: Option<i64>,
    /// Replace a complete dataset already present at the output. Default false.
    pub overwrite: Option<bool>,
}

/// `[run]`
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRun {
    /// CPU worker threads (decode, window, resize, rasterize, encode). 0 = all cores.
    pub workers: Option<i64>,
    /// Images being read or processed at once. 0 = 2 x workers. Bounds peak memory.
    pub in_flight: Option<i64>,
    /// Concurrent reads from storage. Default 8.
    pub read_concurrency: Option<i64>,
}
