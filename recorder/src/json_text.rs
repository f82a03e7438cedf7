//! Minimal JSON emitters that write straight into a byte buffer.
//!
//! The recorder writes millions of tiny objects; going through a generic serializer would
//! allocate per event. These helpers append to a `Vec<u8>` without intermediate values.

/// Bytes that need an escape in a JSON string: quote, backslash, control characters and DEL.
const NEEDS_ESCAPE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table[0x7f] = true;
    table
};

/// Appends `s` as a JSON string literal (with quotes). Runs without escapes are copied whole
/// (one table lookup per byte to find them).
pub fn push_str(buf: &mut Vec<u8>, s: &str) {
    buf.reserve(s.len() + 2);
    buf.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    while let Some(offset) = bytes[start..]
        .iter()
        .position(|&b| NEEDS_ESCAPE[b as usize])
    {
        let i = start + offset;
        buf.extend_from_slice(&bytes[start..i]);
        let b = bytes[i];
        match b {
            b'"' => buf.extend_from_slice(b"\\\""),
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'\n' => buf.extend_from_slice(b"\\n"),
            b'\r' => buf.extend_from_slice(b"\\r"),
            b'\t' => buf.extend_from_slice(b"\\t"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                buf.extend_from_slice(b"\\u00");
                buf.push(HEX[(b >> 4) as usize]);
                buf.push(HEX[(b & 0xf) as usize]);
            }
        }
        start = i + 1;
    }
    buf.extend_from_slice(&bytes[start..]);
    buf.push(b'"');
}

pub fn push_i64(buf: &mut Vec<u8>, v: i64) {
    let mut b = itoa::Buffer::new();
    buf.extend_from_slice(b.format(v).as_bytes());
}

pub fn push_usize(buf: &mut Vec<u8>, v: usize) {
    let mut b = itoa::Buffer::new();
    buf.extend_from_slice(b.format(v).as_bytes());
}

/// Appends a finite float. Callers must handle NaN and infinities (JSON cannot hold them).
pub fn push_f64(buf: &mut Vec<u8>, v: f64) {
    let mut b = ryu::Buffer::new();
    buf.extend_from_slice(b.format_finite(v).as_bytes());
}

pub fn push_bool(buf: &mut Vec<u8>, v: bool) {
    buf.extend_from_slice(if v { b"true" } else { b"false" });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> String {
        let mut buf = Vec::new();
        push_str(&mut buf, text);
        String::from_utf8(buf).unwrap_or_default()
    }

    #[test]
    fn escapes_round_trip_through_serde() {
        for text in [
            "plain",
            "quote\"back\\slash",
            "line\nfeed\ttab\r",
            "\u{1}\u{7f}",
            "ünïcödé ✓ 𝄞",
            "",
        ] {
            let encoded = s(text);
            let decoded: String = serde_json::from_str(&encoded).unwrap_or_default();
            assert_eq!(decoded, text, "{encoded}");
        }
    }

    #[test]
    fn floats_are_valid_json() {
        for v in [0.0, -1.5, 1e300, 5e-324, 0.1 + 0.2] {
            let mut buf = Vec::new();
            push_f64(&mut buf, v);
            let back: f64 = serde_json::from_slice(&buf).unwrap_or(f64::NAN);
            assert_eq!(back, v);
        }
    }
}
