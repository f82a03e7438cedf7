//! The two conversions `BigInt` values need: hex digits → bytes, bytes → standard base64.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Big-endian bytes of a hexadecimal magnitude (no `0x`, no sign).
pub fn hex_to_bytes(digits: &str) -> Vec<u8> {
    let nibbles: Vec<u8> = digits
        .bytes()
        .filter_map(|c| (c as char).to_digit(16).map(|d| d as u8))
        .collect();
    let mut out = Vec::with_capacity(nibbles.len() / 2 + 1);
    let mut iter = nibbles.iter();
    if nibbles.len() % 2 == 1 {
        if let Some(&first) = iter.next() {
            out.push(first);
        }
    }
    while let (Some(&hi), Some(&lo)) = (iter.next(), iter.next()) {
        out.push(hi << 4 | lo);
    }
    out
}

/// Standard (padded) base64, as runtime_tracing's `BigInt.b` expects.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        assert_eq!(encode(b""), "");
        assert_eq!(encode(b"f"), "Zg==");
        assert_eq!(encode(b"fo"), "Zm8=");
        assert_eq!(encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(hex_to_bytes("1ff"), vec![0x01, 0xff]);
        assert_eq!(
            hex_to_bytes("10000000000000000"),
            vec![1, 0, 0, 0, 0, 0, 0, 0, 0]
        );
    }
}
