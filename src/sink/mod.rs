//! Outputs: Arrow batches, shard files and the manifest.
//!
//! Shard membership is a pure function of input position: shard `k` of a split holds the
//! inputs at positions `k*shard_rows .. (k+1)*shard_rows` (annotation order) that were not
//! rejected. The number of shards is known before the first image is read, which gives
//! Hugging Face-style names (`data/train-00000-of-00004.parquet`) and lets any subset of
//! shards be rebuilt independently with identical bytes.

pub mod batch;
pub mod card;
pub mod manifest;
pub mod parquet;
pub mod schema;
pub mod shard;

use crate::source::annotations::Polygon;
use crate::transform::Processed;

/// One output row on its way to a shard.
#[derive(Debug, Clone)]
pub struct Row {
    /// File stem of the annotation's `img`.
    pub image_id: String,
    /// Output split name.
    pub split: String,
    /// Input object path relative to the input root.
    pub source: String,
    /// Original polygons per label.
    pub polygons: Vec<Option<Polygon>>,
    /// Tensors and facts.
    pub processed: Processed,
}

/// Number of shards for `inputs` inputs (at least one, so every split has a file).
pub fn shard_count(inputs: usize, shard_rows: usize) -> usize {
    inputs.div_ceil(shard_rows).max(1)
}

/// Shard file path relative to the output root.
pub fn shard_path(split: &str, index: usize, count: usize, ext: &str) -> String {
    format!("data/{split}-{index:05}-of-{count:05}.{ext}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_names_follow_hugging_face_conventions() {
        assert_eq!(shard_count(0, 64), 1);
        assert_eq!(shard_count(64, 64), 1);
        assert_eq!(shard_count(65, 64), 2);
        assert_eq!(shard_path("validation", 1, 3, "parquet"), "data/validation-00001-of-00003.parquet");
    }
}
