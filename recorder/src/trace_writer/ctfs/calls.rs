//! The call stream: one record per call, at the index of its call key (the order calls were
//! entered), written only once the call has returned.
//!
//! A record is `varint function_id, zigzag parent_key (-1: none), varint first_step, varint
//! last_step, varint depth, varint nargs, nargs x (varint varname_id, varint len, CBOR),
//! varint len + CBOR return value, varint len + exception (empty), varint nchildren,
//! children keys`. The first step is the callee's first step; a call with no step of its own
//! takes the step it was called from (as the Nim writer does), the last step is the last one
//! written before it returned.
//!
//! Records complete in return order but belong in entry order, and `<toplevel>` returns last,
//! so the stream's first chunk is complete only at the end. The other chunks of 256 calls are
//! mostly complete long before: a finished record waits in memory with the rest of its chunk,
//! and a chunk whose calls have all returned is compressed at once, while the program runs
//! (on the compressing thread), its frame kept in a spill file beside the trace until the
//! chunks before it are written. At the end the chunks still open are completed and every
//! frame goes to the stream in chunk order; the spill file is removed. (Spilling every
//! record and compressing all of them at the end made the end of a recording a tenth of it:
//! fib(27), 41 MB of records.)
//!
//! Memory holds the records of chunks not complete yet, up to [`GATHERED_MAX`] bytes (deep
//! recursion leaves one open call in many chunks); beyond that, records go to the spill file
//! too, and their chunks are completed from it at the end.
//!
//! Each thread has its own stack of open calls: a thread's first call has no parent.

use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::container::Container;
use super::stream::{push_blob, push_svarint, push_varint, put_varint, ChunkedStream, Compressor};
use crate::errors::{RecorderError, RecorderResult};
use crate::fast_hash::FastMap;

struct Open {
    key: u64,
    function_id: u64,
    parent: i64,
    first_step: u64,
    depth: u64,
    /// `varint nargs` and the arguments, already encoded.
    args: Vec<u8>,
    children: Vec<u64>,
}

/// The spill is read back through a cache of this many pages of `PAGE` bytes (2 MiB):
/// entry order visits spilled records (return order) with locality, ancestors far back,
/// children near, so a small cache serves nearly every read and memory stays bounded.
const PAGE: u64 = 64 * 1024;
const PAGES: usize = 32;
/// Where a record is: not finished yet, an offset in its chunk's bytes, or (with
/// [`SPILLED`]) an offset in the spill file.
const NOT_DONE: u64 = u64::MAX;
const SPILLED: u64 = 1 << 63;
/// Bytes of finished records kept in memory while their chunks are not complete.
const GATHERED_MAX: usize = 64 << 20;

/// The finished records of a chunk not complete yet.
#[derive(Default)]
struct Gathering {
    /// `varint len` framed records, in return order.
    bytes: Vec<u8>,
    /// Where each call's record is, by its key's place in the chunk.
    at: Vec<u64>,
    done: u64,
    /// Some record is in the spill file: the chunk is completed at the end.
    spilled: bool,
}

pub struct Calls {
    stacks: FastMap<u64, Vec<Open>>,
    thread: u64,
    next_key: u64,
    /// Calls per chunk of the stream.
    chunk_records: u64,
    /// Chunks with finished records, by chunk number, until complete.
    gathering: FastMap<u64, Gathering>,
    /// Bytes held by `gathering`, and at most ([`GATHERED_MAX`]; tests lower it).
    gathered: usize,
    gathered_max: usize,
    /// Frames of chunks compressed early: (spill offset, length), by chunk number.
    frames: FastMap<u64, (u64, u64)>,
    spill: BufWriter<File>,
    spill_path: PathBuf,
    spilled: u64,
    record: Vec<u8>,
    /// A buffer for the next chunk put together.
    chunk: Vec<u8>,
    /// Argument and child-list buffers of finished calls, for the next calls (a call each
    /// few steps made two allocations show in profiles), and emptied gatherings.
    spare_args: Vec<Vec<u8>>,
    spare_children: Vec<Vec<u64>>,
    spare_gathering: Vec<Gathering>,
}

/// Buffers kept in each pool at most.
const SPARE_MAX: usize = 64;

impl Calls {
    pub fn create(dir: &Path, chunk_records: usize) -> RecorderResult<Self> {
        let spill_path = dir.join("calls.spill");
        // read back at the end, so opened for both
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&spill_path)
            .map_err(|e| RecorderError::io("cannot create", &spill_path, &e))?;
        Ok(Calls {
            stacks: FastMap::default(),
            thread: 0,
            next_key: 0,
            chunk_records: chunk_records.max(1) as u64,
            gathering: FastMap::default(),
            gathered: 0,
            gathered_max: GATHERED_MAX,
            frames: FastMap::default(),
            spill: BufWriter::with_capacity(256 * 1024, file),
            spill_path,
            spilled: 0,
            record: Vec::new(),
            chunk: Vec::new(),
            spare_args: Vec::new(),
            spare_children: Vec::new(),
            spare_gathering: Vec::new(),
        })
    }

    pub fn switch_thread(&mut self, ident: u64) {
        self.thread = ident;
    }

    /// An empty buffer for the next call's arguments (see [`Calls::enter`]).
    pub fn args_buffer(&mut self) -> Vec<u8> {
        self.spare_args.pop().unwrap_or_default()
    }

    /// A call entered; `args` is `varint nargs` and the encoded arguments. `next_step` is the
    /// index the next step will get.
    pub fn enter(&mut self, function_id: u64, args: Vec<u8>, next_step: u64) {
        let key = self.next_key;
        self.next_key += 1;
        let stack = self.stacks.entry(self.thread).or_default();
        let parent = match stack.last_mut() {
            Some(caller) => {
                caller.children.push(key);
                caller.key as i64
            }
            None => -1,
        };
        let depth = stack.len() as u64;
        stack.push(Open {
            key,
            function_id,
            parent,
            first_step: next_step,
            depth,
            args,
            children: self.spare_children.pop().unwrap_or_default(),
        });
    }

    /// The current thread's innermost call returned `value` (CBOR). `steps` is the number of
    /// steps written so far. A return with no open call is ignored.
    pub fn leave(
        &mut self,
        value: &[u8],
        steps: u64,
        c: &mut Container,
        z: &mut Compressor,
    ) -> RecorderResult<()> {
        let Some(open) = self.stacks.get_mut(&self.thread).and_then(Vec::pop) else {
            return Ok(());
        };
        self.finish_record(open, value, steps, c, z)
    }

    fn finish_record(
        &mut self,
        open: Open,
        value: &[u8],
        steps: u64,
        c: &mut Container,
        z: &mut Compressor,
    ) -> RecorderResult<()> {
        let last_step = steps.saturating_sub(1);
        let first_step = if steps > open.first_step {
            open.first_step
        } else {
            last_step
        };
        let r = &mut self.record;
        r.clear();
        push_varint(r, open.function_id);
        push_svarint(r, open.parent);
        push_varint(r, first_step);
        push_varint(r, last_step);
        push_varint(r, open.depth);
        r.extend_from_slice(&open.args);
        push_blob(r, value);
        push_blob(r, &[]);
        push_varint(r, open.children.len() as u64);
        for child in &open.children {
            push_varint(r, *child);
        }
        let (number, slot) = (
            open.key / self.chunk_records,
            (open.key % self.chunk_records) as usize,
        );
        let records = self.chunk_records as usize;
        let g = self.gathering.entry(number).or_insert_with(|| {
            let mut g = self.spare_gathering.pop().unwrap_or_default();
            g.at.resize(records, NOT_DONE);
            g
        });
        if self.gathered + self.record.len() <= self.gathered_max {
            let at = g.bytes.len();
            push_blob(&mut g.bytes, &self.record);
            self.gathered += g.bytes.len() - at;
            if let Some(place) = g.at.get_mut(slot) {
                *place = at as u64;
            }
        } else {
            if let Some(place) = g.at.get_mut(slot) {
                *place = SPILLED | self.spilled;
            }
            g.spilled = true;
            let mut head = [0u8; 10];
            let n = put_varint(&mut head, self.record.len() as u64);
            let parts = [&head[..n], &self.record[..]];
            spill_write(&mut self.spill, &self.spill_path, &mut self.spilled, &parts)?;
        }
        g.done += 1;
        let complete = g.done == self.chunk_records && !g.spilled;
        let (mut args, mut children) = (open.args, open.children);
        if self.spare_args.len() < SPARE_MAX {
            args.clear();
            self.spare_args.push(args);
        }
        if self.spare_children.len() < SPARE_MAX {
            children.clear();
            self.spare_children.push(children);
        }
        if complete {
            self.compress_early(number, c, z)?;
        }
        Ok(())
    }

    /// Puts complete chunk `number` together from memory and has it compressed; keeps the
    /// frames that came back meanwhile.
    fn compress_early(
        &mut self,
        number: u64,
        c: &mut Container,
        z: &mut Compressor,
    ) -> RecorderResult<()> {
        let Some(mut g) = self.gathering.remove(&number) else {
            return Ok(());
        };
        let mut chunk = std::mem::take(&mut self.chunk);
        chunk.clear();
        for &at in &g.at {
            copy_framed(&g.bytes, at, &mut chunk).ok_or_else(|| corrupt_error(&self.spill_path))?;
        }
        self.gathered -= g.bytes.len();
        if self.spare_gathering.len() < SPARE_MAX {
            g.bytes.clear();
            g.at.clear();
            self.spare_gathering.push(Gathering {
                done: 0,
                spilled: false,
                ..g
            });
        }
        self.chunk = z.submit_back(c, number, chunk)?;
        self.keep_frames(z)
    }

    /// Spills the frames of early chunks the compressor has finished.
    fn keep_frames(&mut self, z: &mut Compressor) -> RecorderResult<()> {
        for (number, frame) in z.take_back() {
            self.frames
                .insert(number, (self.spilled, frame.len() as u64));
            spill_write(
                &mut self.spill,
                &self.spill_path,
                &mut self.spilled,
                &[&frame],
            )?;
            z.recycle(frame);
        }
        Ok(())
    }

    /// Returns every call still open with `void` (0xFF, the format's marker for no return
    /// value), then writes all chunks in order to `stream` and removes the spill file.
    pub fn finish(
        mut self,
        steps: u64,
        c: &mut Container,
        z: &mut Compressor,
        stream: &mut ChunkedStream,
    ) -> RecorderResult<()> {
        let mut open: Vec<Open> = Vec::new();
        for stack in self.stacks.values_mut() {
            while let Some(call) = stack.pop() {
                open.push(call);
            }
        }
        for call in open {
            self.finish_record(call, &[0xFF], steps, c, z)?;
        }
        z.drain(c)?;
        self.keep_frames(z)?;
        let spill_path = self.spill_path.clone();
        let io = |e: std::io::Error| RecorderError::io("cannot read", &spill_path, &e);
        let mut file = self.spill.into_inner().map_err(|e| io(e.into_error()))?;
        let mut pages = PageCache {
            file: &mut file,
            size: self.spilled,
            pages: Vec::with_capacity(PAGES),
            last: 0,
            clock: 0,
        };
        let mut chunk = std::mem::take(&mut self.chunk);
        let mut result = Ok(());
        let mut first = 0;
        let mut number = 0;
        while first < self.next_key {
            let records = self.chunk_records.min(self.next_key - first);
            chunk.clear();
            let (bytes, raw) = match self.frames.get(&number) {
                Some(&(offset, len)) => (pages.bytes(offset, len as usize, &mut chunk), false),
                None => {
                    let g = self.gathering.get(&number);
                    let made = (0..records as usize).try_for_each(|slot| {
                        let at = g.and_then(|g| g.at.get(slot)).copied().unwrap_or(NOT_DONE);
                        if at != NOT_DONE && at & SPILLED != 0 {
                            pages.framed(at & !SPILLED, &mut chunk)
                        } else {
                            let bytes = g.map_or(&[][..], |g| &g.bytes[..]);
                            copy_framed(bytes, at, &mut chunk).ok_or_else(corrupt)
                        }
                    });
                    (made, true)
                }
            };
            result = bytes
                .map_err(io)
                .and_then(|()| stream.push_chunk(c, z, std::mem::take(&mut chunk), records, raw))
                .map(|next| chunk = next);
            if result.is_err() {
                break;
            }
            first += records;
            number += 1;
        }
        drop(file);
        let _ = std::fs::remove_file(&self.spill_path);
        result
    }

    /// Closes the spill file without writing what is buffered (see `CtfsTrace::abandon`).
    pub fn abandon(self) {
        let _ = self.spill.into_parts();
    }
}

/// Appends `parts` to the spill file, counting its size in `spilled`.
fn spill_write(
    spill: &mut BufWriter<File>,
    path: &Path,
    spilled: &mut u64,
    parts: &[&[u8]],
) -> RecorderResult<()> {
    for part in parts {
        spill
            .write_all(part)
            .map_err(|e| RecorderError::io("cannot write", path, &e))?;
        *spilled += part.len() as u64;
    }
    Ok(())
}

/// Appends the `varint len` framed record at `at` in `bytes` to `into`; a call never
/// finished ([`NOT_DONE`]) is an empty record.
fn copy_framed(bytes: &[u8], at: u64, into: &mut Vec<u8>) -> Option<()> {
    if at == NOT_DONE {
        into.push(0);
        return Some(());
    }
    let at = at as usize;
    let (len, start) = read_varint_at(bytes, at)?;
    into.extend_from_slice(bytes.get(at..start.checked_add(len as usize)?)?);
    Some(())
}

fn corrupt_error(path: &Path) -> RecorderError {
    RecorderError::io("cannot read", path, &corrupt())
}

fn read_varint_at(data: &[u8], mut pos: usize) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *data.get(pos)?;
        pos += 1;
        value |= ((b & 0x7F) as u64) << shift;
        if b & 0x80 == 0 {
            return Some((value, pos));
        }
    }
    None
}

/// Reads the spill back by pages, keeping the most recently used ones.
struct PageCache<'a> {
    file: &'a mut File,
    size: u64,
    /// (page number, bytes, last use); at most [`PAGES`], searched from `last`.
    pages: Vec<(u64, Vec<u8>, u64)>,
    /// The page read last: most reads fall in it (a record's length, then the record, then
    /// the next record), and a hash lookup per read showed for programs of many small calls.
    last: usize,
    clock: u64,
}

impl PageCache<'_> {
    fn bytes(&mut self, at: u64, len: usize, into: &mut Vec<u8>) -> std::io::Result<()> {
        let (mut at, end) = (at, at + len as u64);
        while at < end {
            let number = at / PAGE;
            let page = self.page(number)?;
            let from = (at - number * PAGE) as usize;
            let take = ((end - at) as usize).min(page.len().saturating_sub(from));
            if take == 0 {
                return Err(corrupt());
            }
            into.extend_from_slice(&page[from..from + take]);
            at += take as u64;
        }
        Ok(())
    }

    fn page(&mut self, number: u64) -> std::io::Result<&[u8]> {
        self.clock += 1;
        let found = match self.pages.get(self.last) {
            Some(page) if page.0 == number => Some(self.last),
            _ => self.pages.iter().position(|page| page.0 == number),
        };
        let index = match found {
            Some(index) => index,
            None => self.load(number)?,
        };
        self.last = index;
        let page = self.pages.get_mut(index).ok_or_else(corrupt)?;
        page.2 = self.clock;
        Ok(&page.1)
    }

    /// Reads page `number` into a free slot, or over the least recently used page's buffer
    /// (no zeroing, no allocation once the cache is full); returns its slot.
    fn load(&mut self, number: u64) -> std::io::Result<usize> {
        let (index, mut data) = if self.pages.len() < PAGES {
            self.pages.push((number, Vec::new(), 0));
            (self.pages.len() - 1, Vec::new())
        } else {
            let oldest = self
                .pages
                .iter()
                .enumerate()
                .min_by_key(|(_, page)| page.2)
                .map_or(0, |(index, _)| index);
            let data = self
                .pages
                .get_mut(oldest)
                .map(|page| std::mem::take(&mut page.1))
                .unwrap_or_default();
            (oldest, data)
        };
        let start = number * PAGE;
        let len = PAGE.min(self.size.saturating_sub(start));
        data.clear();
        data.reserve(len as usize);
        self.file.seek(SeekFrom::Start(start))?;
        if Read::take(&mut *self.file, len).read_to_end(&mut data)? as u64 != len {
            return Err(corrupt());
        }
        let page = self.pages.get_mut(index).ok_or_else(corrupt)?;
        *page = (number, data, self.clock);
        Ok(index)
    }

    /// Appends the `varint len` framed record at `offset` to `into`.
    fn framed(&mut self, offset: u64, into: &mut Vec<u8>) -> std::io::Result<()> {
        // the length first, read into `into` and then read on behind it
        let at = into.len();
        self.bytes(
            offset,
            self.size.saturating_sub(offset).min(10) as usize,
            into,
        )?;
        let (len, start) = read_varint_at(into, at).ok_or_else(corrupt)?;
        into.truncate(start);
        self.bytes(offset + (start - at) as u64, len as usize, into)
    }
}

fn corrupt() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, "corrupt call spill")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::container::read_back;
    use super::*;

    /// The records of a calls stream written by `Calls` with chunks of 4 and at most
    /// `gathered_max` bytes in memory, for calls nested as `shape` says.
    fn record(gathered_max: usize, tag: &str) -> Vec<Vec<u8>> {
        let dir = std::env::temp_dir().join(format!("ctfs-calls-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.ct");
        let mut c = Container::create(&path).unwrap();
        let mut z = Compressor::new().unwrap();
        let mut stream = ChunkedStream::create(&mut c, "calls", 4).unwrap();
        let mut calls = Calls::create(&dir, 4).unwrap();
        calls.gathered_max = gathered_max;
        // a long-running outer call (chunk 0 completes only at the end), recursion of depth
        // 6 on two threads taking turns, and calls left open at the end
        let (mut key, mut steps) = (0u64, 0u64);
        calls.enter(key, vec![0], steps);
        key += 1;
        for round in 0..40u64 {
            calls.switch_thread(round % 2);
            let depth = 1 + round % 6;
            for _ in 0..depth {
                calls.enter(key, vec![1, 7, 1, 0x18 + (key % 8) as u8], steps);
                key += 1;
                steps += 1;
            }
            for _ in 0..depth {
                steps += 1;
                calls.leave(&[0x01], steps, &mut c, &mut z).unwrap();
            }
        }
        calls.switch_thread(1);
        calls.enter(key, vec![0], steps);
        calls.finish(steps, &mut c, &mut z, &mut stream).unwrap();
        z.drain(&mut c).unwrap();
        assert!(!dir.join("calls.spill").exists());
        c.finish().unwrap();
        let image = std::fs::read(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let dat = read_back(&image, "calls.dat");
        let idx = read_back(&image, "calls.idx");
        assert_eq!(&idx[..4], &4u32.to_le_bytes());
        let offsets: Vec<usize> = idx[4..]
            .chunks(8)
            .map(|o| u64::from_le_bytes(o.try_into().unwrap()) as usize)
            .chain([dat.len()])
            .collect();
        let mut records = Vec::new();
        for w in offsets.windows(2) {
            let raw = zstd::stream::decode_all(&dat[w[0]..w[1]]).unwrap();
            let mut pos = 0;
            while pos < raw.len() {
                let (len, start) = read_varint_at(&raw, pos).unwrap();
                records.push(raw[start..start + len as usize].to_vec());
                pos = start + len as usize;
            }
        }
        records
    }

    #[test]
    fn records_are_in_entry_order_from_memory_or_spill() {
        let kept = record(GATHERED_MAX, "kept");
        // every key once, in order (the function id is the key)
        assert_eq!(
            kept.len(),
            1 + (0..40).map(|r| 1 + r % 6).sum::<usize>() + 1
        );
        for (key, r) in kept.iter().enumerate() {
            assert_eq!(read_varint_at(r, 0).unwrap().0, key as u64, "record {key}");
        }
        assert_eq!(record(0, "spilled"), kept);
        assert_eq!(record(300, "mixed"), kept);
    }
}
