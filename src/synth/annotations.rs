//! Annotation JSON in the VinDr-RibCXR layout: pandas `DataFrame.to_json()` "columns"
//! orientation.
//!
//! Invariants: top-level keys are `img`, `R1`..`R10`, `L1`..`L10` in that order; each maps
//! row keys `"0"`, `"1"`, .. (in row order) to the image path (relative to the dataset root),
//! a list of `{"x": .., "y": ..}` points rounded to 4 decimals, or the string `"None"` for a
//! missing rib. Separators are compact. Insertion order is kept by serde_json's
//! `preserve_order` feature.

use super::anatomy::{Point, RIB_KEYS};
use crate::error::{Error, Result};
use serde_json::{Map, Value};

/// One row of a split: the image path and its 20 ribs in [`RIB_KEYS`] order.
pub struct Row<'a> {
    /// Image path relative to the dataset root, with `/` separators.
    pub img: &'a str,
    /// Rib polygons, `None` for a missing rib.
    pub ribs: &'a [Option<Vec<Point>>],
}

/// Serialise the rows of one split to compact JSON bytes.
pub fn to_json(rows: &[Row<'_>]) -> Result<Vec<u8>> {
    let mut columns = Map::new();
    let img = rows.iter().enumerate().map(|(r, row)| (r.to_string(), Value::from(row.img))).collect();
    columns.insert("img".to_owned(), Value::Object(img));
    for (k, key) in RIB_KEYS.iter().enumerate() {
        let column = rows
            .iter()
            .enumerate()
            .map(|(r, row)| (r.to_string(), rib_value(row.ribs.get(k).and_then(Option::as_ref))))
            .collect();
        columns.insert((*key).to_owned(), Value::Object(column));
    }
    serde_json::to_vec(&Value::Object(columns))
        .map_err(|e| Error::Internal(format!("synth: serialising annotations: {e}")))
}

fn rib_value(pts: Option<&Vec<Point>>) -> Value {
    match pts {
        // pandas writes Python's None stored in an object column as the string "None".
        None => Value::from("None"),
        Some(pts) => pts
            .iter()
            .map(|&(x, y)| {
                let mut p = Map::new();
                p.insert("x".to_owned(), Value::from(round4(x)));
                p.insert("y".to_owned(), Value::from(round4(y)));
                Value::Object(p)
            })
            .collect(),
    }
}

fn round4(v: f64) -> f64 {
    (v * 1e4).round() / 1e4
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_columns_layout() {
        let mut ribs: Vec<Option<Vec<Point>>> = vec![None; 20];
        ribs[0] = Some(vec![(1.234_56, 2.0), (3.0, 4.000_04)]);
        let rows = [Row { img: "data/train/img/VinDr_RibCXR_train_000.dcm", ribs: &ribs }];
        let text = String::from_utf8(to_json(&rows).unwrap()).unwrap();
        assert!(text.starts_with(
            r#"{"img":{"0":"data/train/img/VinDr_RibCXR_train_000.dcm"},"R1":{"0":[{"x":1.2346,"y":2.0},{"x":3.0,"y":4.0}]},"R2":{"0":"None"}"#
        ));
        assert!(text.ends_with(r#""L10":{"0":"None"}}"#));
    }

    #[test]
    fn empty_split_keeps_all_columns() {
        let text = String::from_utf8(to_json(&[]).unwrap()).unwrap();
        assert!(text.starts_with(r#"{"img":{},"R1":{},"#));
        assert!(text.ends_with(r#""L10":{}}"#));
    }
}
