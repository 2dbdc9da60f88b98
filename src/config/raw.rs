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
    /// Dataset root: a local folder, `file://` URL or `s3://bucket/prefix`. Overridden by `--input`.
    pub root: Option<String>,
    /// How to reach `s3://` roots (endpoint, region, ...). Ignored for local roots.
    pub s3: Option<RawS3>,
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

/// `[input.s3]` / `[output.s3]`: how to reach an S3-compatible service. Every key falls back to
/// the usual `AWS_*` environment variable, then to a default. Credentials are deliberately not
/// keys here: they come only from the environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_SESSION_TOKEN`, or the instance/container role), so a pipeline file can be committed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawS3 {
    /// Service URL, e.g. `"http://127.0.0.1:9000"` for MinIO. Default: `AWS_ENDPOINT_URL`, else AWS.
    pub endpoint: Option<String>,
    /// Signing region. Default: `AWS_REGION` / `AWS_DEFAULT_REGION`, else `us-east-1`.
    pub region: Option<String>,
    /// `"path"` (`endpoint/bucket/key`, default, what MinIO expects) or `"virtual"`
    /// (virtual-hosted style, `bucket.endpoint/key`).
    pub addressing: Option<String>,
    /// Permit plain-HTTP endpoints (local MinIO). Default: `AWS_ALLOW_HTTP`, else false.
    pub allow_http: Option<bool>,
    /// Send unsigned requests (public buckets). Default false.
    pub anonymous: Option<bool>,
    /// Retries of a failed request (5xx, throttling, connection errors), with exponential
    /// backoff. Default 8.
    pub max_retries: Option<i64>,
    /// Give up retrying a request after this many seconds. Default 120.
    pub retry_timeout_seconds: Option<f64>,
    /// TCP/TLS connect timeout in seconds. Default 5.
    pub connect_timeout_seconds: Option<f64>,
    /// Whole-request timeout in seconds (one GET, one upload part). Default 120.
    pub request_timeout_seconds: Option<f64>,
    /// Not accepted: present only to explain where credentials go.
    pub access_key_id: Option<toml::Value>,
    /// Not accepted: present only to explain where credentials go.
    pub secret_access_key: Option<toml::Value>,
    /// Not accepted: present only to explain where credentials go.
    pub session_token: Option<toml::Value>,
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
    /// Colour DICOM files (RGB, YBR, PALETTE COLOR): `reject` (default) or `luma` (convert to
    /// grey with Rec. 601 weights, the Y of YBR_FULL; palette indices through their LUTs first).
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
    /// Output root: a local folder, `file://` URL or `s3://bucket/prefix`. Overridden by `--output`.
    pub root: Option<String>,
    /// How to reach `s3://` roots (endpoint, region, ...). Ignored for local roots.
    pub s3: Option<RawS3>,
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
    /// Parquet tensor layout: `binary` (default: `FixedSizeBinary` raw bytes) or `nested`
    /// (fixed-size lists; Hugging Face `datasets` then yields `Array2D`/`Array3D`).
    pub tensor_layout: Option<String>,
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
    /// Concurrent reads from storage. 0 (the default) = 4 from a local disk, 8 from S3.
    pub read_concurrency: Option<i64>,
    /// Map local input files of 1 MiB or more into memory instead of copying them (default
    /// true). Off for inputs that may be truncated while a run reads them.
    pub mmap: Option<bool>,
    /// Fail the run when more inputs are rejected: a count (`10`), a fraction (`0.05`) or a
    /// percentage (`"5%"`). Default: no limit.
    pub max_rejects: Option<toml::Value>,
}
