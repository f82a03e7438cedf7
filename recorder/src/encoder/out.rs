//! The two byte forms of a runtime_tracing `ValueRecord`: JSON (`trace.json`) and CBOR (the
//! value blobs of `trace.ct`, which CodeTracer decodes with `cbor4ii` + serde).
//!
//! A record is a map tagged by `kind` with a `type_id` and the kind's fields. The encoder says
//! what to write through [`ValueFormat`] and never spells either syntax itself. CBOR maps are
//! definite-length (every kind has a fixed number of keys); arrays are indefinite-length
//! (`0x9F` ... `0xFF`), so an array's items can be written, and reused from the memo, without
//! knowing their count first.

use crate::json_text as json;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueFormat {
    Json,
    Cbor,
}

#[inline(always)]
fn cbor_head(buf: &mut Vec<u8>, major: u8, n: u64) {
    let m = major << 5;
    if n < 24 {
        buf.push(m | n as u8);
    } else if n < 0x100 {
        buf.extend_from_slice(&[m | 24, n as u8]);
    } else if n < 0x1_0000 {
        buf.push(m | 25);
        buf.extend_from_slice(&(n as u16).to_be_bytes());
    } else if n < 0x1_0000_0000 {
        buf.push(m | 26);
        buf.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        buf.push(m | 27);
        buf.extend_from_slice(&n.to_be_bytes());
    }
}

#[inline(always)]
fn cbor_text(buf: &mut Vec<u8>, s: &str) {
    cbor_head(buf, 3, s.len() as u64);
    buf.extend_from_slice(s.as_bytes());
}

impl ValueFormat {
    /// Opens a record of `kind` with `keys` keys in all (`kind` and `type_id` included).
    #[inline(always)]
    pub fn header(self, buf: &mut Vec<u8>, kind: &str, type_id: usize, keys: u64) {
        match self {
            ValueFormat::Json => {
                buf.extend_from_slice(b"{\"kind\":\"");
                buf.extend_from_slice(kind.as_bytes());
                buf.extend_from_slice(b"\",\"type_id\":");
                json::push_usize(buf, type_id);
            }
            ValueFormat::Cbor => {
                // the map head, "kind", the kind, "type_id", the id: one reserve, and the
                // constant keys as ready-made CBOR text
                buf.reserve(kind.len() + 24);
                cbor_head(buf, 5, keys);
                buf.extend_from_slice(b"\x64kind");
                cbor_text(buf, kind);
                buf.extend_from_slice(b"\x67type_id");
                cbor_head(buf, 0, type_id as u64);
            }
        }
    }

    /// The name of the record's next field.
    #[inline(always)]
    pub fn key(self, buf: &mut Vec<u8>, name: &str) {
        match self {
            ValueFormat::Json => {
                buf.extend_from_slice(b",\"");
                buf.extend_from_slice(name.as_bytes());
                buf.extend_from_slice(b"\":");
            }
            ValueFormat::Cbor => cbor_text(buf, name),
        }
    }

    /// Closes a record.
    #[inline(always)]
    pub fn end(self, buf: &mut Vec<u8>) {
        if self == ValueFormat::Json {
            buf.push(b'}');
        }
    }

    #[inline(always)]
    pub fn int(self, buf: &mut Vec<u8>, v: i64) {
        match self {
            ValueFormat::Json => json::push_i64(buf, v),
            ValueFormat::Cbor if v >= 0 => cbor_head(buf, 0, v as u64),
            ValueFormat::Cbor => cbor_head(buf, 1, !(v as u64)),
        }
    }

    #[inline(always)]
    pub fn bool(self, buf: &mut Vec<u8>, v: bool) {
        match self {
            ValueFormat::Json => json::push_bool(buf, v),
            ValueFormat::Cbor => buf.push(if v { 0xF5 } else { 0xF4 }),
        }
    }

    #[inline(always)]
    pub fn str(self, buf: &mut Vec<u8>, s: &str) {
        match self {
            ValueFormat::Json => json::push_str(buf, s),
            ValueFormat::Cbor => cbor_text(buf, s),
        }
    }

    /// A float as text (`Float.f` is parsed with `f64::from_str`: "NaN", "inf" included).
    pub fn float_text(self, buf: &mut Vec<u8>, v: f64) {
        let mut ryu = ryu::Buffer::new();
        let text = if v.is_finite() {
            ryu.format_finite(v)
        } else if v.is_nan() {
            "NaN"
        } else if v > 0.0 {
            "inf"
        } else {
            "-inf"
        };
        self.str(buf, text);
    }

    #[inline(always)]
    pub fn array_start(self, buf: &mut Vec<u8>) {
        buf.push(match self {
            ValueFormat::Json => b'[',
            ValueFormat::Cbor => 0x9F,
        });
    }

    /// Before each array item but the first.
    #[inline(always)]
    pub fn sep(self, buf: &mut Vec<u8>, first: bool) {
        if self == ValueFormat::Json && !first {
            buf.push(b',');
        }
    }

    #[inline(always)]
    pub fn array_end(self, buf: &mut Vec<u8>) {
        buf.push(match self {
            ValueFormat::Json => b']',
            ValueFormat::Cbor => 0xFF,
        });
    }

    /// The `type_id` of a record this module wrote.
    pub fn type_id_of(self, encoded: &[u8]) -> usize {
        match self {
            ValueFormat::Json => {
                let needle = b"\"type_id\":";
                encoded
                    .windows(needle.len())
                    .position(|w| w == needle)
                    .map(|p| {
                        encoded[p + needle.len()..]
                            .iter()
                            .take_while(|b| b.is_ascii_digit())
                            .fold(0usize, |acc, b| acc * 10 + (b - b'0') as usize)
                    })
                    .unwrap_or(0)
            }
            ValueFormat::Cbor => cbor_type_id(encoded).unwrap_or(0),
        }
    }
}

/// `type_id` of `{kind: K, type_id: N, ...}` as [`ValueFormat::header`] writes it.
fn cbor_type_id(encoded: &[u8]) -> Option<usize> {
    let mut pos = 1; // the map's head (at most 5 keys: one byte)
    let arg = |pos: &mut usize| -> Option<u64> {
        let initial = *encoded.get(*pos)?;
        *pos += 1;
        let info = initial & 0x1F;
        let size = match info {
            0..=23 => return Some(info as u64),
            24 => 1,
            25 => 2,
            26 => 4,
            27 => 8,
            _ => return None,
        };
        let bytes = encoded.get(*pos..*pos + size)?;
        *pos += size;
        Some(bytes.iter().fold(0u64, |acc, &b| (acc << 8) | b as u64))
    };
    for _ in 0..3 {
        let len = arg(&mut pos)? as usize; // "kind", its value, "type_id": texts
        pos += len;
    }
    arg(&mut pos).map(|v| v as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cbor_records_read_back_their_type_id() {
        for type_id in [0usize, 23, 24, 300, 70_000] {
            let mut buf = Vec::new();
            ValueFormat::Cbor.header(&mut buf, "Sequence", type_id, 4);
            assert_eq!(ValueFormat::Cbor.type_id_of(&buf), type_id);
            let mut json = Vec::new();
            ValueFormat::Json.header(&mut json, "Sequence", type_id, 4);
            assert_eq!(ValueFormat::Json.type_id_of(&json), type_id);
        }
    }

    #[test]
    fn cbor_ints_and_arrays() {
        let mut buf = Vec::new();
        let f = ValueFormat::Cbor;
        f.int(&mut buf, -1);
        f.int(&mut buf, 24);
        f.array_start(&mut buf);
        f.array_end(&mut buf);
        assert_eq!(buf, [0x20, 0x18, 24, 0x9F, 0xFF]);
    }
}
