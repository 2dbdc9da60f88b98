//! Rows → Arrow record batches, or → the columns of one Parquet row group. For Arrow
//! output, tensor bytes are concatenated once into 64-byte-aligned buffers and wrapped
//! without further copies; for flat Parquet tensors, each row's buffer is handed on as is
//! (see [`super::parquet`]).

use super::parquet::TensorValue;
use super::{Row, TensorPages};
use crate::config::{DType, OutputFormat, Plan};
use crate::source::image::VoiFunction;
use arrow::array::*;
use arrow::buffer::{Buffer, MutableBuffer};
use arrow::datatypes::{DataType, Field, SchemaRef};
use arrow::error::ArrowError;
use bytes::Bytes;
use std::sync::Arc;

/// One column of a row group.
pub enum Column {
    /// Any Arrow array, encoded by the Arrow column writers.
    Arrow(ArrayRef),
    /// A `FixedSizeBinary` tensor column as one value per row (no concatenation).
    Tensor(Vec<TensorValue>),
}

/// Build one record batch from `rows` (in order) with the plan's schema.
pub fn build(rows: &[Row], schema: &SchemaRef, plan: &Plan) -> Result<RecordBatch, ArrowError> {
    if rows.iter().any(|r| r.pages.is_some()) {
        return Err(ArrowError::InvalidArgumentError(
            "rows whose tensors are already Parquet pages cannot make an Arrow batch".into(),
        ));
    }
    let image = tensor(rows, schema, "image", |r| &r.processed.image, plan.image.dtype, plan.output.format)?;
    let mask = tensor(rows, schema, "mask", |r| &r.processed.mask, DType::Uint8, plan.output.format)?;
    RecordBatch::try_new(schema.clone(), assemble(rows, image, mask, plan, |a| a))
}

/// The columns of one Parquet row group, in schema order. Flat tensor columns take each
/// row's pages built ahead, or its buffer without copying; the nested layout goes through
/// [`build`].
pub fn columns(mut rows: Vec<Row>, schema: &SchemaRef, plan: &Plan) -> Result<Vec<Column>, ArrowError> {
    if !super::schema::flat_parquet(plan) {
        return Ok(build(&rows, schema, plan)?.columns().iter().cloned().map(Column::Arrow).collect());
    }
    let (image, mask): (Vec<TensorValue>, Vec<TensorValue>) = rows.iter_mut().map(take_tensors).unzip();
    Ok(assemble(&rows, Column::Tensor(image), Column::Tensor(mask), plan, Column::Arrow))
}

/// The row's image and mask for a flat Parquet column, leaving the row without them.
fn take_tensors(row: &mut Row) -> (TensorValue, TensorValue) {
    match row.pages.take() {
        Some(TensorPages { image, mask }) => (TensorValue::Page(image), TensorValue::Page(mask)),
        None => {
            let raw = |v: &mut Vec<u8>| TensorValue::Raw(Bytes::from(std::mem::take(v)));
            (raw(&mut row.processed.image), raw(&mut row.processed.mask))
        }
    }
}

/// Every column in schema order, with the two tensor columns given.
fn assemble<T>(rows: &[Row], image: T, mask: T, plan: &Plan, wrap: fn(ArrayRef) -> T) -> Vec<T> {
    let strings = |f: &dyn Fn(&Row) -> &str| wrap(Arc::new(StringArray::from_iter_values(rows.iter().map(f))));
    let i32s = |f: &dyn Fn(&Row) -> i32| wrap(Arc::new(Int32Array::from_iter_values(rows.iter().map(f))));
    let f64s = |f: &dyn Fn(&Row) -> f64| wrap(Arc::new(Float64Array::from_iter_values(rows.iter().map(f))));
    let window = |r: &Row| r.processed.window;
    vec![
        strings(&|r| &r.image_id),
        strings(&|r| &r.split),
        strings(&|r| &r.source),
        image,
        mask,
        wrap(labels_present(rows, &plan.labels)),
        wrap(ribs(rows, &plan.labels)),
        i32s(&|r| r.processed.orig_height as i32),
        i32s(&|r| r.processed.orig_width as i32),
        f64s(&|r| r.processed.geometry.scale_x),
        f64s(&|r| r.processed.geometry.scale_y),
        i32s(&|r| r.processed.geometry.pad_x as i32),
        i32s(&|r| r.processed.geometry.pad_y as i32),
        i32s(&|r| r.processed.clipped_points.min(i32::MAX as u32) as i32),
        f64s(&|r| window(r).center),
        f64s(&|r| window(r).width),
        strings(&|r| window(r).source.as_str()),
        strings(&|r| voi_name(window(r).function)),
        strings(&|r| r.processed.photometric.as_str()),
    ]
}

fn voi_name(f: VoiFunction) -> &'static str {
    match f {
        VoiFunction::Linear => "LINEAR",
        VoiFunction::LinearExact => "LINEAR_EXACT",
        VoiFunction::Sigmoid => "SIGMOID",
        VoiFunction::Lut => "LUT",
    }
}

fn tensor(
    rows: &[Row],
    schema: &SchemaRef,
    name: &str,
    bytes: impl Fn(&Row) -> &Vec<u8>,
    dtype: DType,
    format: OutputFormat,
) -> Result<ArrayRef, ArrowError> {
    let field = schema.field_with_name(name)?;
    let total: usize = rows.iter().map(|r| bytes(r).len()).sum();
    let mut buf = MutableBuffer::new(total);
    for r in rows {
        buf.extend_from_slice(bytes(r));
    }
    let buf: Buffer = buf.into();
    match (format, field.data_type()) {
        (OutputFormat::Parquet, DataType::FixedSizeBinary(size)) => {
            Ok(Arc::new(FixedSizeBinaryArray::try_new(*size, buf, None)?))
        }
        (_, t @ DataType::FixedSizeList(..)) => {
            let len = total / dtype.size();
            let values: ArrayRef = match dtype {
                DType::Uint8 => Arc::new(UInt8Array::new(buf.into(), None)),
                DType::Uint16 => Arc::new(UInt16Array::new(arrow::buffer::ScalarBuffer::new(buf, 0, len), None)),
                DType::Float32 => Arc::new(Float32Array::new(arrow::buffer::ScalarBuffer::new(buf, 0, len), None)),
            };
            nest(values, t)
        }
        (_, t) => Err(ArrowError::SchemaError(format!("column {name}: unexpected type {t}"))),
    }
}

/// Wrap flat tensor values in the (possibly nested) fixed-size list type `t`, without copying.
fn nest(values: ArrayRef, t: &DataType) -> Result<ArrayRef, ArrowError> {
    match t {
        DataType::FixedSizeList(item, n) => {
            let inner = nest(values, item.data_type())?;
            Ok(Arc::new(FixedSizeListArray::try_new(item.clone(), *n, inner, None)?))
        }
        _ => Ok(values),
    }
}

fn labels_present(rows: &[Row], labels: &[String]) -> ArrayRef {
    let mut b = ListBuilder::new(StringBuilder::new());
    for r in rows {
        for (label, poly) in labels.iter().zip(&r.polygons) {
            if poly.is_some() {
                b.values().append_value(label);
            }
        }
        b.append(true);
    }
    Arc::new(b.finish())
}

fn ribs(rows: &[Row], labels: &[String]) -> ArrayRef {
    let fields = super::schema::rib_fields();
    let mut list = ListBuilder::new(StructBuilder::from_fields(fields.clone(), 0)).with_field(Arc::new(Field::new(
        "item",
        DataType::Struct(fields),
        true,
    )));
    for r in rows {
        for ((label, poly), bbox) in labels.iter().zip(&r.polygons).zip(&r.processed.bboxes) {
            let Some(poly) = poly else { continue };
            let s = list.values();
            s.field_builder::<StringBuilder>(0).expect("label builder").append_value(label);
            let pb = s.field_builder::<ListBuilder<Box<dyn ArrayBuilder>>>(1).expect("polygon builder");
            let xs = pb.values().as_any_mut().downcast_mut::<Float64Builder>().expect("f64 values");
            poly.iter().for_each(|&[x, y]| {
                xs.append_value(x);
                xs.append_value(y);
            });
            pb.append(true);
            let bb = s.field_builder::<FixedSizeListBuilder<Box<dyn ArrayBuilder>>>(2).expect("bbox builder");
            let ints = bb.values().as_any_mut().downcast_mut::<Int32Builder>().expect("i32 values");
            match bbox {
                Some(v) => {
                    ints.append_slice(v);
                    bb.append(true);
                }
                None => {
                    ints.append_nulls(4);
                    bb.append(false);
                }
            }
            s.append(true);
        }
        list.append(true);
    }
    Arc::new(list.finish())
}
