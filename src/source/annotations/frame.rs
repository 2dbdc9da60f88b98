//! The annotation file's top level, an object of columns, walked entry by entry.
//!
//! Role: serde's scan of the top level (each column's value skipped to find where it ends,
//! before the column is read) was half of the time to parse the 3.6 MB synthetic train file,
//! on the one thread that runs before any image is read. Here each value is handed to the
//! caller at its first byte: a label column in pandas' form is read in one pass that also
//! finds its end (`pandas::column_prefix`), and any other value is skipped by serde as before
//! ([`Value::raw`]). The grammar is JSON's for an object (whitespace, string keys with any
//! escapes, `,` between entries, nothing but whitespace after it), so this accepts exactly
//! what `serde_json` accepts at the top level.

use super::cells::ColumnCells;
use super::pandas;
use serde::Deserialize;
use serde_json::value::RawValue;

/// The text is not a JSON object (the caller finds out why).
#[derive(Debug, PartialEq)]
pub(super) struct NotAnObject;

/// One entry's value, from its first byte; the caller reads it one way or the other.
pub(super) struct Value<'a> {
    rest: &'a [u8],
    len: Option<usize>,
}

impl<'a> Value<'a> {
    /// The value as a label column in pandas' form, read in one pass, its vertices in
    /// `points` (emptied first); `None` if it is in another form (then nothing was consumed
    /// and [`Value::raw`] still reads it).
    pub(super) fn pandas_column(&mut self, points: Vec<[f64; 2]>) -> Option<ColumnCells> {
        let (cells, len) = pandas::column_prefix(self.rest, points)?;
        self.len = Some(len);
        Some(cells)
    }

    /// The value's text, found by serde's scan; `None` if it is not valid JSON.
    pub(super) fn raw(&mut self) -> Option<&'a RawValue> {
        let mut de = serde_json::Deserializer::from_slice(self.rest);
        let raw = <&RawValue>::deserialize(&mut de).ok()?;
        self.len = Some(raw.get().len());
        Some(raw)
    }

    /// The value's length in bytes, reading it with serde if the caller did not read it.
    fn len(&mut self) -> Option<usize> {
        match self.len {
            Some(len) => Some(len),
            None => self.raw().map(|raw| raw.get().len()),
        }
    }
}

/// Hand each top-level entry to `each` (its name, its value at its first byte, and the offset
/// just past the value once read), in file order. `each` returns `false` to stop the walk,
/// which then ends `Ok`.
pub(super) fn entries<'a>(
    bytes: &'a [u8],
    each: &mut dyn FnMut(String, &mut Value<'a>) -> bool,
    mut done: impl FnMut(usize),
) -> Result<(), NotAnObject> {
    let mut at = skip_space(bytes, 0);
    if bytes.get(at) != Some(&b'{') {
        return Err(NotAnObject);
    }
    at = skip_space(bytes, at + 1);
    if bytes.get(at) == Some(&b'}') {
        return end(bytes, at + 1);
    }
    loop {
        let (name, after_name) = key(bytes, at).ok_or(NotAnObject)?;
        at = skip_space(bytes, after_name);
        if bytes.get(at) != Some(&b':') {
            return Err(NotAnObject);
        }
        at = skip_space(bytes, at + 1);
        let mut value = Value { rest: &bytes[at..], len: None };
        if !each(name, &mut value) {
            return Ok(());
        }
        at += value.len().ok_or(NotAnObject)?;
        done(at);
        at = skip_space(bytes, at);
        match bytes.get(at) {
            Some(b',') => at = skip_space(bytes, at + 1),
            Some(b'}') => return end(bytes, at + 1),
            _ => return Err(NotAnObject),
        }
    }
}

/// A key at `at`: its text (escapes decoded) and the offset after its closing quote.
fn key(bytes: &[u8], at: usize) -> Option<(String, usize)> {
    let rest = bytes.get(at..)?;
    if rest.first() != Some(&b'"') {
        return None;
    }
    // Plain keys (no escape, no control character) are their own text.
    let len = rest[1..].iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
    if rest[1 + len] == b'"' {
        return Some((std::str::from_utf8(&rest[1..1 + len]).ok()?.to_string(), at + len + 2));
    }
    let mut de = serde_json::Deserializer::from_slice(rest);
    let raw = <&RawValue>::deserialize(&mut de).ok()?;
    Some((serde_json::from_str(raw.get()).ok()?, at + raw.get().len()))
}

/// JSON whitespace from `at` on: the offset of the next other byte (or the end).
fn skip_space(bytes: &[u8], mut at: usize) -> usize {
    while matches!(bytes.get(at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        at += 1;
    }
    at
}

/// After the object: only whitespace.
fn end(bytes: &[u8], at: usize) -> Result<(), NotAnObject> {
    (skip_space(bytes, at) == bytes.len()).then_some(()).ok_or(NotAnObject)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every entry's name and value text, read with serde (`raw`), as the walk gives them.
    fn walk(text: &str) -> Result<Vec<(String, String)>, NotAnObject> {
        let mut out = Vec::new();
        entries(
            text.as_bytes(),
            &mut |name, value| {
                out.push((name, value.raw().map(|r| r.get().to_string()).unwrap_or_default()));
                true
            },
            |_| {},
        )?;
        Ok(out)
    }

    /// serde's reading of the same top level: `None` where serde rejects the text.
    fn serde_walk(text: &str) -> Option<Vec<(String, String)>> {
        let map: Vec<(String, Box<RawValue>)> =
            serde_json::from_str::<indexmap::IndexMap<String, Box<RawValue>>>(text).ok()?.into_iter().collect();
        Some(map.into_iter().map(|(k, v)| (k, v.get().to_string())).collect())
    }

    /// Objects in every JSON spelling (whitespace, escaped keys, any values) walk to serde's
    /// entries; anything serde rejects at the top level is rejected here too.
    #[test]
    fn accepts_what_serde_accepts_at_the_top_level() {
        let accepted = [
            r#"{}"#,
            " \n{ }\t\r\n",
            r#"{"img":{"0":"a.png"},"R1":{"0":"None"}}"#,
            "{ \"a\" : 1 , \"b\":[1,{\"c\":\"}\"}],\"d\":null,\"e\":\"x\\\"y\",\"f\":-1.5e3,\"g\":true }",
            r#"{"\u0052\n1":{"0":"None"},"é":"ü"}"#,
        ];
        for text in accepted {
            let here = walk(text).unwrap_or_else(|_| panic!("rejected here: {text}"));
            let want: Vec<_> = serde_walk(text).unwrap_or_else(|| panic!("serde rejects: {text}"));
            // Duplicate keys aside (none here), the walk is serde's map in file order.
            assert_eq!(here, want, "{text}");
        }
        let rejected = [
            "",
            "[]",
            "1",
            "{",
            r#"{"a":1,}"#,
            r#"{"a":1"#,
            r#"{"a" 1}"#,
            r#"{"a":}"#,
            r#"{a:1}"#,
            r#"{1:1}"#,
            r#"{"a":1} x"#,
            r#"{"a":1}{}"#,
            r#"{"a":[1,}"#,
            "{\"a\u{1}\":1}",
            r#"{"a":1 "b":2}"#,
            r#"{"a":NaN}"#,
        ];
        for text in rejected {
            assert!(serde_walk(text).is_none(), "serde accepts: {text}");
            assert_eq!(walk(text), Err(NotAnObject), "{text}");
        }
    }

    /// A label column in pandas' form is read in one pass and the walk goes on after it; in
    /// another form, nothing is consumed and serde reads it.
    #[test]
    fn pandas_columns_are_read_in_place() {
        let text =
            r#"{"R1":{"0":[{"x":1,"y":2},{"x":3,"y":4},{"x":5,"y":6}],"1":"None"}, "R2" : { "0":"None"} ,"n":3}"#;
        let (mut read, mut ends) = (Vec::new(), Vec::new());
        entries(
            text.as_bytes(),
            &mut |name, value| {
                let cells = value.pandas_column(Vec::new());
                let raw = cells.is_none().then(|| value.raw().map(|r| r.get().to_string()));
                read.push((name, cells.map(|c| c.cells.len()), raw.flatten()));
                true
            },
            |at| ends.push(at),
        )
        .unwrap();
        let r2 = text.find("{ \"0\"").unwrap();
        assert_eq!(
            read,
            [
                ("R1".to_string(), Some(2), None),
                ("R2".to_string(), None, Some(r#"{ "0":"None"}"#.to_string())),
                ("n".to_string(), None, Some("3".to_string())),
            ]
        );
        assert_eq!(ends, [text.find(", \"R2\"").unwrap(), r2 + 13, text.len() - 1]);
    }

    /// `each` returning `false` stops the walk there.
    #[test]
    fn a_stopped_walk_reads_no_further() {
        let mut seen = 0;
        let r = entries(
            br#"{"a":1,"b":oops"#,
            &mut |_, _| {
                seen += 1;
                false
            },
            |_| {},
        );
        assert_eq!((r, seen), (Ok(()), 1));
    }
}
