//! The two shapes of internal files besides `meta.dat`:
//! - [`ChunkedStream`]: `<name>.dat` is back-to-back zstd frames, one per chunk of a fixed
//!   number of records, each frame carrying its content size (the Nim reader refuses frames
//!   without one); `<name>.idx` is the chunk size (u32) then each frame's offset (u64);
//! - [`Table`]: an interning table, `<name>.dat` the records back to back and `<name>.off`
//!   each record's offset (u64), plus the end offset.

use super::container::{Container, FileId};
use crate::errors::{ErrorCode, RecorderError, RecorderResult};

pub fn push_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

pub fn push_svarint(buf: &mut Vec<u8>, v: i64) {
    push_varint(buf, ((v << 1) ^ (v >> 63)) as u64);
}

/// `varint len` then the bytes.
pub fn push_blob(buf: &mut Vec<u8>, bytes: &[u8]) {
    push_varint(buf, bytes.len() as u64);
    buf.extend_from_slice(bytes);
}

/// One-shot zstd compression (a known source size makes the frame carry its content size).
pub struct Compressor {
    inner: zstd::bulk::Compressor<'static>,
    out: Vec<u8>,
    /// Time spent compressing, reported with the trace's stats.
    pub nanos: u64,
}

/// Level 3 (zstd's default): per-step snapshots repeat, and higher levels cost more time
/// than the bytes they save (measured with `bench/run.py`).
const LEVEL: i32 = 3;

impl Compressor {
    pub fn new() -> RecorderResult<Self> {
        let inner = zstd::bulk::Compressor::new(LEVEL).map_err(|e| {
            RecorderError::new(ErrorCode::Internal, format!("cannot start zstd: {e}"))
        })?;
        Ok(Compressor {
            inner,
            out: Vec::new(),
            nanos: 0,
        })
    }

    /// The frame of `raw`, valid until the next call.
    pub fn frame(&mut self, raw: &[u8]) -> RecorderResult<&[u8]> {
        let start = std::time::Instant::now();
        self.out.clear();
        self.out.reserve(zstd::zstd_safe::compress_bound(raw.len()));
        let done = self.inner.compress_to_buffer(raw, &mut self.out);
        self.nanos += start.elapsed().as_nanos() as u64;
        done.map_err(|e| {
            RecorderError::new(ErrorCode::Internal, format!("zstd compression failed: {e}"))
        })?;
        Ok(&self.out)
    }
}

pub struct ChunkedStream {
    dat: FileId,
    idx: FileId,
    chunk_records: usize,
    raw: Vec<u8>,
    in_chunk: usize,
    records: u64,
}

impl ChunkedStream {
    pub fn create(c: &mut Container, base: &str, chunk_records: usize) -> RecorderResult<Self> {
        let dat = c.add_file(&format!("{base}.dat"))?;
        let idx = c.add_file(&format!("{base}.idx"))?;
        c.append(idx, &(chunk_records as u32).to_le_bytes())?;
        Ok(ChunkedStream {
            dat,
            idx,
            chunk_records,
            raw: Vec::new(),
            in_chunk: 0,
            records: 0,
        })
    }

    /// Records written so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Whether the next record starts a chunk.
    pub fn at_chunk_start(&self) -> bool {
        self.in_chunk == 0
    }

    /// The buffer the next record is appended to; call [`Self::end_record`] after.
    pub fn buf(&mut self) -> &mut Vec<u8> {
        &mut self.raw
    }

    /// Appends one `varint len` framed record.
    pub fn push_framed(
        &mut self,
        c: &mut Container,
        z: &mut Compressor,
        record: &[u8],
    ) -> RecorderResult<()> {
        push_blob(&mut self.raw, record);
        self.end_record(c, z)
    }

    /// Counts the record just appended to [`Self::buf`]; a full chunk is compressed out.
    pub fn end_record(&mut self, c: &mut Container, z: &mut Compressor) -> RecorderResult<()> {
        self.in_chunk += 1;
        self.records += 1;
        if self.in_chunk >= self.chunk_records {
            self.flush(c, z)?;
        }
        Ok(())
    }

    /// Writes the records since the last chunk as a chunk of their own.
    pub fn flush(&mut self, c: &mut Container, z: &mut Compressor) -> RecorderResult<()> {
        if self.in_chunk == 0 {
            return Ok(());
        }
        let offset = c.size(self.dat);
        let frame = z.frame(&self.raw)?;
        c.append(self.dat, frame)?;
        c.append(self.idx, &offset.to_le_bytes())?;
        self.raw.clear();
        self.in_chunk = 0;
        Ok(())
    }
}

pub struct Table {
    dat: FileId,
    off: FileId,
}

impl Table {
    pub fn create(c: &mut Container, base: &str) -> RecorderResult<Self> {
        Ok(Table {
            dat: c.add_file(&format!("{base}.dat"))?,
            off: c.add_file(&format!("{base}.off"))?,
        })
    }

    pub fn push(&mut self, c: &mut Container, record: &[u8]) -> RecorderResult<()> {
        let offset = c.size(self.dat);
        c.append(self.off, &offset.to_le_bytes())?;
        c.append(self.dat, record)?;
        Ok(())
    }

    /// Writes the end offset.
    pub fn finish(&self, c: &mut Container) -> RecorderResult<()> {
        let end = c.size(self.dat);
        c.append(self.off, &end.to_le_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_are_leb128_and_zigzag() {
        let mut b = Vec::new();
        push_varint(&mut b, 300);
        assert_eq!(b, [0xAC, 0x02]);
        b.clear();
        push_svarint(&mut b, -1);
        push_svarint(&mut b, 1);
        push_svarint(&mut b, -64);
        assert_eq!(b, [1, 2, 127]);
    }

    #[test]
    fn frames_carry_their_content_size() {
        let mut z = Compressor::new().unwrap_or_else(|_| unreachable!());
        let raw = vec![7u8; 10_000];
        let frame = z.frame(&raw).map(<[u8]>::to_vec).unwrap_or_default();
        let size = zstd::zstd_safe::get_frame_content_size(&frame);
        assert_eq!(size.ok(), Some(Some(10_000)));
    }
}
