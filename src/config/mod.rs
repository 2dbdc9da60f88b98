//! Pipeline files: TOML → [`RawPipeline`] → [`validate`] → [`Plan`].
//!
//! Loading is the only I/O here; [`validate`] is pure and collects every problem before
//! failing, each naming its key and what was expected. Command-line overrides (`--input`,
//! `--output`, `--set key=value`) are applied to the TOML tree before deserialising, so they
//! are checked exactly like values written in the file.

mod plan;
mod raw;
mod storage;

pub use plan::*;
pub use raw::*;

use crate::error::{Error, Result};
use std::path::Path;

/// Command-line overrides of a pipeline file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// Replaces `input.root`.
    pub input: Option<String>,
    /// Replaces `output.root`.
    pub output: Option<String>,
    /// `key.path=value` assignments; the value is parsed as TOML, else taken as a string.
    pub set: Vec<String>,
}

/// Read, override and validate a pipeline file.
///
/// # Errors
/// [`Error::Io`] if the file cannot be read, [`Error::Config`] listing every problem otherwise.
pub fn load(path: &Path, overrides: &Overrides) -> Result<Plan> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
    parse(&text, &path.display().to_string(), overrides)
}

/// Parse pipeline-file text (`origin` names it in errors), apply overrides, validate.
pub fn parse(text: &str, origin: &str, overrides: &Overrides) -> Result<Plan> {
    let fail = |problems: Vec<String>| Error::Config { origin: origin.to_string(), problems };
    // Parse the file as written first, so errors point at its own lines and columns.
    let as_written: RawPipeline =
        toml::from_str(text).map_err(|e| fail(vec![with_suggestion(e.to_string().trim_end())]))?;
    let raw = if overrides.input.is_none() && overrides.output.is_none() && overrides.set.is_empty() {
        as_written
    } else {
        let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| fail(vec![e.to_string()]))?;
        apply_overrides(&mut table, overrides).map_err(fail)?;
        RawPipeline::deserialize_table(table).map_err(|e| fail(vec![with_suggestion(&e)]))?
    };
    validate(&raw).map_err(fail)
}

/// Minimum similarity (normalised Damerau-Levenshtein) for a "did you mean" suggestion.
const SUGGEST_SIMILARITY: f64 = 0.5;

/// The option closest to `got`, if close enough to be a likely typo.
pub fn closest<'a>(got: &str, options: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    options
        .into_iter()
        .map(|o| (strsim::normalized_damerau_levenshtein(&got.to_ascii_lowercase(), o), o))
        .filter(|(score, _)| *score >= SUGGEST_SIMILARITY)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, o)| o)
}

/// Append "did you mean `x`?" to toml's "unknown field `y`, expected one of `a`, `b`" messages.
fn with_suggestion(msg: &str) -> String {
    let Some(rest) = msg.split("unknown field `").nth(1) else { return msg.to_string() };
    let Some((got, expected)) = rest.split_once('`') else { return msg.to_string() };
    let expected = expected.lines().next().unwrap_or("");
    let options = expected.split('`').skip(1).step_by(2);
    match closest(got, options) {
        Some(o) => format!("{msg}\n    did you mean `{o}`?"),
        None => msg.to_string(),
    }
}

impl RawPipeline {
    /// The pipeline of an overridden table, or toml's message naming the key at fault.
    fn deserialize_table(table: toml::Table) -> std::result::Result<Self, String> {
        // Re-serialising keeps toml's own error messages (expected types, unknown fields); the
        // span points into the re-serialised text, not the user's file, so it becomes a key.
        let text = toml::to_string(&table).expect("a parsed table serialises");
        toml::from_str(&text).map_err(|e: toml::de::Error| {
            let key = e.span().and_then(|span| key_at(&text, span.start));
            let at = key.map(|k| format!("`{k}`: ")).unwrap_or_default();
            format!("after command-line overrides: {at}{}", e.message())
        })
    }
}

/// The dotted key whose line holds byte `at` of serialised TOML (`[run]` then `mmap = ...`
/// gives `run.mmap`).
fn key_at(text: &str, at: usize) -> Option<String> {
    let before = text.get(..at)?;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next()?;
    let key = line.split_once('=').map(|(k, _)| k.trim().trim_matches('"'))?;
    let table = before[..line_start]
        .lines()
        .rev()
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').to_string());
    Some(match table {
        Some(t) => format!("{t}.{key}"),
        None => key.to_string(),
    })
}

fn apply_overrides(table: &mut toml::Table, o: &Overrides) -> std::result::Result<(), Vec<String>> {
    let mut problems = Vec::new();
    let mut sets: Vec<(String, toml::Value)> = Vec::new();
    if let Some(input) = &o.input {
        sets.push(("input.root".into(), toml::Value::String(input.clone())));
    }
    if let Some(output) = &o.output {
        sets.push(("output.root".into(), toml::Value::String(output.clone())));
    }
    for s in &o.set {
        match s.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => sets.push((k.trim().to_string(), parse_value(v.trim()))),
            _ => problems.push(format!("--set {s:?}: expected key.path=value, e.g. --set image.size=[256,256]")),
        }
    }
    for (key, value) in sets {
        if let Err(p) = set_path(table, &key, value) {
            problems.push(p);
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

fn parse_value(v: &str) -> toml::Value {
    let doc = format!("v = {v}");
    match doc.parse::<toml::Table>() {
        Ok(mut t) => t.remove("v").unwrap_or_else(|| toml::Value::String(v.to_string())),
        Err(_) => toml::Value::String(v.to_string()),
    }
}

fn set_path(table: &mut toml::Table, key: &str, value: toml::Value) -> std::result::Result<(), String> {
    let parts: Vec<&str> = key.split('.').collect();
    let (last, parents) = parts.split_last().expect("split yields at least one part");
    let mut cur = table;
    for p in parents {
        let entry = cur.entry(p.to_string()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        cur = entry.as_table_mut().ok_or_else(|| format!("--set {key}: `{p}` is not a table"))?;
    }
    cur.insert(last.to_string(), value);
    Ok(())
}

/// Check a raw pipeline and resolve defaults. Pure; returns every problem found.
pub fn validate(raw: &RawPipeline) -> std::result::Result<Plan, Vec<String>> {
    let mut p = Problems::default();
    let input = validate_input(raw, &mut p);
    let splits = validate_splits(raw, &mut p);
    let image = validate_image(&raw.image, &mut p);
    let labels = validate_labels(&raw.mask, &mut p);
    let output = validate_output(&raw.output, &image, labels.len(), &mut p);
    let run = validate_run(&raw.run, &input.root, &mut p);
    if p.0.is_empty() {
        Ok(Plan { input, splits, image, labels, output, run })
    } else {
        Err(p.0)
    }
}

#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn push(&mut self, key: &str, msg: impl std::fmt::Display) {
        self.0.push(format!("`{key}`: {msg}"));
    }

    /// Map a keyword to a value, or record the allowed keywords.
    fn choice<T: Copy>(&mut self, key: &str, value: Option<&str>, default: T, options: &[(&str, T)]) -> T {
        let Some(v) = value else { return default };
        match options.iter().find(|(name, _)| *name == v) {
            Some((_, t)) => *t,
            None => {
                let names: Vec<String> = options.iter().map(|(n, _)| format!("{n:?}")).collect();
                let hint = closest(v, options.iter().map(|(n, _)| *n))
                    .map(|o| format!(" (did you mean {o:?}?)"))
                    .unwrap_or_default();
                self.push(key, format!("got {v:?}, expected one of {}{hint}", names.join(", ")));
                default
            }
        }
    }

    /// An integer within `lo..=hi`, or `default` when absent.
    fn int(&mut self, key: &str, value: Option<i64>, default: usize, lo: i64, hi: i64) -> usize {
        match value {
            None => default,
            Some(v) if (lo..=hi).contains(&v) => v as usize,
            Some(v) => {
                self.push(key, format!("got {v}, expected an integer in {lo}..={hi}"));
                default
            }
        }
    }
}

fn validate_input(raw: &RawPipeline, p: &mut Problems) -> InputPlan {
    let i = &raw.input;
    let root = match i.root.as_deref() {
        Some(r) if !r.trim().is_empty() => r.to_string(),
        _ => {
            p.push("input.root", "missing: set it in the pipeline file or pass --input DIR");
            String::new()
        }
    };
    if !root.is_empty() {
        storage::validate_root("input.root", &root, p);
    }
    let s3 = storage::validate_s3("input", i.s3.as_ref(), p);
    let format = p.choice(
        "input.format",
        i.format.as_deref(),
        InputFormat::Auto,
        &[
            ("dicom", InputFormat::Dicom),
            ("png", InputFormat::Png),
            ("image", InputFormat::Png),
            ("auto", InputFormat::Auto),
        ],
    );
    if let Some(ext) = &i.image_extension {
        if ext.is_empty() || ext.contains('/') || ext.starts_with('.') {
            p.push("input.image_extension", format!("got {ext:?}, expected an extension without dot, e.g. \"dcm\""));
        }
    }
    InputPlan {
        root,
        s3,
        format,
        image_extension: i.image_extension.clone(),
        image_dir: i.image_dir.clone().map(|d| d.trim_matches('/').to_string()),
    }
}

fn validate_splits(raw: &RawPipeline, p: &mut Problems) -> Vec<SplitPlan> {
    if raw.splits.is_empty() {
        return vec![
            SplitPlan {
                name: "train".into(),
                annotations: "Vindr_RibCXR_train_mask.json".into(),
                images_split: "train".into(),
            },
            SplitPlan {
                name: "validation".into(),
                annotations: "Vindr_RibCXR_val_mask.json".into(),
                images_split: "val".into(),
            },
        ];
    }
    let mut out: Vec<SplitPlan> = Vec::new();
    for (n, s) in raw.splits.iter().enumerate() {
        let key = format!("split[{n}]");
        let name = s.name.clone().unwrap_or_default();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            p.push(
                &format!("{key}.name"),
                format!("got {name:?}, expected a non-empty name of letters, digits, '_' or '-'"),
            );
        } else if out.iter().any(|o| o.name == name) {
            p.push(&format!("{key}.name"), format!("split {name:?} appears twice"));
        }
        let Some(annotations) = s.annotations.clone().filter(|a| !a.is_empty()) else {
            p.push(&format!("{key}.annotations"), "missing: the annotation JSON path relative to input.root");
            continue;
        };
        let images_split = s.images_split.clone().unwrap_or_else(|| name.clone());
        out.push(SplitPlan { name, annotations, images_split });
    }
    out
}

fn validate_image(i: &RawImage, p: &mut Problems) -> ImagePlan {
    let (height, width) = match i.size.as_deref() {
        None => (512, 512),
        Some([h, w]) if (1..=16384).contains(h) && (1..=16384).contains(w) => (*h as u32, *w as u32),
        Some(v) => {
            p.push("image.size", format!("got {v:?}, expected [height, width] with each in 1..=16384"));
            (512, 512)
        }
    };
    let resize = p.choice(
        "image.resize",
        i.resize.as_deref(),
        ResizeMode::Stretch,
        &[("stretch", ResizeMode::Stretch), ("letterbox", ResizeMode::Letterbox)],
    );
    let filter = p.choice(
        "image.filter",
        i.filter.as_deref(),
        Filter::Area,
        &[
            ("area", Filter::Area),
            ("bilinear", Filter::Bilinear),
            ("bicubic", Filter::Bicubic),
            ("lanczos3", Filter::Lanczos3),
            ("nearest", Filter::Nearest),
        ],
    );
    let dtype = p.choice(
        "image.dtype",
        i.dtype.as_deref(),
        DType::Uint8,
        &[("uint8", DType::Uint8), ("uint16", DType::Uint16), ("float32", DType::Float32)],
    );
    let window = match &i.window {
        None => WindowChoice::File,
        Some(RawWindow::Keyword(k)) => p.choice(
            "image.window",
            Some(k),
            WindowChoice::File,
            &[("file", WindowChoice::File), ("minmax", WindowChoice::MinMax)],
        ),
        Some(RawWindow::Fixed { center, width }) => {
            if !center.is_finite() || !width.is_finite() || *width < 1.0 {
                p.push(
                    "image.window",
                    format!("got center {center}, width {width}: expected finite numbers with width >= 1"),
                );
            }
            WindowChoice::Fixed { center: *center, width: *width }
        }
    };
    let window_index = p.int("image.window_index", i.window_index, 0, 0, 255);
    let normalize = p.choice(
        "image.normalize",
        i.normalize.as_deref(),
        Normalize::None,
        &[("none", Normalize::None), ("minmax", Normalize::MinMax)],
    );
    let multiframe = p.choice(
        "image.multiframe",
        i.multiframe.as_deref(),
        MultiFrame::First,
        &[("first", MultiFrame::First), ("reject", MultiFrame::Reject)],
    );
    let color = p.choice(
        "image.color",
        i.color.as_deref(),
        ColorPolicy::Reject,
        &[("reject", ColorPolicy::Reject), ("luma", ColorPolicy::Luma)],
    );
    ImagePlan { height, width, resize, filter, dtype, window, window_index, normalize, multiframe, color }
}

fn validate_labels(m: &RawMask, p: &mut Problems) -> Vec<String> {
    let Some(labels) = &m.labels else { return default_labels() };
    if labels.is_empty() || labels.len() > 256 {
        p.push("mask.labels", format!("got {} labels, expected 1..=256", labels.len()));
    }
    for (n, l) in labels.iter().enumerate() {
        if l.is_empty() || l == "img" {
            p.push(
                &format!("mask.labels[{n}]"),
                format!("got {l:?}, expected an annotation column name such as \"R1\""),
            );
        } else if labels[..n].contains(l) {
            p.push(&format!("mask.labels[{n}]"), format!("label {l:?} appears twice"));
        }
    }
    labels.clone()
}

fn validate_output(o: &RawOutput, image: &ImagePlan, channels: usize, p: &mut Problems) -> OutputPlan {
    let root = match o.root.as_deref() {
        Some(r) if !r.trim().is_empty() => r.to_string(),
        _ => {
            p.push("output.root", "missing: set it in the pipeline file or pass --output DIR");
            String::new()
        }
    };
    if !root.is_empty() {
        storage::validate_root("output.root", &root, p);
    }
    let s3 = storage::validate_s3("output", o.s3.as_ref(), p);
    let format = p.choice(
        "output.format",
        o.format.as_deref(),
        OutputFormat::Parquet,
        &[("parquet", OutputFormat::Parquet), ("arrow", OutputFormat::Arrow)],
    );
    let pixels = image.height as usize * image.width as usize;
    let row_bytes = pixels * image.dtype.size() + pixels * channels;
    let shard_rows = match (o.shard_rows, o.shard_bytes) {
        (Some(_), Some(_)) => {
            p.push("output.shard_rows", "set either shard_rows or shard_bytes, not both");
            64
        }
        (_, Some(b)) if b >= 1 => (b as usize / row_bytes).max(1),
        (_, Some(b)) => {
            p.push("output.shard_bytes", format!("got {b}, expected a positive byte count"));
            64
        }
        (r, None) => p.int("output.shard_rows", r, 64, 1, 1_000_000),
    };
    let row_group_rows = p.int("output.row_group_rows", o.row_group_rows, 8, 1, 1_000_000).min(shard_rows);
    let level = p.int("output.compression_level", o.compression_level, 1, 1, 22) as i32;
    let compression = match o.compression.as_deref() {
        None | Some("zstd") => Compression::Zstd { level },
        Some("lz4") => Compression::Lz4,
        Some("snappy") if format == OutputFormat::Parquet => Compression::Snappy,
        Some("none") => Compression::None,
        Some(c) => {
            p.push(
                "output.compression",
                format!("got {c:?}, expected \"zstd\", \"lz4\", \"none\" (or \"snappy\" for parquet)"),
            );
            Compression::None
        }
    };
    let tensor_layout = p.choice(
        "output.tensor_layout",
        o.tensor_layout.as_deref(),
        TensorLayout::Binary,
        &[("binary", TensorLayout::Binary), ("nested", TensorLayout::Nested)],
    );
    if tensor_layout == TensorLayout::Nested && format != OutputFormat::Parquet {
        p.push(
            "output.tensor_layout",
            "\"nested\" applies to parquet; arrow output always uses arrow.fixed_shape_tensor",
        );
    }
    let overwrite = o.overwrite.unwrap_or(false);
    OutputPlan { root, s3, format, shard_rows, row_group_rows, compression, tensor_layout, overwrite }
}

/// Reads at once with `read_concurrency = 0` (the default): from a local disk a read is a copy
/// from the page cache or one disk queue, and more buffers only wait for the CPU stage (4 and 8
/// run at the same speed here, 4 with ~50 MB less memory); from S3 each GET waits on the
/// network first, so more are in flight.
pub const AUTO_READS_LOCAL: usize = 4;
/// See [`AUTO_READS_LOCAL`]: concurrent GETs for an `s3://` input.
pub const AUTO_READS_S3: usize = 8;

fn validate_run(r: &RawRun, input_root: &str, p: &mut Problems) -> RunPlan {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let workers = match p.int("run.workers", r.workers, 0, 0, 1024) {
        0 => cores,
        n => n,
    };
    let in_flight = match p.int("run.in_flight", r.in_flight, 0, 0, 4096) {
        0 => 2 * workers,
        n => n,
    };
    let read_concurrency = match p.int("run.read_concurrency", r.read_concurrency, 0, 0, 1024) {
        0 if matches!(crate::storage::Root::parse(input_root), Ok(crate::storage::Root::S3 { .. })) => AUTO_READS_S3,
        0 => AUTO_READS_LOCAL,
        n => n,
    };
    let max_rejects = r.max_rejects.as_ref().and_then(|v| max_rejects(v, p));
    RunPlan { workers, in_flight, read_concurrency, mmap: r.mmap.unwrap_or(true), max_rejects }
}

fn max_rejects(v: &toml::Value, p: &mut Problems) -> Option<MaxRejects> {
    let fraction = |f: f64| (0.0..=1.0).contains(&f).then_some(MaxRejects::Fraction(f));
    let parsed = match v {
        toml::Value::Integer(n) if *n >= 0 => Some(MaxRejects::Count(*n as usize)),
        toml::Value::Float(f) => fraction(*f),
        toml::Value::String(s) => {
            s.trim().strip_suffix('%').and_then(|n| n.trim().parse::<f64>().ok()).and_then(|f| fraction(f / 100.0))
        }
        _ => None,
    };
    if parsed.is_none() {
        p.push(
            "run.max_rejects",
            format!("got {v}, expected a count (10), a fraction (0.05) or a percentage (\"5%\")"),
        );
    }
    parsed
}

#[cfg(test)]
mod tests;
