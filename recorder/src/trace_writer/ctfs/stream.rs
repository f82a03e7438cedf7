//! The two shapes of internal files besides `meta.dat`:
//! - [`ChunkedStream`]: `<name>.dat` is back-to-back zstd frames, one per chunk of a fixed
//!   number of records, each frame carrying its content size (the Nim reader refuses frames
//!   without one); `<name>.idx` is the chunk size (u32) then each frame's offset (u64);
//! - [`Table`]: an interning table, `<name>.dat` the records back to back and `<name>.off`
//!   each record's offset (u64), plus the end offset.

use super::container::{Container, FileId};
use crate::errors::{ErrorCode, RecorderError, RecorderResult};

/// Writes `v` as a LEB128 varint at the start of `out` (10 bytes hold any u64); returns its
/// length.
#[inline]
pub fn put_varint(out: &mut [u8; 10], mut v: u64) -> usize {
    let mut n = 0;
    while v >= 0x80 && n < 9 {
        out[n] = (v as u8) | 0x80;
        v >>= 7;
        n += 1;
    }
    out[n] = v as u8;
    n + 1
}

/// Appends `v` as a LEB128 varint. Its own loop rather than [`put_varint`] and a copy: that
/// cost 1 % more instructions on fib(20), where most of what is written is varints.
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
/// Batches handed to the compressing thread and not yet written; beyond this the recording
/// waits for it (memory stays bounded when compression is the slower side).
const IN_FLIGHT_MAX: usize = 2;
/// Chunks go to the compressing thread in batches of at least this many raw bytes: a hand-over
/// (a thread wake-up each way) costs more than compressing a small chunk (fib(26): 2.9 s
/// wall with every 8 KiB chunk handed over on its own, most of it waiting).
const BATCH_MIN: usize = 256 * 1024;
/// Buffers kept for the next raw chunks.
const SPARE_MAX: usize = 16;

/// Where a chunk's frame goes once compressed.
#[derive(Clone, Copy)]
enum Dest {
    /// The next frame of `dat`, its offset to `idx`.
    File { dat: FileId, idx: FileId },
    /// Back to the caller ([`Compressor::take_back`]) with this tag: a chunk finished out of
    /// stream order, written later by whoever made it.
    Back(u64),
}

/// One chunk: where its frame goes, and its bytes (raw going out, the frame coming back;
/// `raw` false: a frame already, passed through so that it keeps its place in the queue).
struct Chunk {
    dest: Dest,
    raw: bool,
    bytes: Vec<u8>,
}

/// Chunks compressed together on the thread, in the order they were made.
struct Job {
    chunks: Vec<Chunk>,
    nanos: u64,
}

fn zstd_error(e: std::io::Error) -> RecorderError {
    RecorderError::new(ErrorCode::Internal, format!("zstd compression failed: {e}"))
}

/// One-shot zstd compression (a known source size makes the frame carry its content size).
struct Zstd {
    inner: zstd::bulk::Compressor<'static>,
    /// The frame being written, swapped with the raw bytes once done.
    frame: Vec<u8>,
}

impl Zstd {
    fn new() -> RecorderResult<Self> {
        let inner = zstd::bulk::Compressor::new(LEVEL).map_err(|e| {
            RecorderError::new(ErrorCode::Internal, format!("cannot start zstd: {e}"))
        })?;
        Ok(Zstd {
            inner,
            frame: Vec::new(),
        })
    }

    /// Replaces `bytes` (raw) by its frame; returns the time it took.
    fn compress(&mut self, bytes: &mut Vec<u8>) -> std::io::Result<u64> {
        let start = std::time::Instant::now();
        self.frame.clear();
        self.frame
            .reserve(zstd::zstd_safe::compress_bound(bytes.len()));
        self.inner.compress_to_buffer(bytes, &mut self.frame)?;
        std::mem::swap(bytes, &mut self.frame);
        Ok(start.elapsed().as_nanos() as u64)
    }

    fn compress_job(&mut self, job: &mut Job) -> std::io::Result<()> {
        for chunk in job.chunks.iter_mut().filter(|chunk| chunk.raw) {
            job.nanos += self.compress(&mut chunk.bytes)?;
        }
        Ok(())
    }
}

/// Compresses chunks, on a thread of its own by default: the recording thread holds the GIL
/// and the program waits for it, while zstd needs neither (`CODETRACER_COMPRESS_THREAD=0`
/// compresses inline instead, to measure the difference with `bench/formats.py`). Frames are
/// written to the container by the recording thread, in the order chunks were made (one
/// thread, one queue: batches come back in order), so each stream's frames stay in order.
pub struct Compressor {
    /// Compresses inline, with `CODETRACER_COMPRESS_THREAD=0`.
    inline: Option<Zstd>,
    jobs: Option<std::sync::mpsc::Sender<Job>>,
    done: Option<std::sync::mpsc::Receiver<std::io::Result<Job>>>,
    /// Chunks waiting for the next hand-over, and their raw bytes.
    batch: Vec<Chunk>,
    batch_bytes: usize,
    in_flight: usize,
    /// Buffers coming back from written frames, to hold the next raw chunks.
    spare: Vec<Vec<u8>>,
    /// Frames of [`Dest::Back`] chunks, with their tags, until taken.
    back: Vec<(u64, Vec<u8>)>,
    /// Time spent compressing, reported with the trace's stats.
    pub nanos: u64,
}

impl Compressor {
    pub fn new() -> RecorderResult<Self> {
        let threaded = std::env::var("CODETRACER_COMPRESS_THREAD").map_or(true, |v| v != "0");
        let mut z = Compressor {
            inline: None,
            jobs: None,
            done: None,
            batch: Vec::new(),
            batch_bytes: 0,
            in_flight: 0,
            spare: Vec::new(),
            back: Vec::new(),
            nanos: 0,
        };
        if !threaded {
            z.inline = Some(Zstd::new()?);
            return Ok(z);
        }
        let mut zstd = Zstd::new()?;
        let (jobs, incoming) = std::sync::mpsc::channel::<Job>();
        let (finished, done) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("codetracer-zstd".into())
            .spawn(move || {
                for mut job in incoming {
                    let result = zstd.compress_job(&mut job).map(|()| job);
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

    /// Compresses `bytes` (unless `raw` is false: a frame already) and sends the frame to
    /// `dest`; returns an empty buffer for the next chunk.
    fn submit(
        &mut self,
        c: &mut Container,
        dest: Dest,
        bytes: Vec<u8>,
        raw: bool,
    ) -> RecorderResult<Vec<u8>> {
        let mut chunk = Chunk { dest, raw, bytes };
        if let Some(inline) = self.inline.as_mut() {
            if raw {
                self.nanos += inline.compress(&mut chunk.bytes).map_err(zstd_error)?;
            }
            self.write(c, chunk)?;
        } else {
            self.batch_bytes += chunk.bytes.len();
            self.batch.push(chunk);
            if self.batch_bytes >= BATCH_MIN {
                self.hand_over(c)?;
            }
        }
        let mut next = self.spare.pop().unwrap_or_default();
        next.clear();
        Ok(next)
    }

    /// Sends the batch to the compressing thread, and writes what came back meanwhile.
    fn hand_over(&mut self, c: &mut Container) -> RecorderResult<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let job = Job {
            chunks: std::mem::take(&mut self.batch),
            nanos: 0,
        };
        self.batch_bytes = 0;
        let sent = self.jobs.as_ref().map(|jobs| jobs.send(job).is_ok());
        if sent != Some(true) {
            return Err(gone());
        }
        self.in_flight += 1;
        while self.in_flight > IN_FLIGHT_MAX {
            self.receive(c, true)?;
        }
        while self.in_flight > 0 && self.receive(c, false)? {}
        Ok(())
    }

    /// Writes one compressed batch if one is ready (or, with `wait`, once one is).
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
                return Err(gone());
            }
            return Ok(false);
        };
        self.in_flight -= 1;
        let job = result.map_err(zstd_error)?;
        self.nanos += job.nanos;
        for chunk in job.chunks {
            self.write(c, chunk)?;
        }
        Ok(true)
    }

    fn write(&mut self, c: &mut Container, chunk: Chunk) -> RecorderResult<()> {
        match chunk.dest {
            Dest::Back(tag) => self.back.push((tag, chunk.bytes)),
            Dest::File { dat, idx } => {
                let offset = c.size(dat);
                c.append(dat, &chunk.bytes)?;
                c.append(idx, &offset.to_le_bytes())?;
                self.recycle(chunk.bytes);
            }
        }
        Ok(())
    }

    /// Keeps `bytes` (a written frame) to hold a next raw chunk.
    pub fn recycle(&mut self, bytes: Vec<u8>) {
        if self.spare.len() < SPARE_MAX {
            self.spare.push(bytes);
        }
    }

    /// Compresses `raw` into a frame that comes back through [`Compressor::take_back`] with
    /// `tag`, instead of going to a stream; returns an empty buffer for the next chunk.
    pub fn submit_back(
        &mut self,
        c: &mut Container,
        tag: u64,
        raw: Vec<u8>,
    ) -> RecorderResult<Vec<u8>> {
        self.submit(c, Dest::Back(tag), raw, true)
    }

    /// The frames of [`Compressor::submit_back`] chunks compressed since the last call, with
    /// their tags, in the order they were submitted (all of them after [`Compressor::drain`]).
    pub fn take_back(&mut self) -> Vec<(u64, Vec<u8>)> {
        std::mem::take(&mut self.back)
    }

    /// Writes every chunk made so far.
    pub fn drain(&mut self, c: &mut Container) -> RecorderResult<()> {
        self.hand_over(c)?;
        while self.in_flight > 0 {
            self.receive(c, true)?;
        }
        Ok(())
    }
}

fn gone() -> RecorderError {
    RecorderError::new(ErrorCode::Internal, "the compressing thread is gone")
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
        self.raw = z.submit(c, self.dest(), raw, true)?;
        self.in_chunk = 0;
        Ok(())
    }

    /// Writes a whole chunk of `records` records made elsewhere: its raw records, or with
    /// `raw` false its frame (see [`Compressor::submit_back`]). Records appended to
    /// [`Self::buf`] and not flushed yet would go after it: there must be none. Returns an
    /// empty buffer.
    pub fn push_chunk(
        &mut self,
        c: &mut Container,
        z: &mut Compressor,
        bytes: Vec<u8>,
        records: u64,
        raw: bool,
    ) -> RecorderResult<Vec<u8>> {
        self.flush(c, z)?;
        self.records += records;
        z.submit(c, self.dest(), bytes, raw)
    }

    fn dest(&self) -> Dest {
        Dest::File {
            dat: self.dat,
            idx: self.idx,
        }
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
        let mut max = vec![0xFF; 9];
        max.push(0x01);
        let known: [(u64, &[u8]); 5] = [
            (0, &[0]),
            (127, &[0x7F]),
            (128, &[0x80, 0x01]),
            (16384, &[0x80, 0x80, 0x01]),
            (u64::MAX, &max),
        ];
        for (v, bytes) in known {
            let mut out = [0u8; 10];
            let n = put_varint(&mut out, v);
            assert_eq!(&out[..n], bytes, "{v}");
            let mut pushed = vec![9];
            push_varint(&mut pushed, v);
            assert_eq!(&pushed[1..], bytes, "{v}");
        }
    }

    #[test]
    fn frames_carry_their_content_size() {
        let mut z = Zstd::new().unwrap_or_else(|_| unreachable!());
        let mut bytes = vec![7u8; 10_000];
        assert!(z.compress(&mut bytes).is_ok());
        let size = zstd::zstd_safe::get_frame_content_size(&bytes);
        assert_eq!(size.ok(), Some(Some(10_000)));
    }
}
