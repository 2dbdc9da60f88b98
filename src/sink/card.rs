//! The Hugging Face dataset card (`README.md` at the output root).
//!
//! Its YAML header holds `configs` (one `data_files` glob per split, so
//! `datasets.load_dataset(OUTPUT)` finds the splits in pipeline order) and `dataset_info`
//! (features and split sizes), so the dataset loads with no code. Like the manifest it is
//! a pure function of the manifest (so `merge` writes the same card as a one-machine run): no
//! timestamps, hosts or absolute paths.
//!
//! What `datasets` yields per tensor layout (checked by `tests/python`): Parquet `binary`
//! → `bytes` of `H·W·itemsize` per row; Parquet `nested` → `Array2D`/`Array3D`; Arrow IPC
//! (`arrow.fixed_shape_tensor`) has no `datasets` equivalent, so that card states it.

use super::manifest::Manifest;
use crate::config::{OutputFormat, TensorLayout};
use std::fmt::Write;

/// File name of the card at the output root.
pub const FILE: &str = "README.md";

/// Output format and tensor layout, as the manifest records them (its canonical configuration
/// names `output.tensor_layout` only when it is not the default).
fn layout(m: &Manifest) -> (OutputFormat, TensorLayout) {
    let format =
        if m.output_format == OutputFormat::Arrow.extension() { OutputFormat::Arrow } else { OutputFormat::Parquet };
    let nested = m.config.pointer("/output/tensor_layout").and_then(|v| v.as_str()) == Some("nested");
    (format, if nested { TensorLayout::Nested } else { TensorLayout::Binary })
}

/// The card's text.
pub fn render(m: &Manifest) -> String {
    let (format, tensor_layout) = layout(m);
    let mut y = String::from("---\nconfigs:\n- config_name: default\n  data_files:\n");
    for s in &m.splits {
        let _ = write!(y, "  - split: {}\n    path: data/{}-*.{}\n", s.name, s.name, m.output_format);
    }
    y.push_str("dataset_info:\n");
    if format == OutputFormat::Parquet {
        y.push_str("  features:\n");
        for (name, ty) in features(m, tensor_layout) {
            let _ = writeln!(y, "  - name: {name}\n{ty}");
        }
    }
    y.push_str("  splits:\n");
    for s in &m.splits {
        let _ = write!(y, "  - name: {}\n    num_bytes: {}\n    num_examples: {}\n", s.name, s.bytes, s.rows);
    }
    let total: u64 = m.splits.iter().map(|s| s.bytes).sum();
    let _ = write!(y, "  download_size: {total}\n  dataset_size: {total}\n---\n\n");
    y + &body(m)
}

/// `(name, indented YAML type lines)` per column, in schema order.
fn features(m: &Manifest, layout: TensorLayout) -> Vec<(&'static str, String)> {
    let dtype = |t: &str| format!("    dtype: {t}");
    let list = |t: &str| format!("    list: {t}");
    let tensor = |shape: &[usize], dt: &str| match layout {
        TensorLayout::Binary => dtype("binary"),
        TensorLayout::Nested => {
            let kind = if shape.len() == 2 { "array2_d" } else { "array3_d" };
            let dims: Vec<String> = shape.iter().map(|d| format!("        - {d}")).collect();
            format!("    dtype:\n      {kind}:\n        shape:\n{}\n        dtype: {dt}", dims.join("\n"))
        }
    };
    let ribs = "    list:\n    - name: label\n      dtype: string\n    - name: polygon\n      list: float64\n    - name: bbox\n      list: int32\n      length: 4";
    vec![
        ("image_id", dtype("string")),
        ("split", dtype("string")),
        ("source", dtype("string")),
        ("image", tensor(&m.image.shape, &m.image.dtype)),
        ("mask", tensor(&m.mask.shape, &m.mask.dtype)),
        ("labels_present", list("string")),
        ("ribs", ribs.to_string()),
        ("orig_height", dtype("int32")),
        ("orig_width", dtype("int32")),
        ("scale_x", dtype("float64")),
        ("scale_y", dtype("float64")),
        ("pad_x", dtype("int32")),
        ("pad_y", dtype("int32")),
        ("clipped_points", dtype("int32")),
        ("window_center", dtype("float64")),
        ("window_width", dtype("float64")),
        ("window_source", dtype("string")),
        ("voi_function", dtype("string")),
        ("photometric", dtype("string")),
    ]
}

fn body(m: &Manifest) -> String {
    let (format, tensor_layout) = layout(m);
    let (img, mask) = (&m.image, &m.mask);
    let mut b = String::from("# Rib segmentation shards (cxrshard)\n\n");
    let _ = writeln!(
        b,
        "Chest X-rays with one binary mask channel per rib, written by {} {}.\n\n\
         - `image`: `{:?}` `{}`; `mask`: `{:?}` `uint8` (0/1), channels in this order: {}\n\
         - splits: {}\n\
         - pipeline configuration sha256: `{}` (full settings and every rejected input: `manifest.json`)\n",
        m.tool.name,
        m.tool.version,
        img.shape,
        img.dtype,
        mask.shape,
        m.labels.join(", "),
        m.splits.iter().map(|s| format!("{} ({} rows)", s.name, s.rows)).collect::<Vec<_>>().join(", "),
        m.config_sha256,
    );
    let shape = |s: &[usize]| s.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ");
    let load = match (format, tensor_layout) {
        (OutputFormat::Parquet, TensorLayout::Binary) => format!(
            "```python\nimport datasets, numpy as np\nds = datasets.load_dataset(\"path/to/this/folder\")\n\
             row = ds[\"train\"][0]\nimage = np.frombuffer(row[\"image\"], np.{}).reshape({})\n\
             mask = np.frombuffer(row[\"mask\"], np.uint8).reshape({})\n```\n\n\
             `image` and `mask` load as raw bytes (C order, little-endian); reshape them as above.\n",
            img.dtype,
            shape(&img.shape),
            shape(&mask.shape)
        ),
        (OutputFormat::Parquet, TensorLayout::Nested) => "```python\nimport datasets, numpy as np\n\
             ds = datasets.load_dataset(\"path/to/this/folder\").with_format(\"numpy\")\n\
             image, mask = ds[\"train\"][0][\"image\"], ds[\"train\"][0][\"mask\"]\n```\n\n\
             `image` and `mask` load as `Array2D`/`Array3D` (NumPy format widens integers to int64 unless \
             `with_format(\"numpy\", dtype=np.uint8)`).\n"
            .to_string(),
        (OutputFormat::Arrow, _) => {
            "These are Arrow IPC files with `arrow.fixed_shape_tensor` columns: read them with \
             pyarrow (`pa.ipc.open_file(...).read_all()`). Hugging Face `datasets` has no equivalent of that type; \
             write Parquet (`output.format = \"parquet\"`) to load with `datasets.load_dataset`.\n"
                .to_string()
        }
    };
    b + "## Loading\n\n" + &load
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{parse, Overrides};
    use crate::sink::manifest::{Tensor, Tool};

    /// The card must list exactly the shard columns, in order, or `datasets` refuses to cast.
    #[test]
    fn card_features_name_every_shard_column_in_order() {
        let plan = parse("[input]\nroot = \"i\"\n[output]\nroot = \"o\"\n", "t", &Overrides::default()).unwrap();
        let tensor = |shape: Vec<usize>| Tensor { shape, dtype: "uint8".into(), storage: String::new() };
        let m = Manifest {
            format: String::new(),
            tool: Tool { name: String::new(), version: String::new() },
            config: serde_json::Value::Null,
            config_sha256: String::new(),
            output_format: "parquet".into(),
            labels: plan.labels.clone(),
            image: tensor(vec![512, 512]),
            mask: tensor(vec![20, 512, 512]),
            splits: vec![],
            unreferenced_images: vec![],
        };
        let names: Vec<&str> = features(&m, TensorLayout::Binary).iter().map(|(n, _)| *n).collect();
        let schema = crate::sink::schema::schema(&plan);
        let columns: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, columns);
    }
}
