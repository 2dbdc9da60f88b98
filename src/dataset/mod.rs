//! Reading a written dataset back: the manifest, then shards one at a time.
//!
//! Used by `inspect` and `preview`. Reads go through [`Location`] like the pipeline's
//! writes, so the same code reads a local folder or an object store. Memory is one shard's
//! file bytes plus one decoded record batch (one row group) at a time.

pub mod preview;
pub mod stats;

use crate::error::{Error, Result};
use crate::pipeline::MANIFEST;
use crate::sink::manifest::Manifest;
use crate::storage::Location;
use arrow::array::{Array, ArrayRef, AsArray, FixedSizeBinaryArray};
use arrow::buffer::Buffer;
use arrow::datatypes::{DataType, SchemaRef};
use arrow::record_batch::RecordBatch;

/// A complete dataset at an output root.
pub struct Dataset {
    loc: Location,
    /// Its manifest.
    pub manifest: Manifest,
}

/// One row's tensors as raw C-order little-endian bytes.
pub struct TensorRow<'a> {
    /// `image_id`.
    pub image_id: &'a str,
    /// `image` bytes (`H·W·itemsize`).
    pub image: &'a [u8],
    /// `mask` bytes (`C·H·W`, 0/1).
    pub mask: &'a [u8],
}

impl Dataset {
    /// Open the dataset at `root` (a folder or `file://` URL).
    ///
    /// # Errors
    /// [`Error::Output`] when there is no `manifest.json` (no complete dataset) or it does not parse.
    pub async fn open(root: &str) -> Result<Self> {
        let loc = Location::open(root, &crate::config::S3Options::default(), false)?;
        if !loc.exists(MANIFEST).await? {
            return Err(Error::Output(format!(
                "{} holds no complete cxrshard dataset ({MANIFEST} missing; a run writes it last)",
                loc.display()
            )));
        }
        let bytes = loc.get(MANIFEST).await?;
        let manifest = serde_json::from_slice(&bytes)
            .map_err(|e| Error::Output(format!("{}: not a cxrshard manifest: {e}", loc.describe(MANIFEST))))?;
        Ok(Self { loc, manifest })
    }

    /// Where the dataset is, for messages.
    pub fn display(&self) -> &str {
        self.loc.display()
    }

    /// Read one shard (path relative to the root) as record batches.
    ///
    /// # Errors
    /// Storage errors, or [`Error::Encode`] when the file does not decode.
    pub async fn read_shard(&self, rel: &str) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        let bytes = self.loc.get(rel).await?;
        let fail = |e: String| Error::Encode { location: self.loc.describe(rel), message: e };
        if self.manifest.output_format == "arrow" {
            let r = arrow::ipc::reader::FileReader::try_new(std::io::Cursor::new(bytes), None)
                .map_err(|e| fail(e.to_string()))?;
            let schema = r.schema();
            let batches = r.collect::<std::result::Result<Vec<_>, _>>().map_err(|e| fail(e.to_string()))?;
            return Ok((schema, batches));
        }
        let b = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes)
            .map_err(|e| fail(e.to_string()))?;
        let schema = b.schema().clone();
        let batches = b.build().map_err(|e| fail(e.to_string()))?.collect::<std::result::Result<Vec<_>, _>>();
        Ok((schema, batches.map_err(|e| fail(e.to_string()))?))
    }
}

/// Call `f` for every row of `batch` with its tensors as bytes.
///
/// # Errors
/// [`Error::Internal`] when the batch lacks the columns or types cxrshard writes.
pub fn for_each_row(batch: &RecordBatch, mut f: impl FnMut(TensorRow<'_>)) -> Result<()> {
    let col = |n: &str| batch.column_by_name(n).ok_or_else(|| Error::Internal(format!("shard has no column {n}")));
    let ids = col("image_id")?.as_string_opt::<i32>().ok_or_else(|| Error::Internal("image_id is not utf8".into()))?;
    let (image, mask) = (TensorColumn::new(col("image")?)?, TensorColumn::new(col("mask")?)?);
    for i in 0..batch.num_rows() {
        f(TensorRow { image_id: ids.value(i), image: image.row(i), mask: mask.row(i) });
    }
    Ok(())
}

/// A tensor column in any of the layouts cxrshard writes, viewed as bytes per row.
enum TensorColumn<'a> {
    Binary(&'a FixedSizeBinaryArray),
    /// Flat leaf values and bytes per row. arrow-rs slices the children of fixed-size lists
    /// and the buffers of primitive arrays, so the leaf buffer starts at row 0.
    Lists(Buffer, usize),
}

impl<'a> TensorColumn<'a> {
    fn new(a: &'a ArrayRef) -> Result<Self> {
        if let Some(b) = a.as_any().downcast_ref::<FixedSizeBinaryArray>() {
            return Ok(Self::Binary(b));
        }
        let mut per_row = 1usize;
        let mut cur: &dyn Array = a.as_ref();
        while let DataType::FixedSizeList(_, n) = cur.data_type() {
            per_row *= *n as usize;
            cur = cur.as_fixed_size_list().values().as_ref();
        }
        let width = cur
            .data_type()
            .primitive_width()
            .ok_or_else(|| Error::Internal(format!("tensor column of unexpected type {}", a.data_type())))?;
        let data = cur.to_data();
        let buf = data.buffers().first().ok_or_else(|| Error::Internal("tensor without values".into()))?;
        Ok(Self::Lists(buf.slice(data.offset() * width), per_row * width))
    }

    fn row(&self, i: usize) -> &[u8] {
        match self {
            Self::Binary(b) => b.value(i),
            Self::Lists(bytes, n) => &bytes.as_slice()[i * n..(i + 1) * n],
        }
    }
}
