//! A label column in pandas' own `to_json` form read in one pass over its text.
//!
//! Role: pandas writes every column the same way, `{"0":[{"x":1295.6108,"y":420.699},...],
//! "1":"None",...}`: no spaces, plain keys, short decimals. The typed serde path (`cells`)
//! reads any JSON, but it scans each point twice (once to find its end, once to read it) and
//! its numbers through the general `f64` parser; the 3.6 MB synthetic train file took 10.7 ms,
//! on the one thread that runs before any image is read. [`column()`] reads exactly that form,
//! and gives up (`None`) at the first byte of anything else (a space, an escape, an exponent, a
//! long number, another shape, or text JSON does not allow), so the typed path then reads the
//! column as before: what it accepts it reads to the same cells, bit for bit (tested against
//! the typed path). Nothing else checks a column read here (`frame`), so it accepts no text
//! that is not JSON.
//!
//! Numbers: an optional `-`, digits (no leading zero before another, as JSON says), optionally
//! `.` and digits, at most 19 of them significant (leading zeros are not), whose digits as an
//! integer `m` are at most 2^53 with at most 22 after the point. `m` and
//! `10^k` are then exact `f64`s and one division rounds their quotient correctly: the fast
//! path Rust's own parser takes for such numbers (Clinger's), so the values are identical.

use super::cells::{CellRange, ColumnCells};
use super::{enough_points, is_absent, not_points};

/// The cells of `text`, a label column, if it is exactly in pandas' form; `None` otherwise.
pub(super) fn column(text: &str) -> Option<ColumnCells> {
    column_prefix(text.as_bytes(), Vec::new()).and_then(|(cells, len)| (len == text.len()).then_some(cells))
}

/// A label column in pandas' form at the start of `bytes` (it may go on after it): its cells
/// and its length in bytes, or `None` at the first byte of another form. Its vertices go to
/// `points`, emptied first (a buffer the caller reuses from column to column).
pub(super) fn column_prefix(bytes: &[u8], mut points: Vec<[f64; 2]>) -> Option<(ColumnCells, usize)> {
    let mut c = Cursor { bytes, at: 0 };
    points.clear();
    let mut out = ColumnCells { points, cells: Vec::new() };
    c.eat(b'{')?;
    if c.peek() == Some(b'}') {
        c.at += 1;
    } else {
        loop {
            let key = c.plain_string()?;
            c.eat(b':')?;
            let cell = match c.peek()? {
                b'"' => absent(c.plain_string()?),
                b'n' => c.tag(b"null").map(|()| Ok(None))?,
                b'[' => c.points(&mut out.points)?,
                _ => return None,
            };
            out.cells.push((key.to_string(), cell));
            match c.next()? {
                b',' => {}
                b'}' => break,
                _ => return None,
            }
        }
    }
    Some((out, c.at))
}

/// A string cell, as the typed path judges it.
fn absent(s: &str) -> CellRange {
    if is_absent(s) {
        Ok(None)
    } else {
        Err(not_points("a string"))
    }
}

/// `10^k` for `k` in 0..=22: every one an exact `f64`.
const POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20,
    1e21, 1e22,
];

/// Most significant digits a number may have here (the integer of its digits fits a `u64`).
const MAX_DIGITS: usize = 19;

/// A position in a column's text.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.at += 1;
        Some(b)
    }

    fn eat(&mut self, b: u8) -> Option<()> {
        (self.next()? == b).then_some(())
    }

    fn tag(&mut self, tag: &[u8]) -> Option<()> {
        let end = self.at + tag.len();
        (self.bytes.get(self.at..end)? == tag).then(|| self.at = end)
    }

    /// A string without escapes (its text is its value); `None` at a control character too
    /// (JSON does not allow them raw in a string: the typed path says so).
    fn plain_string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let len = self.bytes[self.at..].iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
        let s = &self.bytes[self.at..self.at + len];
        self.at += len;
        self.eat(b'"')?;
        std::str::from_utf8(s).ok()
    }

    /// A list of `{"x":X,"y":Y}` points appended to `points`: the cell's range, or why it is
    /// not a polygon (then nothing is left appended), as the typed path says.
    fn points(&mut self, points: &mut Vec<[f64; 2]>) -> Option<CellRange> {
        self.eat(b'[')?;
        let start = points.len();
        if self.peek() == Some(b']') {
            self.at += 1;
        } else {
            loop {
                self.tag(b"{\"x\":")?;
                let x = self.number()?;
                self.tag(b",\"y\":")?;
                let y = self.number()?;
                self.eat(b'}')?;
                points.push([x, y]);
                match self.next()? {
                    b',' => {}
                    b']' => break,
                    _ => return None,
                }
            }
        }
        if let Err(message) = enough_points(points.len() - start) {
            points.truncate(start);
            return Some(Err(message));
        }
        Some(Ok(Some(start..points.len())))
    }

    /// A number of the form in the module docs, as Rust's parser reads it; `None` for any
    /// other, JSON's own rules included (no leading zero before another digit, digits after
    /// the point), and unless a `,` or `}` follows it.
    fn number(&mut self) -> Option<f64> {
        let bytes = self.bytes;
        let mut at = self.at;
        let negative = bytes.get(at) == Some(&b'-');
        at += usize::from(negative);
        let digit = |at: usize| bytes.get(at).map(|b| b.wrapping_sub(b'0')).filter(|d| *d <= 9);
        if digit(at)? == 0 && digit(at + 1).is_some() {
            return None;
        }
        // Significant digits (leading zeros are not, as in Rust's parser) as an integer.
        let (mut m, mut significant) = (0u64, 0usize);
        let mut take = |d: u8| {
            if significant == MAX_DIGITS {
                return None;
            }
            m = m * 10 + u64::from(d);
            significant += usize::from(m > 0);
            Some(())
        };
        while let Some(d) = digit(at) {
            take(d)?;
            at += 1;
        }
        let mut fraction = 0;
        if bytes.get(at) == Some(&b'.') {
            at += 1;
            while let Some(d) = digit(at) {
                take(d)?;
                at += 1;
                fraction += 1;
            }
            if fraction == 0 {
                return None;
            }
        }
        if !matches!(bytes.get(at), Some(b',' | b'}')) || m > 1 << 53 {
            return None;
        }
        self.at = at;
        let v = m as f64 / *POWERS_OF_TEN.get(fraction)?;
        Some(if negative { -v } else { v })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The typed path's cells for `text`.
    fn typed(text: &str) -> ColumnCells {
        serde_json::from_str(text).unwrap()
    }

    fn bits(c: &ColumnCells) -> (Vec<[u64; 2]>, &[(String, CellRange)]) {
        (c.points.iter().map(|p| p.map(f64::to_bits)).collect(), &c.cells)
    }

    /// Columns as pandas writes them are read here, to the typed path's cells, bit for bit:
    /// absent ribs, short lists, every kind of number pandas writes.
    #[test]
    fn pandas_columns_read_here_equal_the_typed_path() {
        let columns = [
            r#"{}"#,
            r#"{"0":"None","1":null,"2":""}"#,
            r#"{"0":[{"x":1295.6108,"y":420.699},{"x":-0.0,"y":0},{"x":7,"y":-12.5}],"1":"None"}"#,
            r#"{"0":[{"x":1,"y":2},{"x":3,"y":4}],"1":[],"2":"bad","3":[{"x":0.1,"y":0.2},{"x":0.3,"y":1},{"x":2,"y":3}]}"#,
            r#"{"7":[{"x":9007199254740992,"y":0.0000000000000000000001},{"x":1,"y":1},{"x":2,"y":2}],"7":"None"}"#,
        ];
        for text in columns {
            let here = column(text).unwrap_or_else(|| panic!("not read here: {text}"));
            assert_eq!(bits(&here), bits(&typed(text)), "{text}");
        }
        let mut random = crate::transform::area::tests::xorshift(11);
        for round in 0..300 {
            let mut text = String::from("{");
            for row in 0..8 {
                let n = (random.next().unwrap() % 6) as usize;
                let points: Vec<String> = (0..n)
                    .map(|_| {
                        // Up to 10 decimals, as pandas writes (`double_precision=10`).
                        let mut num = || {
                            let r = random.next().unwrap();
                            let v = f64::from_bits(r) % 40_000.0;
                            let v = if v.is_finite() { v } else { (r % 40_000) as f64 };
                            format!("{v:.*}", (r >> 59) as usize % 11)
                        };
                        format!(r#"{{"x":{},"y":{}}}"#, num(), num())
                    })
                    .collect();
                let cell = if n == 0 { "\"None\"".to_string() } else { format!("[{}]", points.join(",")) };
                text += &format!("{}\"{}\":{cell}", if row > 0 { "," } else { "" }, round * 8 + row);
            }
            text += "}";
            let here = column(&text).unwrap_or_else(|| panic!("not read here: {text}"));
            assert_eq!(bits(&here), bits(&typed(&text)), "{text}");
        }
    }

    /// Anything else is left to the typed path, which still reads it.
    #[test]
    fn other_forms_are_left_to_the_typed_path() {
        for text in [
            r#"{ "0":"None"}"#,
            r#"{"0": "None"}"#,
            r#"{"0":[{"x": 1,"y":2}]}"#,
            r#"{"0":[{"y":2,"x":1}]}"#,
            r#"{"0":[{"x":1,"y":2,"z":3}]}"#,
            r#"{"0":[[1,2],[3,4],[5,6]]}"#,
            r#"{"0":[{"x":1e3,"y":2}]}"#,
            r#"{"0":[{"x":1E3,"y":2}]}"#,
            r#"{"0":[{"x":12345678901234567890,"y":2}]}"#,
            r#"{"0":[{"x":9007199254740993,"y":2}]}"#,
            r#"{"0":[{"x":0.00000000000000000000001,"y":2}]}"#,
            r#"{"0":[{"x":"1","y":2}]}"#,
            r#"{"0":[{"x":null,"y":2}]}"#,
            r#"{"\u0030":"None"}"#,
            r#"{"0":"No\u006ee"}"#,
            r#"{"0":7}"#,
            r#"{"0":true}"#,
            r#"{"0":{"x":1}}"#,
        ] {
            assert!(column(text).is_none(), "read here: {text}");
            serde_json::from_str::<ColumnCells>(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        }
        for broken in [r#"{"0":"None""#, r#"{"0":[{"x":1,"y":2}"#, r#"{"0":[{"x":1.,"y":2}]}"#, r#"{"0":"None"} "#] {
            assert!(column(broken).is_none(), "read here: {broken}");
        }
        // Not JSON, though each byte is one this reader knows: left to the typed path, which
        // says why (nothing else checks a label column's text).
        for invalid in [
            r#"{"0":[{"x":01,"y":2},{"x":1,"y":1},{"x":2,"y":2}]}"#,
            r#"{"0":[{"x":-00.5,"y":2},{"x":1,"y":1},{"x":2,"y":2}]}"#,
            r#"{"0":[{"x":.5,"y":2},{"x":1,"y":1},{"x":2,"y":2}]}"#,
            r#"{"0":[{"x":-,"y":2},{"x":1,"y":1},{"x":2,"y":2}]}"#,
            "{\"0\u{1}\":\"None\"}",
            "{\"0\":\"No\nne\"}",
        ] {
            assert!(column(invalid).is_none(), "read here: {invalid}");
            assert!(serde_json::from_str::<ColumnCells>(invalid).is_err(), "not JSON: {invalid}");
        }
    }
}
