//! VinDr-RibCXR annotation files: pandas `DataFrame.to_json()` in "columns" orientation.
//!
//! ```json
//! {"img": {"0": "data/train/img/VinDr_RibCXR_train_000.png", ...},
//!  "R1":  {"0": [{"x": 812.3, "y": 640.1}, ...], "1": "None"}, ..., "L10": {...}}
//! ```
//! A file that is not such an object fails the whole split (with the location); a single
//! row that is unusable becomes an [`Entry`] whose `polygons` is an [`InputError`], so it is
//! counted and reported but never silently dropped. Rows keep the pandas index order
//! (integer keys sorted numerically), which fixes each input's position and hence its shard.

use crate::error::{Error, InputError, Result, Stage};
use crate::storage::Input;
use indexmap::IndexSet;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::collections::HashMap;

mod cells;
mod frame;
mod pandas;
mod store;

pub use store::{Block, CellRef, PolygonStore, PolygonWriter, StoredRow};

/// A polygon in original-image pixel coordinates.
pub type Polygon = Vec<[f64; 2]>;

/// A row's polygons in memory: one slot per configured label, `None` = rib absent.
pub type Polygons = Vec<Option<Polygon>>;

/// One annotation row. `P` holds its polygons: in memory ([`Polygons`], what [`parse`]
/// returns) or as references into a [`PolygonStore`] ([`StoredRow`], what [`parse_into`]
/// returns).
#[derive(Debug, Clone, PartialEq)]
pub struct Entry<P = Polygons> {
    /// The pandas index key (`"0"`, `"1"`, ...).
    pub key: String,
    /// The `img` value, as written.
    pub img: String,
    /// File stem of `img`: the row's `image_id`.
    pub image_id: String,
    /// The row's polygons, or why the row is unusable.
    pub polygons: std::result::Result<P, InputError>,
}

/// Parse an annotation file for the given label columns, polygons in memory.
///
/// # Errors
/// [`Error::Annotations`] when the text is not JSON (with line and column), is not an object
/// of columns, lacks the `img` column or a configured label column.
pub fn parse(bytes: &[u8], location: &str, labels: &[String]) -> Result<Vec<Entry>> {
    let mut writer = PolygonWriter::in_memory();
    let rows = parse_into(bytes, location, labels, &mut writer)?;
    let store = writer.finish().map_err(|e| Error::Internal(format!("polygon store in memory: {e}")))?;
    rows.into_iter()
        .map(|e| {
            let polygons = match e.polygons {
                Ok(row) => {
                    Ok(store.load(&row).map_err(|e| Error::Internal(format!("polygon store in memory: {e}")))?)
                }
                Err(err) => Err(err),
            };
            Ok(Entry { key: e.key, img: e.img, image_id: e.image_id, polygons })
        })
        .collect()
}

/// Parse an annotation file for the given label columns, writing the polygons to `store`;
/// each usable row holds one [`CellRef`] per label. Rows come back in pandas index order.
///
/// # Errors
/// As [`parse`], and [`Error::Annotations`] when the store cannot be written.
pub fn parse_into(
    bytes: &[u8],
    location: &str,
    labels: &[String],
    store: &mut PolygonWriter,
) -> Result<Vec<Entry<StoredRow>>> {
    parse_releasing(bytes, location, labels, store, &|_| {})
}

/// [`parse_into`] of a file as read from storage: a mapped file's pages are released
/// ([`Input::release`]) as soon as each column is parsed, so the file is never held whole
/// (~20 KB an image: 160 MB for 8,000 images).
///
/// # Errors
/// As [`parse_into`].
pub fn parse_input(
    input: &Input,
    location: &str,
    labels: &[String],
    store: &mut PolygonWriter,
) -> Result<Vec<Entry<StoredRow>>> {
    parse_releasing(input.bytes(), location, labels, store, &|done| input.release(done))
}

/// The columns of a file, each parsed as soon as it is scanned: `img` as JSON values, the
/// label columns into the store (their cells keep offsets in it), others skipped. A label
/// column read after `img` goes straight to its rows' slots; one read before waits for it.
struct Columns {
    /// Column names in file order, each once (for messages).
    names: IndexSet<String>,
    img: Option<std::result::Result<Img, String>>,
    /// Per configured label: its column, or why it is unusable.
    cells: Vec<Option<std::result::Result<LabelColumn, String>>>,
}

/// The `img` column: its rows in pandas index order, and their cells as label columns come.
struct Img {
    map: Map<String, Value>,
    keys: Vec<String>,
    row_of: HashMap<String, usize>,
    /// `slots[row * labels + label]`: the row's cell of that label, once its column is read.
    slots: Vec<Option<StoredCell>>,
}

/// A label column that was read.
enum LabelColumn {
    /// Its cells are in the rows' slots.
    Placed,
    /// Read before `img`: its cells wait for the rows.
    Waiting(StoredColumn),
}

/// A label column's cells (row key, cell), their polygons in the store.
struct StoredColumn {
    cells: Vec<(String, StoredCell)>,
}

impl Columns {
    fn img_read(&mut self, column: std::result::Result<Map<String, Value>, String>, labels: usize) {
        if self.img.is_some() {
            // Label columns already placed went to the first one's rows.
            self.img = Some(Err("column \"img\" appears more than once".into()));
            return;
        }
        self.img = Some(column.map(|map| {
            let mut keys: Vec<String> = map.keys().cloned().collect();
            sort_keys(&mut keys);
            let row_of = keys.iter().enumerate().map(|(i, k)| (k.clone(), i)).collect();
            let slots = vec![None; keys.len() * labels];
            let mut img = Img { map, keys, row_of, slots };
            for (j, cell) in self.cells.iter_mut().enumerate() {
                if let Some(Ok(waiting @ LabelColumn::Waiting(_))) = cell {
                    if let LabelColumn::Waiting(column) = std::mem::replace(waiting, LabelColumn::Placed) {
                        img.place(j, labels, column);
                    }
                }
            }
            img
        }));
    }

    fn label_read(&mut self, j: usize, column: std::result::Result<StoredColumn, String>, labels: usize) {
        self.cells[j] = Some(column.map(|column| match &mut self.img {
            Some(Ok(img)) => {
                img.place(j, labels, column);
                LabelColumn::Placed
            }
            _ => LabelColumn::Waiting(column),
        }));
    }
}

impl Img {
    /// Put label `j`'s cells in their rows' slots (replacing an earlier column of that label:
    /// the last one read counts); cells of rows `img` does not have are dropped.
    fn place(&mut self, j: usize, labels: usize, column: StoredColumn) {
        for row in 0..self.keys.len() {
            self.slots[row * labels + j] = None;
        }
        for (key, cell) in column.cells {
            if let Some(&row) = self.row_of.get(&key) {
                self.slots[row * labels + j] = Some(cell);
            }
        }
    }
}

/// Why [`scan_columns`] stopped.
enum ScanError {
    /// The text is not a JSON object (or not JSON); the caller finds out which, and why.
    Json,
    /// The polygon store could not be written: which column, and why.
    Store(String),
}

/// Scan the file's top-level object column by column (see [`Columns`] and [`frame`]),
/// releasing each column's text as soon as it is parsed.
fn scan_columns(
    bytes: &[u8],
    labels: &[String],
    store: &mut PolygonWriter,
    release: &dyn Fn(&[u8]),
) -> std::result::Result<Columns, ScanError> {
    let mut columns = Columns { names: IndexSet::new(), img: None, cells: (0..labels.len()).map(|_| None).collect() };
    let (mut stored, mut json) = (Ok(()), Ok(()));
    // One vertex buffer for every column in pandas' form: grown once, not column by column.
    let mut spare = Vec::new();
    let mut each = |name: String, value: &mut frame::Value| {
        if name == "img" {
            let Some(raw) = value.raw() else {
                json = Err(ScanError::Json);
                return false;
            };
            columns.img_read(object_column(&name, raw), labels.len());
        }
        for (j, _) in labels.iter().enumerate().filter(|(_, l)| **l == name) {
            let cells = match value.pandas_column(std::mem::take(&mut spare)) {
                Some(cells) => Ok(cells),
                None => match value.raw() {
                    Some(raw) => label_column(&name, raw),
                    None => {
                        json = Err(ScanError::Json);
                        return false;
                    }
                },
            };
            let stored_column = cells.map(|mut cells| {
                let column = store_column(&mut cells, store);
                spare = cells.points;
                column
            });
            let column = match stored_column {
                Ok(Ok(column)) => Ok(column),
                Ok(Err(e)) => {
                    stored = Err(format!("column {name:?}: storing its polygons: {e}"));
                    return false;
                }
                Err(message) => Err(message),
            };
            columns.label_read(j, column, labels.len());
        }
        columns.names.insert(name);
        true
    };
    let mut released = 0;
    let walked = frame::entries(bytes, &mut each, |end| {
        release(&bytes[released..end]);
        released = end;
    });
    stored.map_err(ScanError::Store)?;
    json?;
    walked.map_err(|frame::NotAnObject| ScanError::Json)?;
    Ok(columns)
}

/// A label column's polygons written to the store, in one block; its cells keep offsets (the
/// column is left with its vertices, for the caller to reuse the buffer).
fn store_column(column: &mut cells::ColumnCells, store: &mut PolygonWriter) -> std::io::Result<StoredColumn> {
    let block = match column.cells.iter().any(|(_, c)| matches!(c, Ok(Some(_)))) {
        true => Some(store.append_block(&column.points)?),
        false => None,
    };
    let cells = column
        .cells
        .drain(..)
        .map(|(key, cell)| {
            let stored = match (cell, block) {
                (Ok(Some(range)), Some(at)) => at.cell(range),
                (Ok(_), _) => Ok(CellRef::ABSENT),
                (Err(message), _) => Err(message),
            };
            (key, stored)
        })
        .collect();
    Ok(StoredColumn { cells })
}

fn parse_releasing(
    bytes: &[u8],
    location: &str,
    labels: &[String],
    store: &mut PolygonWriter,
    release: &dyn Fn(&[u8]),
) -> Result<Vec<Entry<StoredRow>>> {
    let fail = |message: String| Error::Annotations { path: location.to_string(), message };
    let fixed;
    let columns = match scan_columns(bytes, labels, store, release) {
        Ok(c) => c,
        Err(ScanError::Store(message)) => return Err(fail(message)),
        // Only on failure is the file scanned again, to say why.
        Err(ScanError::Json) => match serde_json::from_slice::<IgnoredAny>(bytes) {
            Ok(_) => return Err(not_columns(bytes, &fail)),
            // Python's json module writes NaN/Infinity, which JSON does not allow; read them as null so
            // the rows holding them are rejected with a reason instead of failing the whole file.
            Err(e) => {
                fixed = non_finite_to_null(bytes)
                    .filter(|f| serde_json::from_slice::<IgnoredAny>(f).is_ok())
                    .ok_or_else(|| fail(format!("not valid JSON: {e}")))?;
                match scan_columns(&fixed, labels, store, release) {
                    Ok(c) => c,
                    Err(ScanError::Store(message)) => return Err(fail(message)),
                    Err(ScanError::Json) => return Err(not_columns(&fixed, &fail)),
                }
            }
        },
    };
    let missing = |name: &str| {
        let present: Vec<&str> = columns.names.iter().map(String::as_str).take(30).collect();
        format!("column {name:?} missing; columns present: {}", present.join(", "))
    };
    let img = columns.img.ok_or_else(|| missing("img")).and_then(|c| c).map_err(&fail)?;
    for (label, column) in labels.iter().zip(&columns.cells) {
        match column {
            None => return Err(fail(missing(label))),
            Some(Err(message)) => return Err(fail(message.clone())),
            Some(Ok(_)) => {}
        }
    }
    let Img { map: img, keys, slots, .. } = img;
    let mut seen: HashMap<String, String> = HashMap::new();
    let width = labels.len().max(1);
    let entries = keys
        .into_iter()
        .zip(slots.chunks(width).chain(std::iter::repeat(&[][..])))
        .map(|(key, row)| {
            let mut entry = parse_row(&key, &img[&key], labels, row);
            if entry.image_id.is_empty() {
                return entry;
            }
            match seen.get(&entry.image_id) {
                Some(first) if entry.polygons.is_ok() => {
                    entry.polygons = Err(InputError::new(
                        Stage::Annotation,
                        format!("duplicate image_id {:?}: row {key} repeats row {first}", entry.image_id),
                    ));
                }
                Some(_) => {}
                None => {
                    seen.insert(entry.image_id.clone(), key.clone());
                }
            }
            entry
        })
        .collect();
    Ok(entries)
}

/// The error for valid JSON that is not an object of columns.
fn not_columns(text: &[u8], fail: &dyn Fn(String) -> Error) -> Error {
    let root: Value = serde_json::from_slice(text).unwrap_or(Value::Null);
    fail(format!("expected a JSON object of columns (pandas to_json \"columns\" orientation), got {}", kind(&root)))
}

/// One parsed label cell: a polygon, absent, or why it is unusable.
type Cell = std::result::Result<Option<Polygon>, String>;

/// One label cell in a store: its reference ([`CellRef::ABSENT`] if absent), or why it is
/// unusable.
type StoredCell = std::result::Result<CellRef, String>;

/// Parse one column (an object of rows) from its text.
fn object_column(name: &str, raw: &RawValue) -> std::result::Result<Map<String, Value>, String> {
    match serde_json::from_str::<Value>(raw.get()) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(other) => Err(format!("column {name:?}: expected an object of rows, got {}", kind(&other))),
        Err(e) => Err(format!("column {name:?}: {e}")),
    }
}

/// Parse one label column straight into cells (no `Value` tree: a tree is ~10x its text and
/// slow to build). Only when that fails is the column parsed again as a `Value` to say why.
fn label_column(name: &str, raw: &RawValue) -> std::result::Result<cells::ColumnCells, String> {
    if let Some(cells) = pandas::column(raw.get()) {
        return Ok(cells);
    }
    if let Ok(cells) = serde_json::from_str::<cells::ColumnCells>(raw.get()) {
        return Ok(cells);
    }
    let mut out = cells::ColumnCells::default();
    for (key, value) in object_column(name, raw)? {
        let cell = parse_polygon(&value).map(|p| {
            p.map(|p| {
                let start = out.points.len();
                out.points.extend(p);
                start..out.points.len()
            })
        });
        out.cells.push((key, cell));
    }
    Ok(out)
}

/// Integer keys numerically (pandas' index order), then any other keys lexicographically.
fn sort_keys(keys: &mut [String]) {
    keys.sort_by(|a, b| match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        (Ok(_), Err(_)) => std::cmp::Ordering::Less,
        (Err(_), Ok(_)) => std::cmp::Ordering::Greater,
        _ => a.cmp(b),
    });
}

fn parse_row(key: &str, img: &Value, labels: &[String], row: &[Option<StoredCell>]) -> Entry<StoredRow> {
    let img_str = img.as_str().unwrap_or_default().to_string();
    let image_id = file_stem(&img_str).to_string();
    let polygons = if img_str.is_empty() {
        Err(InputError::new(
            Stage::Annotation,
            format!("row {key}: \"img\" is {}, expected a non-empty path string", kind(img)),
        ))
    } else {
        labels
            .iter()
            .zip(row.iter().chain(std::iter::repeat(&None)))
            .map(|(label, cell)| match cell {
                None => Err(InputError::new(
                    Stage::Annotation,
                    format!("row {key}: column {label:?} has no entry for this row"),
                )),
                Some(cell) => {
                    cell.clone().map_err(|m| InputError::new(Stage::Annotation, format!("row {key}, {label}: {m}")))
                }
            })
            .collect()
    };
    Entry { key: key.to_string(), img: img_str, image_id, polygons }
}

/// `"None"`/`null` → absent; a list of `{"x","y"}` objects (or `[x, y]` pairs) → polygon.
fn parse_polygon(v: &Value) -> Cell {
    let items = match v {
        Value::Null => return Ok(None),
        Value::String(s) if is_absent(s) => return Ok(None),
        Value::Array(items) => items,
        other => return Err(not_points(kind(other))),
    };
    let points = items
        .iter()
        .enumerate()
        .map(|(n, p)| parse_point(p).ok_or_else(|| bad_point(n, p)))
        .collect::<std::result::Result<Polygon, String>>()?;
    polygon(points)
}

/// A string cell that means the rib is absent (pandas writes `"None"`).
fn is_absent(s: &str) -> bool {
    s == "None" || s.is_empty()
}

/// Why a cell that is neither a list of points nor absent is unusable.
fn not_points(kind: &str) -> String {
    format!("expected a list of points or \"None\", got {kind}")
}

/// Why point `n` of a cell is unusable.
fn bad_point(n: usize, p: &Value) -> String {
    format!(
        "point {n}: expected {{\"x\": number, \"y\": number}} with finite values, got {p} (null is how \
         NaN/Infinity/missing values read)"
    )
}

/// A cell's complete list of points: a polygon needs at least 3.
fn polygon(points: Polygon) -> Cell {
    enough_points(points.len())?;
    Ok(Some(points))
}

/// Why `n` points are not a polygon, if they are not.
fn enough_points(n: usize) -> std::result::Result<(), String> {
    if n < 3 {
        return Err(format!("polygon has {n} point(s), expected at least 3"));
    }
    Ok(())
}

fn parse_point(p: &Value) -> Option<[f64; 2]> {
    let (x, y) = match p {
        Value::Object(m) => (m.get("x")?.as_f64()?, m.get("y")?.as_f64()?),
        Value::Array(a) if a.len() == 2 => (a[0].as_f64()?, a[1].as_f64()?),
        _ => return None,
    };
    (x.is_finite() && y.is_finite()).then_some([x, y])
}

/// Replace the bare tokens `NaN`, `Infinity` and `-Infinity` outside strings with `null`.
/// Returns `None` when there are none (so the original parse error stands).
fn non_finite_to_null(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len());
    let (mut i, mut in_string, mut changed) = (0, false, false);
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            out.push(b);
            if b == b'\\' && i + 1 < bytes.len() {
                out.push(bytes[i + 1]);
                i += 1;
            } else if b == b'"' {
                in_string = false;
            }
        } else if let Some(len) =
            [&b"-Infinity"[..], b"Infinity", b"NaN"].iter().find(|t| bytes[i..].starts_with(t)).map(|t| t.len())
        {
            out.extend_from_slice(b"null");
            changed = true;
            i += len;
            continue;
        } else {
            in_string = b == b'"';
            out.push(b);
        }
        i += 1;
    }
    changed.then_some(out)
}

/// The last path component without its extension.
pub fn file_stem(path: &str) -> &str {
    let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
    match name.rfind('.') {
        Some(i) if i > 0 => &name[..i],
        _ => name,
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> Vec<String> {
        vec!["R1".into(), "L1".into()]
    }

    #[test]
    fn parses_pandas_columns_layout_in_index_order() {
        let json = r#"{"img": {"10": "data/train/img/b.png", "2": "data/train/img/a.png"},
            "R1": {"2": [{"x": 1, "y": 2}, {"x": 3, "y": 4}, {"x": 5, "y": 0.5}], "10": "None"},
            "L1": {"2": "None", "10": [[0, 0], [4, 0], [4, 4]]}}"#;
        let e = parse(json.as_bytes(), "t.json", &labels()).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!((e[0].key.as_str(), e[0].image_id.as_str()), ("2", "a"));
        assert_eq!(e[1].image_id, "b");
        let p0 = e[0].polygons.as_ref().unwrap();
        assert_eq!(p0[0].as_ref().unwrap()[2], [5.0, 0.5]);
        assert!(p0[1].is_none(), "\"None\" is an absent rib");
        let p1 = e[1].polygons.as_ref().unwrap();
        assert!(p1[0].is_none());
        assert_eq!(p1[1].as_ref().unwrap().len(), 3);
    }

    /// Each column's text is released as soon as it is parsed: the released ranges run from
    /// the start of the file to the end of each column in turn, one per column (extra columns
    /// too). Columns in any order give the same rows; a repeated column counts once, the last.
    #[test]
    fn columns_are_released_in_turn_and_their_order_does_not_matter() {
        let pandas = r#"{"img": {"0": "a.png", "1": "b.png"}, "R1": {"0": [[0, 0], [4, 0], [4, 4]], "1": "None"},
            "L1": {"0": "None", "1": [[1, 1], [5, 1], [5, 5]]}}"#;
        let shuffled = r#"{"L1": {"0": "None", "1": [[1, 1], [5, 1], [5, 5]]}, "extra": [1, 2, 3],
            "R1": {"0": "None", "1": "None"}, "img": {"0": "a.png", "1": "b.png"},
            "R1": {"0": [[0, 0], [4, 0], [4, 4]], "1": "None"}}"#;
        let released = std::cell::RefCell::new(Vec::new());
        let base = shuffled.as_ptr() as usize;
        let record = |done: &[u8]| {
            let start = done.as_ptr() as usize - base;
            released.borrow_mut().push(start..start + done.len());
        };
        let mut store = PolygonWriter::in_memory();
        let rows = parse_releasing(shuffled.as_bytes(), "t.json", &labels(), &mut store, &record).unwrap();
        // Where each column's value ends, in file order.
        let ends: Vec<usize> = ["5]]}", "3]", "\"None\"}", "png\"}", "\"None\"}"]
            .iter()
            .scan(0, |from, end| {
                *from += shuffled[*from..].find(end).unwrap() + end.len();
                Some(*from)
            })
            .collect();
        let released = released.into_inner();
        assert_eq!(released.iter().map(|r| r.end).collect::<Vec<_>>(), ends, "one release per column, at its end");
        assert!(released.windows(2).all(|w| w[0].end == w[1].start) && released[0].start == 0);
        let store = store.finish().unwrap();
        let loaded: Vec<_> = rows.iter().map(|e| store.load(e.polygons.as_ref().unwrap()).unwrap()).collect();
        let expected = parse(pandas.as_bytes(), "t.json", &labels()).unwrap();
        assert_eq!(loaded, expected.into_iter().map(|e| e.polygons.unwrap()).collect::<Vec<_>>());
        assert_eq!(rows.iter().map(|e| e.image_id.as_str()).collect::<Vec<_>>(), ["a", "b"]);
    }

    #[test]
    fn malformed_json_fails_with_location() {
        let err = parse(b"{\"img\": {\"0\": \"a.png\",}", "bad.json", &labels()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("bad.json") && msg.contains("line 1"), "{msg}");
        // In pandas' form but for a leading zero: JSON does not allow it, so neither does this.
        let zero =
            br#"{"img":{"0":"a.png"},"R1":{"0":[{"x":01,"y":2},{"x":1,"y":1},{"x":2,"y":2}]},"L1":{"0":"None"}}"#;
        let msg = parse(zero, "zero.json", &labels()).unwrap_err().to_string();
        assert!(msg.contains("zero.json") && msg.contains("not valid JSON"), "{msg}");
    }

    #[test]
    fn wrong_shape_fails() {
        let msg = parse(b"[1, 2]", "x.json", &labels()).unwrap_err().to_string();
        assert!(msg.contains("expected a JSON object of columns"), "{msg}");
        let msg =
            parse(br#"{"img": {"0": "a.png"}, "R1": {"0": "None"}}"#, "x.json", &labels()).unwrap_err().to_string();
        assert!(msg.contains("column \"L1\" missing"), "{msg}");
        let twice = br#"{"img": {"0": "a.png"}, "R1": {"0": "None"}, "L1": {"0": "None"}, "img": {"1": "b.png"}}"#;
        let msg = parse(twice, "x.json", &labels()).unwrap_err().to_string();
        assert!(msg.contains("column \"img\" appears more than once"), "{msg}");
    }

    #[test]
    fn bad_rows_become_rejects_not_failures() {
        let json = r#"{"img": {"0": "a.png", "1": "b.png", "2": "a.png", "3": 7},
            "R1": {"0": [{"x": 1, "y": 2}, {"x": 3, "y": 4}], "1": "None", "2": "None", "3": "None"},
            "L1": {"0": "None", "1": [{"x": 1, "y": null}, {"x": 3, "y": 4}, {"x": 1, "y": 1}], "2": "None", "3": "None"}}"#;
        let e = parse(json.as_bytes(), "t.json", &labels()).unwrap();
        let reasons: Vec<String> = e.iter().map(|x| x.polygons.as_ref().unwrap_err().reason.clone()).collect();
        assert!(reasons[0].contains("2 point(s), expected at least 3"), "{}", reasons[0]);
        assert!(reasons[1].contains("L1") && reasons[1].contains("point 0"), "{}", reasons[1]);
        assert!(reasons[2].contains("duplicate image_id \"a\""), "{}", reasons[2]);
        assert!(reasons[3].contains("\"img\" is a number"), "{}", reasons[3]);
    }

    #[test]
    fn nan_and_infinity_reject_the_row_not_the_file() {
        let json = r#"{"img": {"0": "a.png", "1": "b.png"},
            "R1": {"0": [{"x": NaN, "y": 2}, {"x": 3, "y": 4}, {"x": 1, "y": 1}], "1": "None"},
            "L1": {"0": "None", "1": [{"x": -Infinity, "y": 1}, {"x": 3, "y": Infinity}, {"x": 1, "y": 1}]}}"#;
        let e = parse(json.as_bytes(), "t.json", &labels()).unwrap();
        assert!(e[0].polygons.as_ref().unwrap_err().reason.contains("R1: point 0"));
        assert!(e[1].polygons.as_ref().unwrap_err().reason.contains("L1: point 0"));
        assert_eq!(non_finite_to_null(br#"{"a": "NaN", "b": NaN}"#).unwrap(), br#"{"a": "NaN", "b": null}"#.to_vec());
        assert_eq!(non_finite_to_null(b"{\"a\": 1}"), None);
    }

    #[test]
    fn file_stem_handles_paths() {
        assert_eq!(file_stem("data/train/img/VinDr_RibCXR_train_000.png"), "VinDr_RibCXR_train_000");
        assert_eq!(file_stem("x"), "x");
        assert_eq!(file_stem("a\\b.c.dcm"), "b.c");
    }
}
