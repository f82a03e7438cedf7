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

/// Level 1: per-step snapshots repeat so much that the fastest level already finds nearly all
/// of it (numeric(500): level 3 is 3% smaller and compresses 1.6x slower).
const LEVEL: i32 = 1;
/// Chunks handed to the compressing thread and not yet written; beyond this the recording
/// waits for it (memory stays bounded when compression is the slower side).
const IN_FLIGHT_MAX: usize = 2;
/// Smaller chunks are compressed inline: handing them over costs more (thread wake-ups) than
/// compressing them (fib(26): 2.9 s wall with every chunk handed over, most of it waiting).
const HAND_OVER_MIN: usize = 256 * 1024;

/// One chunk: where its frame goes, and its bytes (raw going out, the frame coming back).
struct Job {
    dat: FileId,
    idx: FileId,
    bytes: Vec<u8>,
    nanos: u64,
}

fn zstd_error(e: std::io::Error) -> RecorderError {
    RecorderError::new(ErrorCode::Internal, format!("zstd compression failed: {e}"))
}

/// One-shot zstd compression (a known source size makes the frame carry its content size).
struct Zstd {
    inner: zstd::bulk::Compressor<'static>,
}

impl Zstd {
    fn new() -> RecorderResult<Self> {
        let inner = zstd::bulk::Compressor::new(LEVEL).map_err(|e| {
            RecorderError::new(ErrorCode::Internal, format!("cannot start zstd: {e}"))
        })?;
        Ok(Zstd { inner })
    }

    /// Replaces `job.bytes` (raw) by its frame; `frame` is a reused buffer, swapped in.
    fn compress(&mut self, job: &mut Job, frame: &mut Vec<u8>) -> std::io::Result<()> {
        let start = std::time::Instant::now();
        frame.clear();
        frame.reserve(zstd::zstd_safe::compress_bound(job.bytes.len()));
        let done = self.inner.compress_to_buffer(&job.bytes, frame);
        std::mem::swap(&mut job.bytes, frame);
        job.nanos = start.elapsed().as_nanos() as u64;
        done.map(|_| ())
    }
}

/// Compresses chunks, on a thread of its own by default: the recording thread holds the GIL
/// and the program waits for it, while zstd needs neither (`CODETRACER_COMPRESS_THREAD=0`
/// compresses inline instead, to measure the difference with `bench/formats.py`). Frames are
/// written to the container by the recording thread, in the order chunks were handed over.
pub struct Compressor {
    /// Compresses inline: always with `CODETRACER_COMPRESS_THREAD=0`, else small chunks.
    inline: Zstd,
    threaded: bool,
    /// The `.dat` file of each chunk in flight (a stream's frames must stay in order).
    in_flight_files: Vec<FileId>,
    jobs: Option<std::sync::mpsc::Sender<Job>>,
    done: Option<std::sync::mpsc::Receiver<std::io::Result<Job>>>,
    in_flight: usize,
    /// Buffers coming back from written frames, to hold the next raw chunks.
    spare: Vec<Vec<u8>>,
    /// Time spent compressing, reported with the trace's stats.
    pub nanos: u64,
}

impl Compressor {
    pub fn new() -> RecorderResult<Self> {
        let threaded = std::env::var("CODETRACER_COMPRESS_THREAD").map_or(true, |v| v != "0");
        let mut z = Compressor {
            inline: Zstd::new()?,
            threaded,
            in_flight_files: Vec::new(),
            jobs: None,
            done: None,
            in_flight: 0,
            spare: Vec::new(),
            nanos: 0,
        };
        if !threaded {
            return Ok(z);
        }
        let mut zstd = Zstd::new()?;
        let (jobs, incoming) = std::sync::mpsc::channel::<Job>();
        let (finished, done) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("codetracer-zstd".into())
            .spawn(move || {
                let mut frame = Vec::new();
                for mut job in incoming {
                    let result = zstd.compress(&mut job, &mut frame).map(|()| job);
                    if finished.send(result).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| {
                RecorderError::new(
                    ErrorCode::Internal,
                    format!("cannot start compressing: {e}"),
                )
            })?;
        z.jobs = Some(jobs);
        z.done = Some(done);
        Ok(z)
    }

    /// Compresses `raw` as the next frame of `dat` (its offset goes to `idx`); returns an
    /// empty buffer for the next chunk.
    fn submit(
        &mut self,
        c: &mut Container,
        dat: FileId,
        idx: FileId,
        raw: Vec<u8>,
    ) -> RecorderResult<Vec<u8>> {
        let mut job = Job {
            dat,
            idx,
            bytes: raw,
            nanos: 0,
        };
        let small = job.bytes.len() < HAND_OVER_MIN && !self.in_flight_files.contains(&dat);
        if !self.threaded || small {
            let mut frame = self.spare.pop().unwrap_or_default();
            self.inline
                .compress(&mut job, &mut frame)
                .map_err(zstd_error)?;
            self.write(c, job)?;
            frame.clear();
            return Ok(frame);
        }
        self.in_flight_files.push(dat);
        let sent = self.jobs.as_ref().map(|jobs| jobs.send(job).is_ok());
        if sent != Some(true) {
            return Err(RecorderError::new(
                ErrorCode::Internal,
                "the compressing thread is gone",
            ));
        }
        self.in_flight += 1;
        while self.in_flight > IN_FLIGHT_MAX {
            self.receive(c, true)?;
        }
        while self.in_flight > 0 && self.receive(c, false)? {}
        let mut next = self.spare.pop().unwrap_or_default();
        next.clear();
        Ok(next)
    }

    /// Writes one compressed chunk if one is ready (or, with `wait`, once one is).
    fn receive(&mut self, c: &mut Container, wait: bool) -> RecorderResult<bool> {
        let Some(done) = &self.done else {
            return Ok(false);
        };
        let got = if wait {
            done.recv().ok()
        } else {
            done.try_recv().ok()
        };
        let Some(result) = got else {
            if wait {
                return Err(RecorderError::new(
                    ErrorCode::Internal,
                    "the compressing thread is gone",
                ));
            }
            return Ok(false);
        };
        self.in_flight -= 1;
        let job = result.map_err(zstd_error)?;
        if let Some(i) = self.in_flight_files.iter().position(|f| *f == job.dat) {
            self.in_flight_files.remove(i);
        }
        self.write(c, job)?;
        Ok(true)
    }

    fn write(&mut self, c: &mut Container, job: Job) -> RecorderResult<()> {
        let offset = c.size(job.dat);
        c.append(job.dat, &job.bytes)?;
        c.append(job.idx, &offset.to_le_bytes())?;
        self.nanos += job.nanos;
        if self.spare.len() < IN_FLIGHT_MAX {
            self.spare.push(job.bytes);
        }
        Ok(())
    }

    /// Writes every chunk handed over so far.
    pub fn drain(&mut self, c: &mut Container) -> RecorderResult<()> {
        while self.in_flight > 0 {
            self.receive(c, true)?;
        }
        Ok(())
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
        let raw = std::mem::take(&mut self.raw);
        self.raw = z.submit(c, self.dat, self.idx, raw)?;
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
        let mut z = Zstd::new().unwrap_or_else(|_| unreachable!());
        let mut job = Job {
            dat: super::super::container::FileId::for_test(0),
            idx: super::super::container::FileId::for_test(1),
            bytes: vec![7u8; 10_000],
            nanos: 0,
        };
        let mut frame = Vec::new();
        assert!(z.compress(&mut job, &mut frame).is_ok());
        let size = zstd::zstd_safe::get_frame_content_size(&job.bytes);
        assert_eq!(size.ok(), Some(Some(10_000)));
    }
}
