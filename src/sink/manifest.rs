//! `manifest.json`: the dataset's table of contents, written last.
//!
//! A manifest is present only for a complete dataset. It holds nothing that varies between
//! runs of the same inputs and pipeline (no timestamps, durations, hosts or absolute paths),
//! so it is byte-identical whatever the concurrency. Timings go to `run_report.json`.

use super::shard::ShardInfo;
use crate::error::Stage;
use serde::{Deserialize, Serialize};

/// Manifest format identifier; bumped on incompatible changes.
pub const FORMAT: &str = "cxrshard-manifest/1";

/// The whole manifest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// Tool that wrote it.
    pub tool: Tool,
    /// The canonical pipeline configuration (settings that can change output bytes).
    pub config: serde_json::Value,
    /// sha256 of the canonical configuration's compact JSON.
    pub config_sha256: String,
    /// `parquet` or `arrow`.
    pub output_format: String,
    /// Mask channel names in order.
    pub labels: Vec<String>,
    /// The `image` tensor.
    pub image: Tensor,
    /// The `mask` tensor.
    pub mask: Tensor,
    /// Splits in pipeline order.
    pub splits: Vec<SplitRecord>,
    /// Files in the image folders that no annotation refers to (paths relative to the input root).
    pub unreferenced_images: Vec<String>,
}

/// Tool identity.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Tool {
    /// `cxrshard`.
    pub name: String,
    /// Crate version.
    pub version: String,
}

/// Shape and type of a tensor column.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Tensor {
    /// Per-row shape.
    pub shape: Vec<usize>,
    /// NumPy dtype name.
    pub dtype: String,
    /// How the column stores it.
    pub storage: String,
}

/// One split.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SplitRecord {
    /// Split name.
    pub name: String,
    /// Annotation file it came from (relative to the input root).
    pub annotations: String,
    /// Inputs listed in the annotation file.
    pub inputs: usize,
    /// Rows written.
    pub rows: usize,
    /// Inputs rejected (`inputs == rows + rejected`).
    pub rejected: usize,
    /// Polygon vertices outside their image, clipped when filling.
    pub clipped_points: u64,
    /// Total shard bytes.
    pub bytes: u64,
    /// Shards in order.
    pub shards: Vec<ShardInfo>,
    /// Every rejected input with its reason.
    pub rejects: Vec<RejectRecord>,
}

/// One rejected input.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RejectRecord {
    /// Position in the annotation file (pandas index key).
    pub key: String,
    /// `image_id` (file stem), if known.
    pub image_id: String,
    /// Input path relative to the input root, or the annotation `img` value.
    pub source: String,
    /// Stage that rejected it.
    pub stage: Stage,
    /// Why.
    pub reason: String,
}

impl Manifest {
    /// Serialise with stable formatting (pretty, trailing newline).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).expect("manifest serialises");
        v.push(b'\n');
        v
    }
}
