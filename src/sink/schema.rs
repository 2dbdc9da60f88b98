//! The output schema: one row per image, tensors as raw C-order bytes.
//!
//! Parquet stores `image` and `mask` as `FixedSizeBinary` (arrow-rs and pyarrow write nested
//! fixed-size lists an order of magnitude slower, for the same compressed size); their shape
//! and dtype are in the field metadata (`cxrshard.shape`, `cxrshard.dtype`) and the manifest.
//! Arrow IPC stores them as the canonical `arrow.fixed_shape_tensor` extension type over a
//! `FixedSizeList`, which pyarrow reads back as a `FixedShapeTensorArray`.

use crate::config::{DType, OutputFormat, Plan, TensorLayout};
use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef};
use std::collections::HashMap;
use std::sync::Arc;

/// Tensor shapes of a plan: `image` is `[H, W]`, `mask` is `[C, H, W]`.
pub fn shapes(plan: &Plan) -> (Vec<usize>, Vec<usize>) {
    let (h, w) = (plan.image.height as usize, plan.image.width as usize);
    (vec![h, w], vec![plan.labels.len(), h, w])
}

fn arrow_dtype(d: DType) -> DataType {
    match d {
        DType::Uint8 => DataType::UInt8,
        DType::Uint16 => DataType::UInt16,
        DType::Float32 => DataType::Float32,
    }
}

/// The nested fixed-size list type of a tensor of `shape` (`[H][W]` → `FixedSizeList<FixedSizeList<T, W>, H>`).
pub fn nested_type(shape: &[usize], dtype: DType) -> DataType {
    shape.iter().rev().fold(arrow_dtype(dtype), |inner, &n| {
        DataType::FixedSizeList(Arc::new(Field::new("item", inner, false)), n as i32)
    })
}

/// Whether the shards store tensors as Parquet `FixedSizeBinary` (one buffer per row), the
/// layout the direct page writer and the CPU job's pages serve.
pub fn flat_parquet(plan: &Plan) -> bool {
    plan.output.format == OutputFormat::Parquet && plan.output.tensor_layout != TensorLayout::Nested
}

fn tensor_field(name: &str, shape: &[usize], dtype: DType, plan: &Plan, extra: &[(&str, String)]) -> Field {
    let n: usize = shape.iter().product();
    let shape_json = serde_json::to_string(shape).expect("shape serialises");
    let mut md: HashMap<String, String> = HashMap::from([
        ("cxrshard.shape".to_string(), shape_json.clone()),
        ("cxrshard.dtype".to_string(), dtype.numpy_name().to_string()),
        ("cxrshard.order".to_string(), "C, little-endian".to_string()),
    ]);
    md.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
    let data_type = match plan.output.format {
        OutputFormat::Parquet if flat_parquet(plan) => DataType::FixedSizeBinary((n * dtype.size()) as i32),
        OutputFormat::Parquet => nested_type(shape, dtype),
        OutputFormat::Arrow => {
            md.insert("ARROW:extension:name".into(), "arrow.fixed_shape_tensor".into());
            md.insert("ARROW:extension:metadata".into(), format!("{{\"shape\":{shape_json}}}"));
            DataType::FixedSizeList(Arc::new(Field::new("item", arrow_dtype(dtype), true)), n as i32)
        }
    };
    Field::new(name, data_type, false).with_metadata(md)
}

/// Struct fields of one `ribs` entry.
pub fn rib_fields() -> Fields {
    Fields::from(vec![
        Field::new("label", DataType::Utf8, true),
        Field::new("polygon", DataType::List(Arc::new(Field::new("item", DataType::Float64, true))), true),
        Field::new("bbox", DataType::FixedSizeList(Arc::new(Field::new("item", DataType::Int32, true)), 4), true),
    ])
}

/// The schema of every shard of a plan.
pub fn schema(plan: &Plan) -> SchemaRef {
    let (image_shape, mask_shape) = shapes(plan);
    let labels = serde_json::to_string(&plan.labels).expect("labels serialise");
    let utf8 = |n: &str, null| Field::new(n, DataType::Utf8, null);
    let list_item = |t: DataType| DataType::List(Arc::new(Field::new("item", t, true)));
    Arc::new(Schema::new(vec![
        utf8("image_id", false),
        utf8("split", false),
        utf8("source", false),
        tensor_field("image", &image_shape, plan.image.dtype, plan, &[]),
        tensor_field("mask", &mask_shape, DType::Uint8, plan, &[("cxrshard.labels", labels)]),
        Field::new("labels_present", list_item(DataType::Utf8), false),
        Field::new("ribs", list_item(DataType::Struct(rib_fields())), false),
        Field::new("orig_height", DataType::Int32, false),
        Field::new("orig_width", DataType::Int32, false),
        Field::new("scale_x", DataType::Float64, false),
        Field::new("scale_y", DataType::Float64, false),
        Field::new("pad_x", DataType::Int32, false),
        Field::new("pad_y", DataType::Int32, false),
        Field::new("clipped_points", DataType::Int32, false),
        Field::new("window_center", DataType::Float64, true),
        Field::new("window_width", DataType::Float64, true),
        utf8("window_source", false),
        utf8("voi_function", false),
        utf8("photometric", false),
    ]))
}
