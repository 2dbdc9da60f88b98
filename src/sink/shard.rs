//! One shard file: a synchronous Arrow/Parquet encoder inside a thin async shell.
//!
//! Each record batch (one row group) is encoded on a blocking thread, and the encoded bytes
//! are streamed to storage at once, so a shard is never held whole in memory: writer memory
//! is one row group of tensors plus the upload parts in flight ([`PART_SIZE`] ×
//! ([`UPLOAD_CONCURRENCY`] + 1) on S3, [`LOCAL_PART_SIZE`] × the same on local disk, where
//! 8 MiB parts of 10 MB shards made the run's peak memory creep up over its first few hundred
//! images: 200 → 2,000 images +19% before, +10% with 1 MiB parts). The sha256 and byte
//! count are computed on the bytes as they stream. The object becomes visible only when
//! [`ShardWriter::finish`] completes the upload (local disk: rename of a staging file).

use super::parquet::TensorParquetWriter;
use super::{batch, Row};
use crate::config::{Compression, OutputFormat, Plan};
use crate::error::{Error, Result};
use crate::storage::Location;
use arrow::datatypes::SchemaRef;
use arrow::ipc::writer::{FileWriter, IpcWriteOptions};
use object_store::buffered::BufWriter;
use parquet::basic::{Compression as PqCompression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::sync::{Arc, Mutex};
use tokio::io::AsyncWriteExt;

/// Upload part size: objects larger than this are written with multipart upload.
pub const PART_SIZE: usize = 8 * 1024 * 1024;
/// Part size on local disk, where a part is a write to the staging file and has no minimum:
/// small parts keep the memory a shard holds small and the same for every shard.
pub const LOCAL_PART_SIZE: usize = 1024 * 1024;
/// The upload part size for `out`: [`PART_SIZE`] on S3, [`LOCAL_PART_SIZE`] on local disk.
fn part_size(out: &Location) -> usize {
    if out.is_remote() {
        PART_SIZE
    } else {
        LOCAL_PART_SIZE
    }
}

/// Upload parts of one shard in flight at once. With the part being filled, a shard upload
/// holds at most `(UPLOAD_CONCURRENCY + 1) × PART_SIZE` bytes.
pub const UPLOAD_CONCURRENCY: usize = 2;

/// What a finished shard looks like, as recorded in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ShardInfo {
    /// Path relative to the output root.
    pub path: String,
    /// Rows in the shard.
    pub rows: usize,
    /// File size.
    pub bytes: u64,
    /// Hex sha256 of the file.
    pub sha256: String,
}

/// The encode buffer of the last finished shard, for the next one (see
/// [`SharedBuffer::restore`]).
static ENCODE_SPARE: super::Spare = super::Spare::new();

/// A `Write` target whose bytes the async side drains after each encoder call.
#[derive(Clone, Default)]
struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("buffer lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl SharedBuffer {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().expect("buffer lock"))
    }

    /// Give a drained buffer back, emptied: its memory holds the next row group, instead of a
    /// new buffer growing by doubling (1 → 2 MB and more per row group, in sizes that
    /// fragment the heap). A finished shard leaves it to the next ([`ENCODE_SPARE`]).
    fn restore(&self, mut drained: Vec<u8>) {
        drained.clear();
        let mut buf = self.0.lock().expect("buffer lock");
        if buf.is_empty() && buf.capacity() < drained.capacity() {
            *buf = drained;
        }
    }
}

enum Encoder {
    Parquet(TensorParquetWriter<SharedBuffer>),
    Ipc(FileWriter<SharedBuffer>),
}

impl Encoder {
    fn new(buf: SharedBuffer, schema: SchemaRef, plan: &Plan) -> std::result::Result<Self, String> {
        match plan.output.format {
            OutputFormat::Parquet => TensorParquetWriter::try_new(buf, schema, parquet_properties(plan))
                .map(Encoder::Parquet)
                .map_err(|e| e.to_string()),
            OutputFormat::Arrow => {
                let opts = ipc_options(plan.output.compression)?;
                FileWriter::try_new_with_options(buf, &schema, opts).map(Encoder::Ipc).map_err(|e| e.to_string())
            }
        }
    }

    /// Encode `rows` as one row group (Parquet) or one record batch (Arrow IPC).
    fn write(&mut self, rows: Vec<Row>, schema: &SchemaRef, plan: &Plan) -> std::result::Result<(), String> {
        match self {
            Encoder::Parquet(w) => {
                let columns = batch::columns(rows, schema, plan).map_err(|e| e.to_string())?;
                w.write(columns).map_err(|e| e.to_string())
            }
            Encoder::Ipc(w) => {
                let batch = batch::build(&rows, schema, plan).map_err(|e| e.to_string())?;
                w.write(&batch).map_err(|e| e.to_string())
            }
        }
    }

    fn finish(self) -> std::result::Result<(), String> {
        match self {
            Encoder::Parquet(w) => w.close().map(|_| ()).map_err(|e| e.to_string()),
            Encoder::Ipc(mut w) => w.finish().map_err(|e| e.to_string()),
        }
    }
}

/// The tensor columns of the schema, by name.
const TENSOR_COLUMNS: [&str; 2] = ["image", "mask"];

/// Parquet settings, chosen for tensors: no statistics on the tensor columns (useless for
/// opaque bytes, and costly), and no dictionary on any column: a row group's eight rows hold
/// few repeated values, and the polygons' coordinates none, so every column chunk's dictionary
/// page cost the writer more than it saved (all plain: a 200-image run's task-clock 846 → 834
/// ms, medians of 11 alternated runs; its shards 35.78 → 35.24 MB, as the coordinates'
/// dictionary held every value again). The one-value-a-row columns (ids, sizes,
/// window) are stored uncompressed: a row group holds a few bytes of each, which zstd made
/// larger, not smaller (`split` 42 → 60 bytes, `pad_x` 37 → 55), and every compressed column
/// chunk costs the writer a compression and a decompression context (15 a row group: ~1% of a
/// run's CPU). List and tensor columns take the configured codec. Row groups are cut by the
/// caller.
pub fn parquet_properties(plan: &Plan) -> WriterProperties {
    let compression = match plan.output.compression {
        Compression::Zstd { level } => PqCompression::ZSTD(ZstdLevel::try_new(level).unwrap_or_default()),
        Compression::Lz4 => PqCompression::LZ4_RAW,
        Compression::Snappy => PqCompression::SNAPPY,
        Compression::None => PqCompression::UNCOMPRESSED,
    };
    let mut b = WriterProperties::builder()
        .set_compression(compression)
        .set_dictionary_enabled(false)
        .set_max_row_group_row_count(Some(plan.output.row_group_rows))
        .set_created_by(format!("cxrshard {}", env!("CARGO_PKG_VERSION")));
    for col in TENSOR_COLUMNS {
        b = b.set_column_statistics_enabled(ColumnPath::from(col), EnabledStatistics::None);
    }
    for field in super::schema::schema(plan).fields() {
        if !TENSOR_COLUMNS.contains(&field.name().as_str()) && !field.data_type().is_nested() {
            b = b.set_column_compression(ColumnPath::from(field.name().as_str()), PqCompression::UNCOMPRESSED);
        }
    }
    b.build()
}

fn ipc_options(c: Compression) -> std::result::Result<IpcWriteOptions, String> {
    use arrow::ipc::CompressionType;
    let o = IpcWriteOptions::default();
    let r = match c {
        Compression::Zstd { level } => {
            o.try_with_compression(Some(CompressionType::ZSTD)).and_then(|o| o.try_with_compression_level(Some(level)))
        }
        Compression::Lz4 => o.try_with_compression(Some(CompressionType::LZ4_FRAME)),
        Compression::None | Compression::Snappy => Ok(o),
    };
    r.map_err(|e| e.to_string())
}

/// Streams one shard to storage.
pub struct ShardWriter {
    schema: SchemaRef,
    plan: Arc<Plan>,
    encoder: Option<Encoder>,
    buffer: SharedBuffer,
    upload: BufWriter,
    out: Location,
    hasher: Sha256,
    bytes: u64,
    rows: usize,
    rel: String,
    display: String,
}

impl ShardWriter {
    /// Start a shard at `rel` under `out`.
    pub fn create(out: &Location, rel: &str, schema: SchemaRef, plan: Arc<Plan>) -> Result<Self> {
        let display = out.describe(rel);
        let path = out.path(rel).map_err(Error::Output)?;
        let buffer = SharedBuffer(Arc::new(Mutex::new(ENCODE_SPARE.take())));
        let encoder = Encoder::new(buffer.clone(), schema.clone(), &plan)
            .map_err(|message| Error::Encode { location: display.clone(), message })?;
        Ok(Self {
            schema,
            plan,
            encoder: Some(encoder),
            buffer,
            upload: BufWriter::with_capacity(out.store(), path, part_size(out))
                .with_max_concurrency(UPLOAD_CONCURRENCY),
            out: out.clone(),
            hasher: Sha256::new(),
            bytes: 0,
            rows: 0,
            rel: rel.to_string(),
            display,
        })
    }

    /// Build and encode one batch (one row group) off the async workers, then stream its
    /// bytes out.
    pub async fn write(&mut self, rows: Vec<Row>) -> Result<()> {
        let mut enc = self.encoder.take().ok_or_else(|| Error::Internal("shard written after finish".into()))?;
        let n = rows.len();
        let (schema, plan) = (self.schema.clone(), self.plan.clone());
        let (enc, res) = tokio::task::spawn_blocking(move || {
            let r = enc.write(rows, &schema, &plan);
            (enc, r)
        })
        .await
        .map_err(|e| Error::Internal(format!("encoder task failed: {e}")))?;
        self.encoder = Some(enc);
        res.map_err(|message| Error::Encode { location: self.display.clone(), message })?;
        self.rows += n;
        self.drain().await
    }

    async fn drain(&mut self) -> Result<()> {
        let chunk = self.buffer.take();
        if chunk.is_empty() {
            return Ok(());
        }
        self.hasher.update(&chunk);
        self.bytes += chunk.len() as u64;
        // BufWriter waits for a free upload slot before each write, then cuts the whole write
        // into parts: writing at most one part at a time keeps UPLOAD_CONCURRENCY a real bound.
        for piece in chunk.chunks(part_size(&self.out)) {
            let r = self.upload.write_all(piece).await;
            r.map_err(|e| self.out.write_error(&self.rel, e))?;
        }
        self.buffer.restore(chunk);
        Ok(())
    }

    /// Write the footer, complete the upload and return the shard's record.
    pub async fn finish(mut self) -> Result<ShardInfo> {
        let enc = self.encoder.take().ok_or_else(|| Error::Internal("shard finished twice".into()))?;
        let res = tokio::task::spawn_blocking(move || enc.finish())
            .await
            .map_err(|e| Error::Internal(format!("encoder task failed: {e}")))?;
        res.map_err(|message| Error::Encode { location: self.display.clone(), message })?;
        self.drain().await?;
        ENCODE_SPARE.keep(self.buffer.take());
        self.upload.shutdown().await.map_err(|e| self.out.write_error(&self.rel, e))?;
        Ok(ShardInfo {
            path: self.rel,
            rows: self.rows,
            bytes: self.bytes,
            sha256: hex::encode(self.hasher.finalize()),
        })
    }

    /// Abandon the shard, cleaning up any partial upload.
    pub async fn abort(mut self) {
        let _ = self.upload.abort().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parquet::schema::types::ColumnPath;

    /// The tensor and list columns take the configured codec; the one-value-a-row columns are
    /// stored uncompressed, whatever the codec; no column has a dictionary.
    #[test]
    fn only_scalar_columns_are_stored_uncompressed_and_none_with_a_dictionary() {
        for (codec, expected) in
            [("zstd", PqCompression::ZSTD(ZstdLevel::try_new(1).unwrap())), ("lz4", PqCompression::LZ4_RAW)]
        {
            let text = format!("[input]\nroot = \".\"\n[output]\nroot = \".\"\ncompression = \"{codec}\"\n");
            let plan = crate::config::parse(&text, "test", &crate::config::Overrides::default()).unwrap();
            let props = parquet_properties(&plan);
            let path = |p: &str| ColumnPath::new(p.split('.').map(str::to_string).collect());
            for column in ["image", "mask", "labels_present.list.item", "ribs.list.item.polygon.list.item"] {
                assert_eq!(props.compression(&path(column)), expected, "{column} ({codec})");
            }
            for column in ["image_id", "split", "source", "orig_height", "scale_x", "window_center", "photometric"] {
                assert_eq!(props.compression(&path(column)), PqCompression::UNCOMPRESSED, "{column} ({codec})");
            }
            for column in ["image", "ribs.list.item.polygon.list.item", "ribs.list.item.label", "split", "scale_x"] {
                assert!(!props.dictionary_enabled(&path(column)), "{column}: no dictionary ({codec})");
            }
        }
    }
}
