//! Parquet encoding of row groups with the tensor columns written straight from each row's
//! buffer.
//!
//! `ArrowWriter` handles a `FixedSizeBinary` column by zero-filling a new buffer for the whole
//! row group and copying every value into it, after the batch builder has already copied
//! every row into one Arrow buffer: two extra copies of ~5.5 MB per image (and the page faults
//! of two fresh buffers), measured at 16% of a run's CPU time. Here the flat tensor columns
//! never go through an Arrow buffer; every other column (and the nested tensor layout) goes
//! through the Arrow column writers exactly as `ArrowWriter` would. The file carries the same
//! Arrow schema metadata, so readers see the same schema.
//!
//! With zstd (the default) or no compression, a tensor column is written as one data page per
//! row, built here: each row's bytes are compressed straight from its buffer into the page
//! (parquet's typed writer copies every value into its encoder, then into a page buffer, then
//! grows the compressed output: ~10% of a run's CPU), and the pages are spliced into the row
//! group with an offset index, so a reader can fetch and decompress a single row's tensor.
//! Other codecs take parquet's typed column writer, given `FixedLenByteArray`s that share each
//! row's allocation.
//!
//! A run builds those zstd pages in its CPU job, as soon as a row is made ([`TensorPage`]):
//! the compression is spread over the CPU workers with the rest of the per-image work, and the
//! rows waiting for the sink and the row group it collects hold compressed pages (~0.2 MB a
//! row) instead of raw tensors (~5.5 MB). The bytes are the same either way.

use super::batch::Column;
use arrow::datatypes::SchemaRef;
use bytes::Bytes;
use parquet::arrow::arrow_writer::{compute_leaves, ArrowColumnWriter, ArrowRowGroupWriterFactory};
use parquet::arrow::{add_encoded_arrow_schema_to_metadata, ArrowSchemaConverter};
use parquet::basic::{Compression, Encoding, PageType};
use parquet::column::page::{CompressedPage, Page, PageWriter};
use parquet::column::writer::ColumnCloseResult;
use parquet::data_type::{ByteArray, FixedLenByteArray, FixedLenByteArrayType};
use parquet::errors::{ParquetError, Result};
use parquet::file::metadata::{ColumnChunkMetaData, PageEncodingStats};
use parquet::file::page_index::offset_index::{OffsetIndexMetaData, PageLocation};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::{SerializedFileWriter, SerializedPageWriter, SerializedRowGroupWriter, TrackedWrite};
use parquet::schema::types::{ColumnDescPtr, ColumnPath};
use std::io::Write;
use std::sync::Arc;

/// One row's value of a tensor column: its bytes, or the data page already built from them.
#[derive(Debug, Clone)]
pub enum TensorValue {
    /// The tensor's bytes; the writer compresses them.
    Raw(Bytes),
    /// A page built by [`TensorPage::build`]; the writer splices it in as it is.
    Page(TensorPage),
}

/// One row's tensor as the body of a compressed Parquet data page (PLAIN-encoded
/// `FixedSizeBinary`, no levels: the body is the codec's output on the tensor's bytes).
#[derive(Debug, Clone)]
pub struct TensorPage {
    body: Bytes,
    len: usize,
    codec: Compression,
}

impl TensorPage {
    /// Compress `bytes` with `codec` (zstd: other codecs are not built ahead).
    ///
    /// # Errors
    /// The codec's error, or a message for a codec other than zstd.
    pub fn build(bytes: &[u8], codec: Compression) -> std::io::Result<Self> {
        let Compression::ZSTD(level) = codec else {
            return Err(std::io::Error::other(format!("tensor pages are built ahead only with zstd, not {codec}")));
        };
        let body = zstd_exact(bytes, level.compression_level())?;
        Ok(Self { body: Bytes::from(body), len: bytes.len(), codec })
    }

    /// Compress a mask whose bytes outside `content` (sorted, disjoint ranges) are all zero:
    /// from its runs ([`super::runs`]) with zstd at the levels that takes, else as
    /// [`TensorPage::build`] does.
    ///
    /// # Errors
    /// As [`TensorPage::build`].
    pub fn build_from_runs(
        bytes: &[u8],
        content: &[std::ops::Range<usize>],
        codec: Compression,
    ) -> std::io::Result<Self> {
        if let Compression::ZSTD(level) = codec {
            if let Some(body) = super::runs::compress(bytes, content, level.compression_level()) {
                return Ok(Self { body: Bytes::from(body), len: bytes.len(), codec });
            }
        }
        Self::build(bytes, codec)
    }

    /// Compressed size in bytes.
    pub fn compressed_len(&self) -> usize {
        self.body.len()
    }
}

/// Writes one Parquet file, one row group per [`TensorParquetWriter::write`].
pub struct TensorParquetWriter<W: Write + Send> {
    writer: SerializedFileWriter<W>,
    factory: ArrowRowGroupWriterFactory,
    schema: SchemaRef,
    row_groups: usize,
    /// Leaf columns of the Parquet schema, in order.
    leaves: Vec<ColumnDescPtr>,
}

impl<W: Write + Send> TensorParquetWriter<W> {
    /// Start a file with `schema` (stored as Arrow metadata, as `ArrowWriter` does).
    pub fn try_new(out: W, schema: SchemaRef, mut props: WriterProperties) -> Result<Self> {
        let parquet_schema = ArrowSchemaConverter::new().with_coerce_types(props.coerce_types()).convert(&schema)?;
        add_encoded_arrow_schema_to_metadata(&schema, &mut props);
        let writer = SerializedFileWriter::new(out, parquet_schema.root_schema_ptr(), Arc::new(props))?;
        let factory = ArrowRowGroupWriterFactory::new(&writer, schema.clone());
        let leaves = writer.schema_descr().columns().to_vec();
        Ok(Self { writer, factory, schema, row_groups: 0, leaves })
    }

    /// Encode `columns` (one per schema field, in order, all of the same length) as one row group.
    pub fn write(&mut self, columns: Vec<Column>) -> Result<()> {
        if columns.len() != self.schema.fields().len() {
            return Err(ParquetError::General(format!(
                "{} columns for a schema of {} fields",
                columns.len(),
                self.schema.fields().len()
            )));
        }
        let mut leaf_writers = self.factory.create_column_writers(self.row_groups)?.into_iter();
        let props = self.writer.properties().clone();
        let mut leaves = self.leaves.iter();
        let mut rg = self.writer.next_row_group()?;
        for (field, column) in self.schema.fields().iter().zip(columns) {
            match column {
                Column::Arrow(array) => {
                    for leaf in compute_leaves(field, &array)? {
                        let writer = next_writer(&mut leaf_writers)?;
                        leaves.next();
                        write_leaf(writer, &leaf, &mut rg)?;
                    }
                }
                Column::Tensor(values) => {
                    // The Arrow writer for this leaf stays unused: the tensor is written directly.
                    next_writer(&mut leaf_writers)?;
                    let descr = leaves.next().ok_or_else(|| ParquetError::General("tensor column missing".into()))?;
                    match props.compression(&ColumnPath::from(field.name().as_str())) {
                        c @ (Compression::ZSTD(_) | Compression::UNCOMPRESSED) => {
                            write_tensor_pages(values, descr.clone(), c, &mut rg)?
                        }
                        _ => write_tensor(values, &mut rg)?,
                    }
                }
            }
        }
        rg.close()?;
        self.row_groups += 1;
        Ok(())
    }

    /// Write the footer.
    pub fn close(self) -> Result<()> {
        self.writer.close().map(|_| ())
    }
}

fn next_writer(writers: &mut impl Iterator<Item = ArrowColumnWriter>) -> Result<ArrowColumnWriter> {
    writers.next().ok_or_else(|| ParquetError::General("more leaf columns than the schema has".into()))
}

fn write_leaf<W: Write + Send>(
    mut writer: ArrowColumnWriter,
    leaf: &parquet::arrow::arrow_writer::ArrowLeafColumn,
    rg: &mut SerializedRowGroupWriter<'_, W>,
) -> Result<()> {
    writer.write(leaf)?;
    writer.close()?.append_to_row_group(rg)
}

fn write_tensor<W: Write + Send>(values: Vec<TensorValue>, rg: &mut SerializedRowGroupWriter<'_, W>) -> Result<()> {
    let values = values
        .into_iter()
        .map(|v| match v {
            TensorValue::Raw(b) => Ok(ByteArray::from(b).into()),
            TensorValue::Page(p) => Err(ParquetError::General(format!("a tensor page built with {}", p.codec))),
        })
        .collect::<Result<Vec<FixedLenByteArray>>>()?;
    let mut col = rg.next_column()?.ok_or_else(|| ParquetError::General("tensor column missing".into()))?;
    col.typed::<FixedLenByteArrayType>().write_batch(&values, None, None)?;
    col.close()
}

/// Each value's page body and uncompressed length, in order: raw values compressed with
/// `codec` (zstd) or kept as they are (uncompressed), pages built ahead taken as they are (they
/// must have been built with `codec`). A run builds its zstd pages ahead, in the CPU job.
fn page_bodies(values: Vec<TensorValue>, codec: Compression) -> Result<Vec<(Bytes, usize)>> {
    values
        .into_iter()
        .map(|v| match v {
            TensorValue::Raw(b) => Ok((page_body(&b, codec)?, b.len())),
            TensorValue::Page(p) if p.codec == codec => Ok((p.body, p.len)),
            TensorValue::Page(p) => {
                Err(ParquetError::General(format!("a tensor page built with {} for a {codec} column", p.codec)))
            }
        })
        .collect()
}

/// A raw value as a page body: compressed with `codec` (zstd) or as it is (uncompressed).
fn page_body(value: &Bytes, codec: Compression) -> Result<Bytes> {
    let Compression::ZSTD(level) = codec else {
        return Ok(value.clone());
    };
    zstd_exact(value, level.compression_level()).map(Bytes::from).map_err(|e| ParquetError::External(Box::new(e)))
}

thread_local! {
    /// This thread's zstd context (and its level) and a scratch buffer, reused for every page.
    static ZSTD: std::cell::RefCell<Option<(i32, zstd::bulk::Compressor<'static>, Vec<u8>)>> =
        const { std::cell::RefCell::new(None) };
}

/// `bytes` compressed with zstd at `level`, in a buffer of exactly the compressed size: the
/// same bytes as `zstd::bulk::compress`, whose buffer keeps the capacity of the input's bound
/// (5.2 MB for a 5.2 MB mask compressed to 0.15 MB), so every row waiting for the sink held
/// full-size buffers. The compression runs in a per-thread scratch buffer and context, and only
/// the result is copied out.
fn zstd_exact(bytes: &[u8], level: i32) -> std::io::Result<Vec<u8>> {
    ZSTD.with(|slot| {
        let mut slot = slot.borrow_mut();
        if slot.as_ref().is_none_or(|(l, ..)| *l != level) {
            *slot = Some((level, zstd::bulk::Compressor::new(level)?, Vec::new()));
        }
        let (_, compressor, scratch) = slot.as_mut().expect("set above");
        scratch.clear();
        scratch.reserve(zstd::compress_bound(bytes.len()));
        compressor.compress_to_buffer(bytes, scratch)?;
        Ok(scratch.as_slice().to_vec())
    })
}

/// Room for one data page header (Thrift: type, sizes, value count, encodings; no statistics):
/// 20–30 bytes in practice.
const PAGE_HEADER_ALLOWANCE: usize = 64;

/// One data page per row, compressed straight from the row's buffer, spliced into the row group
/// with an offset index (page `i` holds row `i`).
fn write_tensor_pages<W: Write + Send>(
    values: Vec<TensorValue>,
    descr: ColumnDescPtr,
    codec: Compression,
    rg: &mut SerializedRowGroupWriter<'_, W>,
) -> Result<()> {
    let mut page_locations = Vec::with_capacity(values.len());
    let (mut compressed, mut uncompressed) = (0i64, 0i64);
    let rows = values.len() as i64;
    let bodies = page_bodies(values, codec)?;
    // The chunk's size known up front (bodies + headers), its buffer grows at most once.
    let size = bodies.iter().map(|(b, _)| b.len() + PAGE_HEADER_ALLOWANCE).sum();
    let mut buf = CHUNK_SPARE.take();
    buf.reserve(size);
    let mut chunk = TrackedWrite::new(buf);
    {
        let mut pages = SerializedPageWriter::new(&mut chunk);
        for (row, (buf, len)) in bodies.into_iter().enumerate() {
            let page = Page::DataPage {
                buf,
                num_values: 1,
                encoding: Encoding::PLAIN,
                def_level_encoding: Encoding::RLE,
                rep_level_encoding: Encoding::RLE,
                statistics: None,
            };
            let spec = pages.write_page(CompressedPage::new(page, len))?;
            compressed += spec.compressed_size as i64;
            uncompressed += spec.uncompressed_size as i64;
            page_locations.push(PageLocation {
                offset: spec.offset as i64,
                compressed_page_size: i32::try_from(spec.bytes_written)
                    .map_err(|_| ParquetError::General("a tensor page over 2 GiB".into()))?,
                first_row_index: row as i64,
            });
        }
        pages.close()?;
    }
    let metadata = ColumnChunkMetaData::builder(descr)
        .set_compression(codec)
        .set_encodings(vec![Encoding::PLAIN, Encoding::RLE])
        .set_page_encoding_stats(vec![PageEncodingStats {
            page_type: PageType::DATA_PAGE,
            encoding: Encoding::PLAIN,
            count: rows as i32,
        }])
        .set_total_compressed_size(compressed)
        .set_total_uncompressed_size(uncompressed)
        .set_num_values(rows)
        .set_data_page_offset(0)
        .build()?;
    let bytes_written = chunk.bytes_written() as u64;
    let chunk = Bytes::from(chunk.into_inner()?);
    let close = ColumnCloseResult {
        bytes_written,
        rows_written: rows as u64,
        metadata,
        bloom_filter: None,
        column_index: None,
        offset_index: Some(OffsetIndexMetaData { page_locations, unencoded_byte_array_data_bytes: None }),
    };
    rg.append_column(&chunk, close)?;
    if let Ok(buf) = chunk.try_into_mut() {
        CHUNK_SPARE.keep(Vec::from(buf));
    }
    Ok(())
}

/// The buffer the last tensor column chunk was built in, for the next (chunks are 0.5–2 MB,
/// one per column per row group).
static CHUNK_SPARE: super::Spare = super::Spare::new();

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, FixedSizeBinaryArray, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use parquet::arrow::arrow_reader::{ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
    use parquet::basic::ZstdLevel;
    use parquet::file::metadata::PageIndexPolicy;

    fn rows(n: usize, width: usize) -> (Vec<String>, Vec<bytes::Bytes>) {
        let ids = (0..n).map(|i| format!("img{i}")).collect();
        let tensors = (0..n).map(|i| (0..width).map(|j| ((i * 31 + j / 7) % 5) as u8).collect::<Vec<_>>().into());
        (ids, tensors.collect())
    }

    fn write(codec: Compression, ids: &[String], tensors: &[bytes::Bytes], width: i32) -> Vec<u8> {
        let values: Vec<TensorValue> = tensors.iter().cloned().map(TensorValue::Raw).collect();
        write_values(codec, ids, &values, width).unwrap()
    }

    fn write_values(codec: Compression, ids: &[String], tensors: &[TensorValue], width: i32) -> Result<Vec<u8>> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("image_id", DataType::Utf8, false),
            Field::new("mask", DataType::FixedSizeBinary(width), false),
        ]));
        let props = WriterProperties::builder().set_compression(codec).build();
        let mut out = Vec::new();
        let mut w = TensorParquetWriter::try_new(&mut out, schema, props)?;
        for chunk in 0..2 {
            let half = ids.len() / 2;
            let range = chunk * half..(chunk + 1) * half;
            let id_array: Arc<dyn Array> = Arc::new(StringArray::from(ids[range.clone()].to_vec()));
            w.write(vec![Column::Arrow(id_array), Column::Tensor(tensors[range].to_vec())])?;
        }
        w.close()?;
        Ok(out)
    }

    /// Pages built ahead (all rows, or some) give the same file as raw tensors compressed by the
    /// writer; a page built with another codec, or given to a column whose codec cannot take
    /// pages, is an error, not a wrong file.
    #[test]
    fn pages_built_ahead_give_the_same_file() {
        let (ids, tensors) = rows(6, 4096);
        let zstd = Compression::ZSTD(ZstdLevel::try_new(1).unwrap());
        let page = |b: &bytes::Bytes, c| TensorValue::Page(TensorPage::build(b, c).unwrap());
        let expected = write(zstd, &ids, &tensors, 4096);
        for t in &tensors {
            let built = TensorPage::build(t, zstd).unwrap();
            assert_eq!(built.body, zstd::bulk::compress(t, 1).unwrap(), "the bytes of a fresh zstd context");
            assert_eq!(built.body.len(), built.compressed_len());
        }
        let all: Vec<_> = tensors.iter().map(|t| page(t, zstd)).collect();
        assert_eq!(write_values(zstd, &ids, &all, 4096).unwrap(), expected);
        let some: Vec<_> = tensors
            .iter()
            .enumerate()
            .map(|(i, t)| if i % 2 == 0 { page(t, zstd) } else { TensorValue::Raw(t.clone()) })
            .collect();
        assert_eq!(write_values(zstd, &ids, &some, 4096).unwrap(), expected);
        assert!(all.iter().all(|v| matches!(v, TensorValue::Page(p) if p.compressed_len() < 4096)));

        let level3 = Compression::ZSTD(ZstdLevel::try_new(3).unwrap());
        let wrong: Vec<_> = tensors.iter().map(|t| page(t, level3)).collect();
        let TensorValue::Page(p3) = &wrong[0] else { unreachable!() };
        assert_eq!(p3.body, zstd::bulk::compress(&tensors[0], 3).unwrap(), "the thread's context changed level");
        let e = write_values(zstd, &ids, &wrong, 4096).unwrap_err().to_string();
        assert!(e.contains("built with ZSTD(ZstdLevel(3)) for a ZSTD(ZstdLevel(1)) column"), "{e}");
        assert!(write_values(Compression::LZ4_RAW, &ids, &all, 4096).is_err());
        assert!(write_values(Compression::UNCOMPRESSED, &ids, &all, 4096).is_err());
        assert!(TensorPage::build(&tensors[0], Compression::SNAPPY).is_err());
    }

    /// Every codec reads back to the rows written; zstd and uncompressed tensors are one page
    /// per row with an offset index that finds each row.
    #[test]
    fn tensor_pages_read_back_with_every_codec_and_index_each_row() {
        let (ids, tensors) = rows(6, 4096);
        for codec in [
            Compression::ZSTD(ZstdLevel::try_new(1).unwrap()),
            Compression::UNCOMPRESSED,
            Compression::LZ4_RAW,
            Compression::SNAPPY,
        ] {
            let file = bytes::Bytes::from(write(codec, &ids, &tensors, 4096));
            let options = ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Required);
            let builder = ParquetRecordBatchReaderBuilder::try_new_with_options(file.clone(), options).unwrap();
            let meta = builder.metadata().clone();
            assert_eq!(meta.num_row_groups(), 2, "{codec:?}");
            let mut read_ids = Vec::new();
            let mut read_tensors = Vec::new();
            for batch in builder.build().unwrap() {
                let batch = batch.unwrap();
                let id = batch.column(0).as_any().downcast_ref::<StringArray>().unwrap();
                let t = batch.column(1).as_any().downcast_ref::<FixedSizeBinaryArray>().unwrap();
                read_ids.extend((0..id.len()).map(|i| id.value(i).to_string()));
                read_tensors.extend((0..t.len()).map(|i| bytes::Bytes::copy_from_slice(t.value(i))));
            }
            assert_eq!(
                (read_ids.as_slice(), read_tensors.as_slice()),
                (ids.as_slice(), tensors.as_slice()),
                "{codec:?}"
            );
            let mask = meta.row_group(0).column(1);
            assert_eq!(mask.compression(), codec);
            if matches!(codec, Compression::ZSTD(_) | Compression::UNCOMPRESSED) {
                let page_index = meta.page_index_for_row_group(0);
                let index = page_index.offset_index(1).expect("offset index").page_locations();
                assert_eq!(index.len(), 3, "one page per row ({codec:?})");
                let rows: Vec<i64> = index.iter().map(|p| p.first_row_index).collect();
                assert_eq!(rows, vec![0, 1, 2]);
                assert!(index.windows(2).all(|w| w[1].offset == w[0].offset + w[0].compressed_page_size as i64));
            }
        }
    }
}
