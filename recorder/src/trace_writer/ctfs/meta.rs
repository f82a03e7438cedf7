//! `meta.dat`, the only place today's CodeTracer reads a trace's metadata from.
//!
//! Version 3: `"CTMD"`, u16 version, u16 flags, then LEB128-length-prefixed UTF-8 strings:
//! recording id (canonical lowercase UUIDv7), program, argc + args, workdir, recorder id,
//! path count + paths. No optional blocks (flag bits 0-3 clear) and nothing after the paths.

use std::hash::{BuildHasher, Hasher};
use std::time::{SystemTime, UNIX_EPOCH};

use super::stream::{push_blob, push_varint};

/// Steps are byte positions over per-line lengths (`lines.rs`).
pub const HAS_COLUMN_AWARE_STEPS: u16 = 1 << 4;
/// The seekable call, step, value and IO event streams are present.
pub const HAS_STREAMS: u16 = (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11);
/// `spans.dat`, `spans.idx` and `spantype.ns` are present (readers look for spans only then).
pub const HAS_SPAN_STREAM: u16 = 1 << 13;

pub struct Meta<'a> {
    pub recording_id: &'a str,
    pub program: &'a str,
    pub args: &'a [String],
    pub workdir: &'a str,
    pub recorder_id: &'a str,
    pub paths: &'a [String],
}

pub fn encode(meta: &Meta<'_>, flags: u16) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"CTMD");
    out.extend_from_slice(&3u16.to_le_bytes());
    out.extend_from_slice(&flags.to_le_bytes());
    push_blob(&mut out, meta.recording_id.as_bytes());
    push_blob(&mut out, meta.program.as_bytes());
    push_varint(&mut out, meta.args.len() as u64);
    for arg in meta.args {
        push_blob(&mut out, arg.as_bytes());
    }
    push_blob(&mut out, meta.workdir.as_bytes());
    push_blob(&mut out, meta.recorder_id.as_bytes());
    push_varint(&mut out, meta.paths.len() as u64);
    for path in meta.paths {
        push_blob(&mut out, path.as_bytes());
    }
    out
}

/// 64 bits from the standard library's per-process random hash keys (no RNG crate needed;
/// recording ids must be unique, not secret).
fn random_u64(salt: u64) -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(salt);
    h.write_u32(std::process::id());
    h.finish()
}

/// A UUIDv7: 48-bit Unix milliseconds, version 7, 74 random bits, variant `10`.
pub fn uuid_v7() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let millis = now.as_millis() as u64 & 0xFFFF_FFFF_FFFF;
    let (a, b) = (random_u64(now.as_nanos() as u64), random_u64(!millis));
    let hi = (millis << 16) | 0x7000 | (a & 0x0FFF);
    let lo = (b & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xFFFF,
        hi & 0xFFFF,
        lo >> 48,
        lo & 0xFFFF_FFFF_FFFF
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_v7_is_canonical() {
        let id = uuid_v7();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "7");
        assert!("89ab".contains(&id[19..20]));
        assert!(id
            .chars()
            .enumerate()
            .all(|(i, c)| if [8, 13, 18, 23].contains(&i) {
                c == '-'
            } else {
                c.is_ascii_hexdigit() && !c.is_ascii_uppercase()
            }));
        assert_ne!(id, uuid_v7());
    }

    #[test]
    fn meta_has_no_trailing_bytes() {
        let args = vec!["a".to_string()];
        let paths = vec!["/p.py".to_string()];
        let m = Meta {
            recording_id: "0",
            program: "/p.py",
            args: &args,
            workdir: "/",
            recorder_id: "r",
            paths: &paths,
        };
        let bytes = encode(&m, HAS_STREAMS);
        assert_eq!(&bytes[..8], b"CTMD\x03\x00\x00\x0f");
        assert_eq!(bytes.len(), 8 + 2 + 6 + 1 + 2 + 2 + 2 + 1 + 6);
    }
}
