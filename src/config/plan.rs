//! The validated plan: every setting resolved to a typed value, defaults applied.
//!
//! A [`Plan`] is only built by [`super::validate`], so code holding one can rely on its
//! invariants (non-zero sizes, known labels, bounded concurrency) without re-checking.

use serde::Serialize;
use std::time::Duration;

/// The default mask channel order: the dataset authors' `R1..R10, L1..L10`.
pub fn default_labels() -> Vec<String> {
    ["R", "L"].iter().flat_map(|s| (1..=10).map(move |i| format!("{s}{i}"))).collect()
}

/// How image files are decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InputFormat {
    /// DICOM Part 10 files.
    Dicom,
    /// PNG/JPEG/... through the `image` crate.
    Png,
    /// By file extension: `.dcm`/`.dicom`/none → DICOM, anything else → `image`.
    Auto,
}

/// Resize geometry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResizeMode {
    /// Scale each axis independently to the output size.
    Stretch,
    /// Keep the aspect ratio, centre, pad with 0.
    Letterbox,
}

/// Resampling filter (mapped to `fast_image_resize` in one place: `transform::resize`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Filter {
    /// Box filter / area averaging (OpenCV INTER_AREA for downscaling).
    Area,
    /// Bilinear.
    Bilinear,
    /// Catmull-Rom bicubic.
    Bicubic,
    /// Lanczos, 3 lobes.
    Lanczos3,
    /// Nearest neighbour.
    Nearest,
}

/// Output pixel type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DType {
    /// 0..255.
    Uint8,
    /// 0..65535.
    Uint16,
    /// 0.0..1.0.
    Float32,
}

impl DType {
    /// Bytes per sample.
    pub fn size(self) -> usize {
        match self {
            DType::Uint8 => 1,
            DType::Uint16 => 2,
            DType::Float32 => 4,
        }
    }
    /// NumPy's name for the type.
    pub fn numpy_name(self) -> &'static str {
        match self {
            DType::Uint8 => "uint8",
            DType::Uint16 => "uint16",
            DType::Float32 => "float32",
        }
    }
}

/// Which VOI window to apply.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowChoice {
    /// The file's WindowCenter/WindowWidth (value `window_index`), else min..max.
    File,
    /// The image's own min..max after the modality LUT.
    MinMax,
    /// A fixed window in modality units.
    Fixed {
        /// Centre.
        center: f64,
        /// Width.
        width: f64,
    },
}

/// Post-window normalisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Normalize {
    /// Window output 0..1 maps to the dtype's full range.
    None,
    /// Stretch the windowed image's own min..max to the full range.
    MinMax,
}

/// What to do with multi-frame DICOM files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MultiFrame {
    /// Use frame 0.
    First,
    /// Reject the input.
    Reject,
}

/// What to do with colour DICOM files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ColorPolicy {
    /// Reject the input.
    Reject,
    /// Convert to grey: `0.299 R + 0.587 G + 0.114 B` (Rec. 601, the Y of YBR_FULL); PALETTE
    /// COLOR indices go through the Red/Green/Blue Palette Color LUTs first.
    Luma,
}

/// Shard file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputFormat {
    /// Parquet, tensors as `FixedSizeBinary`.
    Parquet,
    /// Arrow IPC file, tensors as `arrow.fixed_shape_tensor`.
    Arrow,
}

impl OutputFormat {
    /// File extension of shards.
    pub fn extension(self) -> &'static str {
        match self {
            OutputFormat::Parquet => "parquet",
            OutputFormat::Arrow => "arrow",
        }
    }
}

/// How Parquet stores the `image` and `mask` tensors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TensorLayout {
    /// Raw C-order bytes in `FixedSizeBinary` (fastest to write and read with NumPy).
    Binary,
    /// Nested fixed-size lists (`[H][W]`, `[C][H][W]`): what Hugging Face `datasets` loads as
    /// `Array2D`/`Array3D` and DuckDB as typed arrays; slower to write.
    Nested,
}

impl TensorLayout {
    /// The default layout (kept out of the canonical configuration so that it stays stable).
    pub fn is_binary(&self) -> bool {
        *self == TensorLayout::Binary
    }
}

/// Shard compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "codec")]
pub enum Compression {
    /// zstd at a level.
    Zstd {
        /// 1..=22.
        level: i32,
    },
    /// LZ4 (Parquet: LZ4_RAW; Arrow IPC: LZ4 frame).
    Lz4,
    /// Snappy (Parquet only).
    Snappy,
    /// Uncompressed.
    None,
}

/// Default retries of one failed storage request.
pub const DEFAULT_MAX_RETRIES: usize = 8;
/// Default time after which a request is no longer retried.
pub const DEFAULT_RETRY_TIMEOUT: Duration = Duration::from_secs(120);
/// Default connect timeout.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default whole-request timeout (one GET, one upload part of `sink::shard::PART_SIZE`).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// Bucket addressing style.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addressing {
    /// `endpoint/bucket/key` (MinIO and most S3-compatible services).
    Path,
    /// `bucket.endpoint/key`.
    Virtual,
}

/// How to reach an `s3://` root, from `[input.s3]` / `[output.s3]`. `None` means "from the
/// `AWS_*` environment, else the default". Holds no credentials: those only come from the
/// environment. Never part of the canonical configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct S3Options {
    /// Service URL (validated: http(s), no user info, path or query).
    pub endpoint: Option<String>,
    /// Signing region.
    pub region: Option<String>,
    /// Addressing style.
    pub addressing: Option<Addressing>,
    /// Permit plain HTTP.
    pub allow_http: Option<bool>,
    /// Unsigned requests.
    pub anonymous: bool,
    /// Retries per request.
    pub max_retries: usize,
    /// Retry budget per request.
    pub retry_timeout: Duration,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Request timeout.
    pub request_timeout: Duration,
}

impl Default for S3Options {
    fn default() -> Self {
        Self {
            endpoint: None,
            region: None,
            addressing: None,
            allow_http: None,
            anonymous: false,
            max_retries: DEFAULT_MAX_RETRIES,
            retry_timeout: DEFAULT_RETRY_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }
}

/// `[input]`, resolved.
#[derive(Debug, Clone, Serialize)]
pub struct InputPlan {
    /// Dataset root URL or path (not part of the canonical config).
    #[serde(skip)]
    pub root: String,
    /// How to reach an `s3://` root (not part of the canonical config).
    #[serde(skip)]
    pub s3: S3Options,
    /// Decoder choice.
    pub format: InputFormat,
    /// Extension replacing the annotation path's one.
    pub image_extension: Option<String>,
    /// Folder template for image lookup by file name.
    pub image_dir: Option<String>,
}

/// One split, resolved.
#[derive(Debug, Clone, Serialize)]
pub struct SplitPlan {
    /// Output split name.
    pub name: String,
    /// Annotation file relative to the input root.
    pub annotations: String,
    /// Substitution for `{split}` in `image_dir`.
    pub images_split: String,
}

/// `[image]`, resolved.
#[derive(Debug, Clone, Serialize)]
pub struct ImagePlan {
    /// Output height.
    pub height: u32,
    /// Output width.
    pub width: u32,
    /// Geometry.
    pub resize: ResizeMode,
    /// Resampling filter.
    pub filter: Filter,
    /// Output type.
    pub dtype: DType,
    /// VOI window choice.
    pub window: WindowChoice,
    /// Index among multiple file windows.
    pub window_index: usize,
    /// Post-window normalisation.
    pub normalize: Normalize,
    /// Multi-frame policy.
    pub multiframe: MultiFrame,
    /// Colour policy.
    pub color: ColorPolicy,
}

/// `[output]`, resolved.
#[derive(Debug, Clone, Serialize)]
pub struct OutputPlan {
    /// Output root URL or path (not part of the canonical config).
    #[serde(skip)]
    pub root: String,
    /// How to reach an `s3://` root (not part of the canonical config).
    #[serde(skip)]
    pub s3: S3Options,
    /// Shard format.
    pub format: OutputFormat,
    /// Input positions per shard: shard `k` holds inputs `k*shard_rows .. (k+1)*shard_rows`.
    pub shard_rows: usize,
    /// Rows per row group / record batch.
    pub row_group_rows: usize,
    /// Codec.
    pub compression: Compression,
    /// Parquet tensor layout.
    #[serde(skip_serializing_if = "TensorLayout::is_binary")]
    pub tensor_layout: TensorLayout,
    /// Replace an existing complete dataset.
    #[serde(skip)]
    pub overwrite: bool,
}

/// `[run]`, resolved. Never part of the canonical config: it must not change output bytes.
#[derive(Debug, Clone, Copy)]
pub struct RunPlan {
    /// CPU worker threads.
    pub workers: usize,
    /// Images read or being processed at once.
    pub in_flight: usize,
    /// Concurrent storage reads.
    pub read_concurrency: usize,
    /// Map large local input files instead of reading them into memory.
    pub mmap: bool,
    /// Fail the run when more inputs than this are rejected (`None`: never).
    pub max_rejects: Option<MaxRejects>,
}

/// A limit on rejected inputs over the whole run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MaxRejects {
    /// At most this many.
    Count(usize),
    /// At most this fraction (0..=1) of the inputs listed.
    Fraction(f64),
}

impl MaxRejects {
    /// The largest number of rejects allowed among `inputs` inputs.
    pub fn limit(self, inputs: usize) -> usize {
        match self {
            MaxRejects::Count(n) => n,
            MaxRejects::Fraction(f) => (f * inputs as f64).floor() as usize,
        }
    }
}

/// A validated pipeline.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// Input side.
    pub input: InputPlan,
    /// Splits in processing order.
    pub splits: Vec<SplitPlan>,
    /// Image processing.
    pub image: ImagePlan,
    /// Mask channel labels, in order.
    pub labels: Vec<String>,
    /// Output side.
    pub output: OutputPlan,
    /// Concurrency.
    #[serde(skip)]
    pub run: RunPlan,
}

impl Plan {
    /// The canonical configuration: every setting that can change output bytes, as compact
    /// JSON with a fixed key order. Locations and concurrency are excluded, so a dataset's
    /// manifest does not depend on where it was read from or how many cores ran it.
    pub fn canonical_json(&self) -> String {
        serde_json::to_string(self).expect("plan serialises")
    }
}
