//! `validate`: check a pipeline's inputs without processing any image.
//!
//! Every annotation file is read and parsed, every image path resolved and looked up in one
//! listing of the input root, and image files that no annotation refers to are reported.
//! Every problem is collected, each with its location (file, pandas key, path), so one run
//! of `validate` shows all there is to fix.

use super::annotations;
use super::image_path;
use crate::config::Plan;
use crate::error::{Error, Result};
use crate::storage::Location;
use std::collections::{BTreeMap, BTreeSet};

/// File extensions counted as images when looking for unreferenced files.
pub const IMAGE_EXTENSIONS: [&str; 6] = ["dcm", "dicom", "png", "jpg", "jpeg", "tif"];

/// One problem and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// File (and key) the problem is in.
    pub location: String,
    /// What is wrong.
    pub message: String,
}

/// What `validate` found.
#[derive(Debug, Default)]
pub struct CheckReport {
    /// `(split, annotated entries, images found)` per split.
    pub splits: Vec<(String, usize, usize)>,
    /// Every problem, in split and annotation order; unreferenced images last.
    pub problems: Vec<Problem>,
}

/// Check every split of `plan` against its input root.
///
/// # Errors
/// Only when the input root cannot be opened or listed; everything else is a [`Problem`].
pub async fn check_inputs(plan: &Plan) -> Result<CheckReport> {
    let input = Location::open(&plan.input.root, &plan.input.s3, false)?;
    let present: BTreeSet<String> = input.list().await?.into_iter().collect();
    let mut report = CheckReport::default();
    let mut referenced: BTreeMap<String, String> = BTreeMap::new();
    for split in &plan.splits {
        let ann = &split.annotations;
        let p = |location: String, message: String| Problem { location, message };
        if !present.contains(ann) {
            report.problems.push(p(input.describe(ann), format!("annotation file of split {} not found", split.name)));
            continue;
        }
        // The polygons are only checked, not kept: they go to a temporary file dropped here.
        let mut polygons = annotations::PolygonWriter::temporary();
        let entries = match annotations::parse_input(
            &input.get_input(ann).await?,
            &input.describe(ann),
            &plan.labels,
            &mut polygons,
        ) {
            Ok(e) => e,
            Err(Error::Annotations { path, message }) => {
                report.problems.push(p(path, message));
                continue;
            }
            Err(e) => return Err(e),
        };
        let mut found = 0;
        for e in &entries {
            let at = format!("{ann} key {:?} ({})", e.key, e.img);
            if let Err(err) = &e.polygons {
                report.problems.push(p(at.clone(), format!("{}: {}", err.stage, err.reason)));
            }
            match image_path(&e.img, &plan.input, split) {
                Err(err) => report.problems.push(p(at, err.reason)),
                Ok(path) if present.contains(&path) => {
                    found += 1;
                    referenced.insert(path, at);
                }
                Ok(path) => report.problems.push(p(at, format!("image not found: {}", input.describe(&path)))),
            }
        }
        report.splits.push((split.name.clone(), entries.len(), found));
    }
    report.problems.extend(unreferenced(&present, &referenced).map(|path| Problem {
        location: input.describe(&path),
        message: "image file not referenced by any annotation file".into(),
    }));
    Ok(report)
}

/// Image files in the folders that hold referenced images, that nothing refers to.
fn unreferenced<'a>(
    present: &'a BTreeSet<String>,
    referenced: &'a BTreeMap<String, String>,
) -> impl Iterator<Item = String> + 'a {
    let dir = |p: &str| p.rsplit_once('/').map_or(String::new(), |(d, _)| d.to_string());
    let dirs: BTreeSet<String> = referenced.keys().map(|p| dir(p)).collect();
    present
        .iter()
        .filter(move |p| dirs.contains(&dir(p)) && !referenced.contains_key(*p))
        .filter(|p| {
            let ext = p.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
            IMAGE_EXTENSIONS.contains(&ext.as_str())
        })
        .cloned()
}
