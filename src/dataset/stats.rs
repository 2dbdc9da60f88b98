//! `inspect`: a summary of a written dataset, from its manifest and one pass over the shards.
//!
//! Per-label statistics are computed from the masks themselves (not the annotations), so they
//! show what a training job will actually see.

use super::{for_each_row, Dataset};
use crate::error::Result;
use serde::Serialize;
use std::fmt::Write;

/// Per-label mask statistics over every row of every split.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LabelStats {
    /// Label (mask channel) name.
    pub label: String,
    /// Rows whose channel is non-empty.
    pub present: usize,
    /// Mean mask area in pixels over the rows where the label is present.
    pub mean_area_px: f64,
    /// The same as a fraction of the image area.
    pub mean_area_fraction: f64,
}

/// One shard as found on storage.
#[derive(Debug, Clone, Serialize)]
pub struct ShardSummary {
    /// Path relative to the root.
    pub path: String,
    /// Rows.
    pub rows: usize,
    /// Bytes.
    pub bytes: u64,
}

/// One split.
#[derive(Debug, Clone, Serialize)]
pub struct SplitSummary {
    /// Name.
    pub name: String,
    /// Inputs listed.
    pub inputs: usize,
    /// Rows written.
    pub rows: usize,
    /// Inputs rejected.
    pub rejected: usize,
    /// Shards.
    pub shards: Vec<ShardSummary>,
    /// `source: stage: reason` of every reject.
    pub rejects: Vec<String>,
}

/// The whole summary (`inspect --json` prints it as is).
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Output root.
    pub root: String,
    /// `parquet` or `arrow`.
    pub format: String,
    /// Tool that wrote it.
    pub tool: String,
    /// Per split.
    pub splits: Vec<SplitSummary>,
    /// `name: type` per column of the first shard.
    pub schema: Vec<String>,
    /// Image shape and dtype.
    pub image: String,
    /// Mask shape and dtype.
    pub mask: String,
    /// The canonical pipeline configuration.
    pub config: serde_json::Value,
    /// sha256 of it.
    pub config_sha256: String,
    /// Rows read from the shards (equals the manifest's total unless files changed).
    pub rows_read: usize,
    /// Per label, in channel order.
    pub labels: Vec<LabelStats>,
}

/// Read the manifest and every shard and summarise.
///
/// # Errors
/// Storage or decode errors from [`Dataset`].
pub async fn summarize(ds: &Dataset) -> Result<Summary> {
    let m = &ds.manifest;
    let channels = m.labels.len();
    let plane: usize = m.mask.shape.iter().skip(1).product();
    let (mut present, mut area) = (vec![0usize; channels], vec![0u64; channels]);
    let (mut rows_read, mut schema) = (0usize, Vec::new());
    for split in &m.splits {
        for shard in &split.shards {
            let (s, batches) = ds.read_shard(&shard.path).await?;
            if schema.is_empty() {
                schema = s.fields().iter().map(|f| format!("{}: {}", f.name(), f.data_type())).collect();
            }
            for b in &batches {
                for_each_row(b, |row| {
                    rows_read += 1;
                    for (c, ch) in row.mask.chunks_exact(plane).enumerate().take(channels) {
                        let a = ch.iter().map(|&v| u64::from(v)).sum::<u64>();
                        present[c] += usize::from(a > 0);
                        area[c] += a;
                    }
                })?;
            }
        }
    }
    let labels = m
        .labels
        .iter()
        .enumerate()
        .map(|(c, label)| {
            let mean = if present[c] > 0 { area[c] as f64 / present[c] as f64 } else { 0.0 };
            LabelStats {
                label: label.clone(),
                present: present[c],
                mean_area_px: mean,
                mean_area_fraction: mean / plane.max(1) as f64,
            }
        })
        .collect();
    Ok(Summary {
        root: ds.display().to_string(),
        format: m.output_format.clone(),
        tool: format!("{} {}", m.tool.name, m.tool.version),
        splits: m.splits.iter().map(split_summary).collect(),
        schema,
        image: format!("{:?} {}", m.image.shape, m.image.dtype),
        mask: format!("{:?} {}", m.mask.shape, m.mask.dtype),
        config: m.config.clone(),
        config_sha256: m.config_sha256.clone(),
        rows_read,
        labels,
    })
}

fn split_summary(s: &crate::sink::manifest::SplitRecord) -> SplitSummary {
    SplitSummary {
        name: s.name.clone(),
        inputs: s.inputs,
        rows: s.rows,
        rejected: s.rejected,
        shards: s.shards.iter().map(|h| ShardSummary { path: h.path.clone(), rows: h.rows, bytes: h.bytes }).collect(),
        rejects: s.rejects.iter().map(|r| format!("{}: {}: {}", r.source, r.stage, r.reason)).collect(),
    }
}

/// The human-readable report.
pub fn render(s: &Summary) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "dataset   {} ({}, written by {})", s.root, s.format, s.tool);
    let _ = writeln!(o, "image     {}\nmask      {}", s.image, s.mask);
    let _ = writeln!(o, "config    sha256 {}", s.config_sha256);
    for (section, v) in s.config.as_object().into_iter().flatten() {
        if section != "splits" && section != "labels" {
            let _ = writeln!(o, "  {section:<8}{v}");
        }
    }
    let _ =
        writeln!(o, "\n{:<12} {:>7} {:>6} {:>9} {:>7} {:>10}", "split", "inputs", "rows", "rejected", "shards", "MB");
    for sp in &s.splits {
        let mb = sp.shards.iter().map(|h| h.bytes).sum::<u64>() as f64 / 1e6;
        let _ = writeln!(
            o,
            "{:<12} {:>7} {:>6} {:>9} {:>7} {:>10.2}",
            sp.name,
            sp.inputs,
            sp.rows,
            sp.rejected,
            sp.shards.len(),
            mb
        );
        for h in &sp.shards {
            let _ = writeln!(o, "  {:<40} {:>5} rows {:>10.2} MB", h.path, h.rows, h.bytes as f64 / 1e6);
        }
        for r in &sp.rejects {
            let _ = writeln!(o, "  rejected {r}");
        }
    }
    let _ = writeln!(o, "\nschema\n  {}", s.schema.join("\n  "));
    let _ = writeln!(
        o,
        "\n{:<6} {:>8} {:>14} {:>9}   ({} rows read)",
        "label", "present", "mean area px", "% image", s.rows_read
    );
    for l in &s.labels {
        let _ = writeln!(
            o,
            "{:<6} {:>8} {:>14.1} {:>8.2}%",
            l.label,
            l.present,
            l.mean_area_px,
            100.0 * l.mean_area_fraction
        );
    }
    o
}
