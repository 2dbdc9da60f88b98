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

use super::batch::Column;
use arrow::datatypes::SchemaRef;
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

fn write_tensor<W: Write + Send>(values: Vec<bytes::Bytes>, rg: &mut SerializedRowGroupWriter<'_, W>) -> Result<()> {
    let values: Vec<FixedLenByteArray> = values.into_iter().map(|b| ByteArray::from(b).into()).collect();
    let mut col = rg.next_column()?.ok_or_else(|| ParquetError::General("tensor column missing".into()))?;
    col.typed::<FixedLenByteArrayType>().write_batch(&values, None, None)?;
    col.close()
}

/// Threads that compress one row group's tensor pages side by side. The sink is one thread per
/// split; compressing on its own it was the stage rows waited for (`waiting_for_sink` near its
/// bound), so each row group's pages are split over this many threads.
pub const COMPRESS_THREADS: usize = 2;

/// Each value compressed with `codec` (zstd) or as it is (uncompressed), in order.
fn compress(values: &[bytes::Bytes], codec: Compression) -> Result<Vec<bytes::Bytes>> {
    let Compression::ZSTD(level) = codec else {
        return Ok(values.to_vec());
    };
    let zstd = |v: &bytes::Bytes| zstd::bulk::compress(v, level.compression_level()).map(bytes::Bytes::from);
    let per_thread = values.len().div_ceil(COMPRESS_THREADS).max(1);
    std::thread::scope(|s| {
        let parts: Vec<_> = values
            .chunks(per_thread)
            .map(|part| s.spawn(move || part.iter().map(zstd).collect::<std::io::Result<Vec<_>>>()))
            .collect();
        let mut out = Vec::with_capacity(values.len());
        for part in parts {
            let part = part.join().map_err(|_| ParquetError::General("a compression thread panicked".into()))?;
            out.extend(part.map_err(|e| ParquetError::External(Box::new(e)))?);
        }
        Ok(out)
    })
}

/// One data page per row, compressed straight from the row's buffer, spliced into the row group
/// with an offset index (page `i` holds row `i`).
fn write_tensor_pages<W: Write + Send>(
    values: Vec<bytes::Bytes>,
    descr: ColumnDescPtr,
    codec: Compression,
    rg: &mut SerializedRowGroupWriter<'_, W>,
) -> Result<()> {
    let mut chunk = TrackedWrite::new(Vec::new());
    let mut page_locations = Vec::with_capacity(values.len());
    let (mut compressed, mut uncompressed) = (0i64, 0i64);
    let compressed_values = compress(&values, codec)?;
    {
        let mut pages = SerializedPageWriter::new(&mut chunk);
        for (row, (value, buf)) in values.iter().zip(compressed_values).enumerate() {
            let page = Page::DataPage {
                buf,
                num_values: 1,
                encoding: Encoding::PLAIN,
                def_level_encoding: Encoding::RLE,
                rep_level_encoding: Encoding::RLE,
                statistics: None,
            };
            let spec = pages.write_page(CompressedPage::new(page, value.len()))?;
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
    let rows = values.len() as i64;
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
    let chunk = bytes::Bytes::from(chunk.into_inner()?);
    let close = ColumnCloseResult {
        bytes_written,
        rows_written: rows as u64,
        metadata,
        bloom_filter: None,
        column_index: None,
        offset_index: Some(OffsetIndexMetaData { page_locations, unencoded_byte_array_data_bytes: None }),
    };
    rg.append_column(&chunk, close)
}

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
        let schema = Arc::new(Schema::new(vec![
            Field::new("image_id", DataType::Utf8, false),
            Field::new("mask", DataType::FixedSizeBinary(width), false),
        ]));
        let props = WriterProperties::builder().set_compression(codec).build();
        let mut out = Vec::new();
        let mut w = TensorParquetWriter::try_new(&mut out, schema, props).unwrap();
        for chunk in 0..2 {
            let half = ids.len() / 2;
            let range = chunk * half..(chunk + 1) * half;
            let id_array: Arc<dyn Array> = Arc::new(StringArray::from(ids[range.clone()].to_vec()));
            w.write(vec![Column::Arrow(id_array), Column::Tensor(tensors[range].to_vec())]).unwrap();
        }
        w.close().unwrap();
        out
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
