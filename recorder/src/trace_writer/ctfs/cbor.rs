//! runtime_tracing `ValueRecord` JSON (what the encoder writes) → the CBOR CodeTracer decodes.
//!
//! CodeTracer reads value blobs with `cbor4ii` + serde into `ValueRecord`: an internally
//! tagged map (`kind`, `type_id`, fields), so the transcoding is structural: objects become
//! definite-length maps, arrays arrays, strings text, integers integers. Two things change:
//! - a number with a fraction or exponent becomes text (a `Float`'s `f` must be text; the
//!   encoder already writes it so);
//! - a `Struct` becomes a `Sequence` of `(field name, value)` tuples under the struct's own
//!   type. On the split-stream route types carry names only, so a `Struct` would show its
//!   values without field names; the pairs show both, the way dicts do.

use crate::fast_hash::FastMap;

/// The type ids a struct's field pairs are written with.
#[derive(Debug, Clone, Copy, Default)]
pub struct FieldTypes {
    pub pair: u64,
    pub name: u64,
}

/// Names of each struct type's fields, by type id.
pub type StructFields = FastMap<usize, Vec<String>>;

#[derive(Debug)]
pub struct Malformed;

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
}

fn head(out: &mut Vec<u8>, major: u8, n: u64) {
    let m = major << 5;
    if n < 24 {
        out.push(m | n as u8);
    } else if n < 0x100 {
        out.extend_from_slice(&[m | 24, n as u8]);
    } else if n < 0x1_0000 {
        out.push(m | 25);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else if n < 0x1_0000_0000 {
        out.push(m | 26);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(m | 27);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

pub fn text(out: &mut Vec<u8>, s: &str) {
    head(out, 3, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

pub fn uint(out: &mut Vec<u8>, v: u64) {
    head(out, 0, v);
}

/// `{"kind":"Error","type_id":0,"msg":message}`.
pub fn error_value(out: &mut Vec<u8>, message: &str) {
    head(out, 5, 3);
    text(out, "kind");
    text(out, "Error");
    text(out, "type_id");
    uint(out, 0);
    text(out, "msg");
    text(out, message);
}

/// Rewrites the one-byte count placeholder at `at` (written as `major` with count 0).
fn patch_count(out: &mut Vec<u8>, at: usize, major: u8, count: u64) {
    if count < 24 {
        if let Some(b) = out.get_mut(at) {
            *b = (major << 5) | count as u8;
        }
    } else {
        let mut h = Vec::with_capacity(9);
        head(&mut h, major, count);
        out.splice(at..at + 1, h);
    }
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn expect(&mut self, b: u8) -> Result<(), Malformed> {
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(Malformed)
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), Malformed> {
        if self.s.get(self.pos..self.pos + word.len()) == Some(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(Malformed)
        }
    }

    fn hex4(&mut self) -> Result<u32, Malformed> {
        let digits = self.s.get(self.pos..self.pos + 4).ok_or(Malformed)?;
        let text = std::str::from_utf8(digits).map_err(|_| Malformed)?;
        self.pos += 4;
        u32::from_str_radix(text, 16).map_err(|_| Malformed)
    }

    /// A JSON string (after its opening quote is next), unescaped into `into`.
    fn string(&mut self, into: &mut String) -> Result<(), Malformed> {
        self.expect(b'"')?;
        into.clear();
        let mut start = self.pos;
        loop {
            let b = self.peek().ok_or(Malformed)?;
            match b {
                b'"' => {
                    into.push_str(self.span(start)?);
                    self.pos += 1;
                    return Ok(());
                }
                b'\\' => {
                    into.push_str(self.span(start)?);
                    self.pos += 1;
                    let e = self.peek().ok_or(Malformed)?;
                    self.pos += 1;
                    match e {
                        b'"' => into.push('"'),
                        b'\\' => into.push('\\'),
                        b'/' => into.push('/'),
                        b'b' => into.push('\u{8}'),
                        b'f' => into.push('\u{c}'),
                        b'n' => into.push('\n'),
                        b'r' => into.push('\r'),
                        b't' => into.push('\t'),
                        b'u' => {
                            let mut code = self.hex4()?;
                            if (0xD800..0xDC00).contains(&code) {
                                self.literal(b"\\u")?;
                                let low = self.hex4()?;
                                code = 0x10000 + ((code - 0xD800) << 10) + (low.wrapping_sub(0xDC00));
                            }
                            into.push(char::from_u32(code).unwrap_or('\u{FFFD}'));
                        }
                        _ => return Err(Malformed),
                    }
                    start = self.pos;
                }
                _ => self.pos += 1,
            }
        }
    }

    fn span(&self, start: usize) -> Result<&'a str, Malformed> {
        let bytes = self.s.get(start..self.pos).ok_or(Malformed)?;
        std::str::from_utf8(bytes).map_err(|_| Malformed)
    }

    fn number(&mut self, out: &mut Vec<u8>) -> Result<(), Malformed> {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E') {
                self.pos += 1;
            } else {
                break;
            }
        }
        let lit = self.span(start)?;
        if let Ok(v) = lit.parse::<u64>() {
            head(out, 0, v);
        } else if let Ok(v) = lit.parse::<i64>() {
            head(out, 1, !(v as u64)); // -1 - v
        } else {
            text(out, lit);
        }
        Ok(())
    }
}

/// Transcodes one JSON value record to CBOR, appending to `out`.
pub fn transcode(
    json: &[u8],
    structs: &StructFields,
    fields: FieldTypes,
    out: &mut Vec<u8>,
) -> Result<(), Malformed> {
    let mut p = Parser { s: json, pos: 0 };
    let mut scratch = String::new();
    value(&mut p, structs, fields, out, &mut scratch)?;
    if p.pos == json.len() {
        Ok(())
    } else {
        Err(Malformed)
    }
}

fn value(
    p: &mut Parser<'_>,
    structs: &StructFields,
    fields: FieldTypes,
    out: &mut Vec<u8>,
    scratch: &mut String,
) -> Result<(), Malformed> {
    match p.peek().ok_or(Malformed)? {
        b'{' => object(p, structs, fields, out, scratch),
        b'[' => {
            p.pos += 1;
            let at = out.len();
            out.push(4 << 5);
            let mut count = 0u64;
            if p.peek() == Some(b']') {
                p.pos += 1;
                return Ok(());
            }
            loop {
                value(p, structs, fields, out, scratch)?;
                count += 1;
                match p.peek() {
                    Some(b',') => p.pos += 1,
                    Some(b']') => {
                        p.pos += 1;
                        break;
                    }
                    _ => return Err(Malformed),
                }
            }
            patch_count(out, at, 4, count);
            Ok(())
        }
        b'"' => {
            p.string(scratch)?;
            text(out, scratch);
            Ok(())
        }
        b't' => p.literal(b"true").map(|()| out.push(0xF5)),
        b'f' => p.literal(b"false").map(|()| out.push(0xF4)),
        b'n' => p.literal(b"null").map(|()| out.push(0xF6)),
        _ => p.number(out),
    }
}

fn object(
    p: &mut Parser<'_>,
    structs: &StructFields,
    fields: FieldTypes,
    out: &mut Vec<u8>,
    scratch: &mut String,
) -> Result<(), Malformed> {
    p.expect(b'{')?;
    // The encoder writes `kind` then `type_id` first; a Struct is recognised there.
    let struct_start = b"\"kind\":\"Struct\",\"type_id\":";
    if p.s.get(p.pos..p.pos + struct_start.len()) == Some(struct_start) {
        p.pos += struct_start.len();
        return struct_as_pairs(p, structs, fields, out, scratch);
    }
    let at = out.len();
    out.push(5 << 5);
    let mut count = 0u64;
    if p.peek() == Some(b'}') {
        p.pos += 1;
        return Ok(());
    }
    loop {
        p.string(scratch)?;
        text(out, scratch);
        p.expect(b':')?;
        value(p, structs, fields, out, scratch)?;
        count += 1;
        match p.peek() {
            Some(b',') => p.pos += 1,
            Some(b'}') => {
                p.pos += 1;
                break;
            }
            _ => return Err(Malformed),
        }
    }
    patch_count(out, at, 5, count);
    Ok(())
}

/// `{"kind":"Struct","type_id":N,"field_values":[...]}` (after `"type_id":`) as a Sequence of
/// `(name, value)` tuples typed as the struct.
fn struct_as_pairs(
    p: &mut Parser<'_>,
    structs: &StructFields,
    fields: FieldTypes,
    out: &mut Vec<u8>,
    scratch: &mut String,
) -> Result<(), Malformed> {
    let start = p.pos;
    while p.peek().is_some_and(|b| b.is_ascii_digit()) {
        p.pos += 1;
    }
    let type_id: usize = p.span(start)?.parse().map_err(|_| Malformed)?;
    p.literal(b",\"field_values\":[")?;
    head(out, 5, 4);
    text(out, "kind");
    text(out, "Sequence");
    text(out, "type_id");
    uint(out, type_id as u64);
    text(out, "elements");
    let at = out.len();
    out.push(4 << 5);
    let names = structs.get(&type_id);
    let mut count = 0u64;
    if p.peek() == Some(b']') {
        p.pos += 1;
    } else {
        loop {
            head(out, 5, 3);
            text(out, "kind");
            text(out, "Tuple");
            text(out, "type_id");
            uint(out, fields.pair);
            text(out, "elements");
            head(out, 4, 2);
            head(out, 5, 3);
            text(out, "kind");
            text(out, "String");
            text(out, "type_id");
            uint(out, fields.name);
            text(out, "text");
            let name = names
                .and_then(|n| n.get(count as usize))
                .map_or("?", String::as_str);
            text(out, name);
            value(p, structs, fields, out, scratch)?;
            count += 1;
            match p.peek() {
                Some(b',') => p.pos += 1,
                Some(b']') => {
                    p.pos += 1;
                    break;
                }
                _ => return Err(Malformed),
            }
        }
    }
    patch_count(out, at, 4, count);
    text(out, "is_slice");
    out.push(0xF4);
    p.expect(b'}')
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn cbor(json: &str) -> Vec<u8> {
        let mut structs = StructFields::default();
        structs.insert(5, vec!["x".into(), "label".into()]);
        let mut out = Vec::new();
        transcode(
            json.as_bytes(),
            &structs,
            FieldTypes { pair: 1, name: 2 },
            &mut out,
        )
        .unwrap();
        out
    }

    #[test]
    fn scalars_map_to_cbor_items() {
        assert_eq!(
            cbor(r#"{"kind":"Int","type_id":3,"i":-2}"#),
            [
                0xA3, 0x64, b'k', b'i', b'n', b'd', 0x63, b'I', b'n', b't', 0x67, b't', b'y',
                b'p', b'e', b'_', b'i', b'd', 0x03, 0x61, b'i', 0x21
            ]
        );
        let big = cbor(r#"[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25]"#);
        assert_eq!(&big[..2], &[0x98, 25]);
        let f = cbor(r#""a\"b\\c\n\u00e9\ud834\udd1e""#);
        assert_eq!(&f[1..], "a\"b\\c\né𝄞".as_bytes());
    }

    #[test]
    fn structs_become_named_pairs() {
        let out = cbor(
            r#"{"kind":"Struct","type_id":5,"field_values":[{"kind":"Int","type_id":3,"i":1},{"kind":"None","type_id":4}]}"#,
        );
        let text = String::from_utf8_lossy(&out);
        assert!(text.contains("Sequence"));
        assert!(text.contains("label"));
        assert_eq!(text.matches("Tuple").count(), 2);
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        let structs = StructFields::default();
        for bad in ["{", "[1,", "\"abc", "{\"a\" 1}", "tru", "{\"kind\":\"Struct\",\"type_id\":x"] {
            let mut out = Vec::new();
            assert!(transcode(bad.as_bytes(), &structs, FieldTypes::default(), &mut out).is_err());
        }
    }
}
