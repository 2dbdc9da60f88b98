//! Typed parsing of one label column (`{"0": [{"x": .., "y": ..}, ...], "1": "None", ...}`)
//! straight from its JSON text into [`Cell`]s, without building a `serde_json::Value` tree.
//!
//! The rules and messages are those of `parse_polygon` in the parent module, which stays the
//! reference: a point the fast path cannot read is parsed again as a `Value` and judged (and
//! described) by `parse_point`, so a message quotes the point exactly as before.

use super::{bad_point, is_absent, not_points, parse_point, polygon, Cell, Polygon};
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::Value;
use std::collections::HashMap;
use std::fmt;

/// A label column: pandas index key → cell.
pub(super) struct Column(pub(super) HashMap<String, Cell>);

impl<'de> Deserialize<'de> for Column {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ColumnVisitor)
    }
}

struct ColumnVisitor;

impl<'de> Visitor<'de> for ColumnVisitor {
    type Value = Column;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object of rows")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Column, A::Error> {
        let mut cells = HashMap::with_capacity(m.size_hint().unwrap_or(0));
        while let Some(key) = m.next_key::<String>()? {
            let CellText(cell) = m.next_value()?;
            cells.insert(key, cell);
        }
        Ok(Column(cells))
    }
}

/// One cell: a polygon, absent (`"None"`, `""`, `null`), or why it is unusable.
struct CellText(Cell);

impl<'de> Deserialize<'de> for CellText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(CellVisitor).map(CellText)
    }
}

struct CellVisitor;

impl<'de> Visitor<'de> for CellVisitor {
    type Value = Cell;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of points or \"None\"")
    }
    fn visit_unit<E>(self) -> Result<Cell, E> {
        Ok(Ok(None))
    }
    fn visit_none<E>(self) -> Result<Cell, E> {
        Ok(Ok(None))
    }
    fn visit_str<E>(self, s: &str) -> Result<Cell, E> {
        Ok(if is_absent(s) { Ok(None) } else { Err(not_points("a string")) })
    }
    fn visit_bool<E>(self, _: bool) -> Result<Cell, E> {
        Ok(Err(not_points("a boolean")))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Cell, E> {
        Ok(Err(not_points("a number")))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Cell, E> {
        Ok(Err(not_points("a number")))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Cell, E> {
        Ok(Err(not_points("a number")))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Cell, A::Error> {
        while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Err(not_points("an object")))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Cell, A::Error> {
        let mut points: Polygon = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(raw) = seq.next_element::<&'de RawValue>()? {
            match point(points.len(), raw.get()) {
                Ok(p) => points.push(p),
                Err(message) => {
                    // The rest must still be read for the parser to reach the column's end.
                    while seq.next_element::<IgnoredAny>()?.is_some() {}
                    return Ok(Err(message));
                }
            }
        }
        Ok(polygon(points))
    }
}

/// Point `n` from its text: the typed fast path, else the `Value` reference for the verdict and
/// message.
fn point(n: usize, text: &str) -> Result<[f64; 2], String> {
    if let Ok(Xy(Some(p))) = serde_json::from_str::<Xy>(text) {
        return Ok(p);
    }
    let v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    parse_point(&v).ok_or_else(|| bad_point(n, &v))
}

/// `{"x": n, "y": n}` (other keys ignored) or `[x, y]`, finite; `None` for anything else.
struct Xy(Option<[f64; 2]>);

impl<'de> Deserialize<'de> for Xy {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(XyVisitor).map(|p| Xy(p.filter(|[x, y]| x.is_finite() && y.is_finite())))
    }
}

struct XyVisitor;

impl<'de> Visitor<'de> for XyVisitor {
    type Value = Option<[f64; 2]>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a point")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
        let (mut x, mut y) = (None, None);
        while let Some(key) = m.next_key::<Key>()? {
            match key {
                Key::X => x = m.next_value::<Num>()?.0,
                Key::Y => y = m.next_value::<Num>()?.0,
                Key::Other => {
                    m.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(x.zip(y).map(|(x, y)| [x, y]))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let x = seq.next_element::<Num>()?;
        let y = seq.next_element::<Num>()?;
        let mut extra = false;
        while seq.next_element::<IgnoredAny>()?.is_some() {
            extra = true;
        }
        Ok(match (x, y, extra) {
            (Some(Num(Some(x))), Some(Num(Some(y))), false) => Some([x, y]),
            _ => None,
        })
    }
}

/// A JSON number as `f64`; `None` for any other value.
struct Num(Option<f64>);

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NumVisitor).map(Num)
    }
}

struct NumVisitor;

impl<'de> Visitor<'de> for NumVisitor {
    type Value = Option<f64>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number")
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Some(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v as f64))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v as f64))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
        while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

/// A point object's key.
enum Key {
    X,
    Y,
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E>(self, s: &str) -> Result<Key, E> {
                Ok(match s {
                    "x" => Key::X,
                    "y" => Key::Y,
                    _ => Key::Other,
                })
            }
        }
        d.deserialize_identifier(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse_polygon;
    use super::*;

    /// The typed path agrees with the `Value` reference, verdict and message, on every shape.
    #[test]
    fn typed_cells_equal_the_value_reference() {
        let cells = [
            r#""None""#,
            r#""""#,
            "null",
            r#""bad""#,
            "7",
            "-1.5",
            "true",
            r#"{"x": 1}"#,
            "[]",
            r#"[{"x": 1, "y": 2}, {"x": 3, "y": 4}]"#,
            r#"[{"x": 1, "y": 2}, {"x": 3, "y": 4}, {"x": 5.25, "y": 0.5}]"#,
            r#"[[0, 0], [4, 0], [4, 4], [18446744073709551615, -9223372036854775808]]"#,
            r#"[{"x": 1, "y": null}, {"x": 3, "y": 4}, {"x": 1, "y": 1}]"#,
            r#"[{"x": 1, "y": 2, "z": "extra"}, {"y": 4, "x": 3}, {"x": 1, "x": 9, "y": 1}]"#,
            r#"[{"x": "1", "y": 2}, [1, 2], [1, 2]]"#,
            r#"[[1, 2], [1, 2, 3], [1, 2]]"#,
            r#"[[1, 2], [1], [1, 2]]"#,
            r#"[[1, 2], [1, 2], 5, [1, 2], "tail"]"#,
            r#"[[1, 2], [1, 2], {"x": [1], "y": 2}]"#,
            r#"[[1e308, 2], [1, 2], [-0.0, 2e-308]]"#,
        ];
        for text in cells {
            let value: Value = serde_json::from_str(text).unwrap();
            let CellText(typed) = serde_json::from_str(text).unwrap();
            assert_eq!(typed, parse_polygon(&value), "cell {text}");
        }
    }

    #[test]
    fn a_column_parses_every_row() {
        let text = r#"{"0": [[0, 0], [4, 0], [4, 4]], "1": "None", "2": [{"x": null, "y": 1}]}"#;
        let Column(cells) = serde_json::from_str(text).unwrap();
        assert_eq!(cells.len(), 3);
        assert_eq!(cells["0"].as_ref().unwrap().as_ref().unwrap().len(), 3);
        assert_eq!(cells["1"], Ok(None));
        assert!(cells["2"].as_ref().unwrap_err().starts_with("point 0: expected"), "{:?}", cells["2"]);
    }

    fn json() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            (-1e6f64..1e6).prop_map(Value::from),
            prop_oneof![Just("None"), Just(""), Just("x"), Just("1")].prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::vec((prop_oneof![Just("x"), Just("y"), Just("z")], inner), 0..4)
                    .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
            ]
        })
    }

    proptest::proptest! {
        /// On arbitrary JSON cells (lists of points, near-points, junk), typed == reference.
        #[test]
        fn typed_cells_equal_the_value_reference_on_any_json(v in json()) {
            // The reference reads the same text (serde_json's float parsing is shared).
            let text = v.to_string();
            let reference: Value = serde_json::from_str(&text).unwrap();
            let CellText(typed) = serde_json::from_str(&text).unwrap();
            proptest::prop_assert_eq!(typed, parse_polygon(&reference), "cell {}", text);
        }
    }
}
