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
pub mod runs;
pub mod schema;
pub mod shard;

use crate::config::Plan;
use crate::source::annotations::Polygon;
use crate::transform::Processed;
use ::parquet::basic::Compression;
use ::parquet::file::properties::WriterProperties;
use ::parquet::schema::types::ColumnPath;

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
    /// The image and mask already compressed into Parquet data pages (see [`page_codec`]);
    /// `processed.image` and `processed.mask` are then empty.
    pub pages: Option<TensorPages>,
}

/// A row's image and mask as Parquet data pages.
#[derive(Debug, Clone)]
pub struct TensorPages {
    /// The `image` column's page.
    pub image: parquet::TensorPage,
    /// The `mask` column's page.
    pub mask: parquet::TensorPage,
}

impl TensorPages {
    /// Compress a processed row's tensors with `codec` (the mask from its runs inside the
    /// labels' boxes, see [`runs`]), free the image's raw buffer and give the mask's back for
    /// this thread's next image ([`crate::transform::recycle_mask`]). `width` x `height` is the
    /// output size.
    ///
    /// # Errors
    /// The codec's error (see [`parquet::TensorPage::build`]).
    pub fn take(processed: &mut Processed, codec: Compression, width: usize, height: usize) -> std::io::Result<Self> {
        let image = parquet::TensorPage::build(&std::mem::take(&mut processed.image), codec)?;
        let raw_mask = std::mem::take(&mut processed.mask);
        let mask = if raw_mask.len() == processed.bboxes.len() * width * height {
            let content: Vec<_> = crate::transform::mask_content(&processed.bboxes, width, height).collect();
            parquet::TensorPage::build_from_runs(&raw_mask, &content, codec)?
        } else {
            parquet::TensorPage::build(&raw_mask, codec)?
        };
        crate::transform::recycle_mask(raw_mask);
        Ok(Self { image, mask })
    }
}

/// The codec with which a run builds tensor pages in its CPU job: the tensor columns' codec
/// when the shards are Parquet with flat tensors and that codec is zstd; `None` otherwise
/// (rows reach the sink raw). Read from the same writer settings the shards use.
pub fn page_codec(plan: &Plan) -> Option<Compression> {
    let props: WriterProperties = shard::parquet_properties(plan);
    let codec = props.compression(&ColumnPath::from("image"));
    (schema::flat_parquet(plan)
        && matches!(codec, Compression::ZSTD(_))
        && codec == props.compression(&ColumnPath::from("mask")))
    .then_some(codec)
}

/// A buffer kept from one use to the next, whichever thread makes it: a buffer that one row
/// group or shard grew holds the next one's bytes instead of a new allocation (buffers of a
/// few MB allocated anew each time split the heap's free space a little more every time).
pub(crate) struct Spare(std::sync::Mutex<Vec<u8>>);

impl Spare {
    /// No buffer kept yet.
    pub(crate) const fn new() -> Self {
        Self(std::sync::Mutex::new(Vec::new()))
    }

    /// The kept buffer, emptied (a new one if none is kept).
    pub(crate) fn take(&self) -> Vec<u8> {
        let mut buf = self.0.lock().map(|mut kept| std::mem::take(&mut *kept)).unwrap_or_default();
        buf.clear();
        buf
    }

    /// Keep `buf` for the next [`Spare::take`].
    pub(crate) fn keep(&self, buf: Vec<u8>) {
        if let Ok(mut kept) = self.0.lock() {
            *kept = buf;
        }
    }
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
