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
//! so nothing could be written before the end. Finished records go to a spill file beside the
//! trace instead, in return order; memory keeps one offset per call. At the end they are read
//! back in key order into the call stream and the spill file is removed.
//!
//! Each thread has its own stack of open calls: a thread's first call has no parent.

use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::container::Container;
use super::stream::{push_blob, push_svarint, push_varint, ChunkedStream, Compressor};
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
/// entry order visits the spill (return order) with locality, ancestors far back, children
/// near, so a small cache serves nearly every read and memory stays bounded.
const PAGE: u64 = 64 * 1024;
const PAGES: usize = 32;
const NOT_DONE: u64 = u64::MAX;

pub struct Calls {
    stacks: FastMap<u64, Vec<Open>>,
    thread: u64,
    next_key: u64,
    spill: BufWriter<File>,
    spill_path: PathBuf,
    spilled: u64,
    /// Spill offset of each finished call's record, by key.
    offsets: Vec<u64>,
    record: Vec<u8>,
    /// `record`'s `varint len`, spilled in front of it (reused).
    framed: Vec<u8>,
    /// Argument and child-list buffers of spilled calls, for the next calls (a call each
    /// few steps made two allocations show in profiles).
    spare_args: Vec<Vec<u8>>,
    spare_children: Vec<Vec<u64>>,
}

/// Buffers kept in each pool at most.
const SPARE_MAX: usize = 64;

impl Calls {
    pub fn create(dir: &Path) -> RecorderResult<Self> {
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
            spill: BufWriter::with_capacity(256 * 1024, file),
            spill_path,
            spilled: 0,
            offsets: Vec::new(),
            record: Vec::new(),
            framed: Vec::new(),
            spare_args: Vec::new(),
            spare_children: Vec::new(),
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
        self.offsets.push(NOT_DONE);
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
    pub fn leave(&mut self, value: &[u8], steps: u64) -> RecorderResult<()> {
        let Some(open) = self.stacks.get_mut(&self.thread).and_then(Vec::pop) else {
            return Ok(());
        };
        self.spill_record(open, value, steps)
    }

    fn spill_record(&mut self, open: Open, value: &[u8], steps: u64) -> RecorderResult<()> {
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
        if let Some(slot) = self.offsets.get_mut(open.key as usize) {
            *slot = self.spilled;
        }
        // `varint len` then the record, straight into the spill's buffer (arguments and
        // return values make records big: objects(4000) spills 37 MB)
        let head = &mut self.framed;
        head.clear();
        push_varint(head, self.record.len() as u64);
        self.spill
            .write_all(head)
            .and_then(|()| self.spill.write_all(&self.record))
            .map_err(|e| RecorderError::io("cannot write", &self.spill_path, &e))?;
        self.spilled += (head.len() + self.record.len()) as u64;
        let (mut args, mut children) = (open.args, open.children);
        if self.spare_args.len() < SPARE_MAX {
            args.clear();
            self.spare_args.push(args);
        }
        if self.spare_children.len() < SPARE_MAX {
            children.clear();
            self.spare_children.push(children);
        }
        Ok(())
    }

    /// Returns every call still open with `void` (0xFF, the format's marker for no return
    /// value), then writes all records in key order to `stream` and removes the spill file.
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
            self.spill_record(call, &[0xFF], steps)?;
        }
        let io = |e: std::io::Error| RecorderError::io("cannot read", &self.spill_path, &e);
        let mut file = self.spill.into_inner().map_err(|e| io(e.into_error()))?;
        let mut pages = PageCache {
            file: &mut file,
            size: self.spilled,
            pages: Vec::with_capacity(PAGES),
            last: 0,
            clock: 0,
        };
        // spilled records are framed as the stream frames them: copied in as they are
        let result = self.offsets.iter().try_for_each(|&offset| {
            pages.framed(offset, stream.buf()).map_err(io)?;
            stream.end_record(c, z)
        });
        drop(file);
        let _ = std::fs::remove_file(&self.spill_path);
        result
    }

    /// Closes the spill file without writing what is buffered (see `CtfsTrace::abandon`).
    pub fn abandon(self) {
        let _ = self.spill.into_parts();
    }
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

    /// Appends the `varint len` framed record at `offset` to `into` (an empty record for a
    /// call never finished).
    fn framed(&mut self, offset: u64, into: &mut Vec<u8>) -> std::io::Result<()> {
        if offset == NOT_DONE {
            into.push(0);
            return Ok(());
        }
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
