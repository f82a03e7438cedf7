//! The CTFS backend: `trace.ct` in the split-stream layout CodeTracer's db-backend opens
//! (the layout the upstream Python recorder writes; facts and sources in `shared/ctfs.md`).
//!
//! - `paths`, `funcs`, `types`, `varnames` (`.dat` + `.off`): interning tables, a record per
//!   id. Functions and types are names only on this route; paths carry their line lengths.
//! - `steps` (chunks of 4096): a record per step slot: an absolute position (the first step of
//!   every chunk), a zigzag delta, or a thread switch marker.
//! - `values` (chunks of 256): parallel to `steps`, a record per slot: the full snapshot of the
//!   step's visible variables (CodeTracer shows only a step's own values on this route).
//! - `calls` (chunks of 256): a record per call, in entry order (`calls.rs`).
//! - `events` (chunks of 64): standard streams, exceptions, dependency calls, at their step.
//! - `spans` (`spans.rs`): the request spans CodeTracer's request panel lists, with
//!   `spantype.ns`; only in recordings that have spans.
//! - `meta.dat`: program, arguments, workdir, paths.
//!
//! Value bytes arrive as the CBOR `ValueRecord`s CodeTracer decodes (the encoder writes them,
//! `encoder/out.rs`) and are copied in as they are.

mod calls;
pub mod container;
mod lines;
mod meta;
mod spans;
mod stream;

use std::path::Path;

use super::spans::Span;
use super::{Backend, EventKind, RecordingInfo, TraceEvent, TypeKind};
use crate::errors::{ErrorCode, RecorderError, RecorderResult};
use calls::Calls;
use container::Container;
use lines::LineTables;
use spans::SpanStream;
use stream::{push_blob, push_svarint, push_varint, put_varint, ChunkedStream, Compressor, Table};

const STEP_CHUNK: usize = 4096;
const VALUE_CHUNK: usize = 256;
const CALL_CHUNK: usize = 256;
const EVENT_CHUNK: usize = 64;

const TAG_ABSOLUTE_STEP: u8 = 0;
const TAG_DELTA_STEP: u8 = 1;
const TAG_THREAD_SWITCH: u8 = 4;
const TAG_STEP_VALUES: u8 = 0;
/// Bytes kept for the first `StepValues` header: `varint len` of 2 (a record of 128 B to
/// 16 KiB), the tag, `varint count` of 1 (under 128 variables). Later steps keep as many as
/// the step before needed: neighbouring steps are alike, and a header of another size moves
/// the step's entries (fib's steps of one small int each moved theirs every time).
const STEP_HEADER_ROOM: usize = 4;
/// Bytes kept for a value's `varint len` when it is encoded straight into the chunk: 2 holds
/// 128 B to 16 KiB; other lengths move the value's bytes by one or more.
const VALUE_LEN_ROOM: usize = 2;

pub const RECORDER_ID: &str = concat!("codetracer-python-recorder ", env!("CARGO_PKG_VERSION"));

/// The on-disk `EventLogKind` ordinal of an event. The reader CodeTracer uses folds ordinals
/// into stdout (0-2), file operation (3-10), error (11) and stderr (12-13), so stderr must be
/// written as 12, not runtime_tracing's WriteOther (2).
fn disk_kind(kind: EventKind) -> u8 {
    match kind {
        EventKind::WriteOther => 12,
        other => other as u8,
    }
}

pub struct CtfsTrace {
    c: Container,
    z: Compressor,
    info: RecordingInfo,
    paths: Table,
    funcs: Table,
    types: Table,
    varnames: Table,
    steps: ChunkedStream,
    values: ChunkedStream,
    events: ChunkedStream,
    calls_stream: ChunkedStream,
    calls: Option<Calls>,
    spans: SpanStream,
    lines: LineTables,
    position: u64,
    /// The next step is the first of its chunk (after a marker that opened the chunk).
    absolute_next: bool,
    /// A step's values are being collected: its `values` record is not finished yet.
    step_open: bool,
    step_vars: u64,
    /// Where the open step's `StepValues` record starts in the values chunk.
    step_start: usize,
    /// Bytes kept for the open step's header.
    step_room: usize,
    /// Where the entry being encoded straight into the values chunk starts (`value_sink`).
    entry_start: usize,
    scratch: Vec<u8>,
}

impl CtfsTrace {
    pub fn create(dir: &Path, info: RecordingInfo) -> RecorderResult<Self> {
        let mut c = Container::create(&dir.join("trace.ct"))?;
        let paths = Table::create(&mut c, "paths")?;
        let funcs = Table::create(&mut c, "funcs")?;
        let types = Table::create(&mut c, "types")?;
        let varnames = Table::create(&mut c, "varnames")?;
        let steps = ChunkedStream::create(&mut c, "steps", STEP_CHUNK)?;
        let values = ChunkedStream::create(&mut c, "values", VALUE_CHUNK)?;
        let calls_stream = ChunkedStream::create(&mut c, "calls", CALL_CHUNK)?;
        let events = ChunkedStream::create(&mut c, "events", EVENT_CHUNK)?;
        Ok(CtfsTrace {
            c,
            z: Compressor::new()?,
            info,
            paths,
            funcs,
            types,
            varnames,
            steps,
            values,
            events,
            calls_stream,
            calls: Some(Calls::create(dir, CALL_CHUNK)?),
            spans: SpanStream::default(),
            lines: LineTables::default(),
            position: 0,
            absolute_next: false,
            step_open: false,
            step_vars: 0,
            step_start: 0,
            step_room: STEP_HEADER_ROOM,
            entry_start: 0,
            scratch: Vec::new(),
        })
    }

    fn calls(&mut self) -> RecorderResult<&mut Calls> {
        self.calls.as_mut().ok_or_else(finished)
    }

    /// Writes the collected values of the open step as its `values` record.
    fn close_step(&mut self) -> RecorderResult<()> {
        if !self.step_open {
            return Ok(());
        }
        self.step_open = false;
        // `varint len`, then `StepValues` (tag, count, entries). The entries went straight
        // into the chunk behind room for the usual header (values are most of a trace's
        // bytes: copying them once more per step showed in profiles); the header is filled
        // in now, moving the entries only when it needs another size.
        let (start, vars, room) = (self.step_start, self.step_vars, self.step_room);
        self.step_vars = 0;
        let buf = self.values.buf();
        if vars == 0 {
            buf.truncate(start);
            buf.push(0); // an empty record
        } else {
            let body = start + room;
            let entries = buf.len() - body;
            // `len tag count`, the length counting the count's bytes
            let mut count = [0u8; 10];
            let count_len = put_varint(&mut count, vars);
            let mut len = [0u8; 10];
            let len_len = put_varint(&mut len, (1 + count_len + entries) as u64);
            let mut header = [0u8; 21];
            header[..len_len].copy_from_slice(&len[..len_len]);
            header[len_len] = TAG_STEP_VALUES;
            header[len_len + 1..len_len + 1 + count_len].copy_from_slice(&count[..count_len]);
            let header_len = len_len + 1 + count_len;
            fill_room(buf, body, room, &header[..header_len]);
            self.step_room = header_len;
        }
        self.values.end_record(&mut self.c, &mut self.z)
    }

    /// Starts a step slot: the first step of a chunk is always an absolute position (readers
    /// decode a chunk on its own).
    fn write_step(&mut self, position: u64) -> RecorderResult<()> {
        self.close_step()?;
        self.spans.on_step(self.steps.records());
        let absolute = self.steps.at_chunk_start() || self.absolute_next;
        self.absolute_next = false;
        let buf = self.steps.buf();
        if absolute {
            buf.push(TAG_ABSOLUTE_STEP);
            push_varint(buf, position);
        } else {
            buf.push(TAG_DELTA_STEP);
            push_svarint(buf, position as i64 - self.position as i64);
        }
        self.position = position;
        self.steps.end_record(&mut self.c, &mut self.z)?;
        let buf = self.values.buf();
        self.step_start = buf.len();
        buf.resize(self.step_start + self.step_room, 0);
        self.step_open = true;
        Ok(())
    }

    fn write_thread_switch(&mut self, ident: u64) -> RecorderResult<()> {
        self.calls()?.switch_thread(ident);
        self.spans.on_thread(ident);
        if self.steps.records() == 0 {
            return Ok(()); // the thread the recording starts on: nothing to switch from
        }
        self.close_step()?;
        if self.steps.at_chunk_start() {
            // markers leave the running position alone: the chunk's first step says it whole
            self.absolute_next = true;
        }
        let buf = self.steps.buf();
        buf.push(TAG_THREAD_SWITCH);
        push_varint(buf, ident);
        self.steps.end_record(&mut self.c, &mut self.z)?;
        self.values.push_framed(&mut self.c, &mut self.z, &[])
    }

    fn write_event(
        &mut self,
        kind: EventKind,
        metadata: &str,
        content: &str,
    ) -> RecorderResult<()> {
        let mut record = std::mem::take(&mut self.scratch);
        record.clear();
        record.push(disk_kind(kind));
        push_varint(&mut record, self.steps.records().saturating_sub(1));
        push_blob(&mut record, metadata.as_bytes());
        push_blob(&mut record, content.as_bytes());
        let result = self.events.push_framed(&mut self.c, &mut self.z, &record);
        self.scratch = record;
        result
    }
}

fn finished() -> RecorderError {
    RecorderError::new(ErrorCode::Internal, "trace already finished")
}

/// Writes `head` into the `room` bytes kept before `body` (the bytes from `body` to the end),
/// moving those bytes when `head` needs another size.
fn fill_room(buf: &mut Vec<u8>, body: usize, room: usize, head: &[u8]) {
    let (at, end) = (body - room, buf.len());
    if head.len() != room {
        if head.len() > room {
            buf.resize(end + head.len() - room, 0);
        }
        buf.copy_within(body..end, at + head.len());
        buf.truncate(at + head.len() + end - body);
    }
    buf[at..at + head.len()].copy_from_slice(head);
}

/// Writes the `varint len` of the bytes from `start` on into the [`VALUE_LEN_ROOM`] bytes
/// before them.
fn fill_len(buf: &mut Vec<u8>, start: usize) {
    let mut len = [0u8; 10];
    let n = put_varint(&mut len, (buf.len() - start) as u64);
    fill_room(buf, start, VALUE_LEN_ROOM, &len[..n]);
}

impl Backend for CtfsTrace {
    fn path(&mut self, _id: usize, path: &str) -> RecorderResult<()> {
        let record = self.lines.register(path);
        self.paths.push(&mut self.c, &record)
    }

    fn function(
        &mut self,
        _id: usize,
        _path_id: usize,
        _line: i64,
        name: &str,
    ) -> RecorderResult<()> {
        self.funcs.push(&mut self.c, name.as_bytes())
    }

    fn variable(&mut self, _id: usize, name: &str) -> RecorderResult<()> {
        self.varnames.push(&mut self.c, name.as_bytes())
    }

    fn type_record(
        &mut self,
        _id: usize,
        _kind: TypeKind,
        lang_type: &str,
        _fields: Option<&[(&str, usize)]>,
    ) -> RecorderResult<()> {
        // names only on this route (objects carry their field names in their values)
        self.types.push(&mut self.c, lang_type.as_bytes())
    }

    fn event(&mut self, event: &TraceEvent<'_>) -> RecorderResult<()> {
        match *event {
            TraceEvent::Step { path_id, line } => {
                let position = self.lines.position(path_id, line);
                self.write_step(position)
            }
            TraceEvent::Value { variable_id, value } => {
                if !self.step_open {
                    return Ok(());
                }
                let buf = self.values.buf();
                push_varint(buf, variable_id as u64);
                push_blob(buf, value);
                self.step_vars += 1;
                Ok(())
            }
            TraceEvent::Call { function_id, args } => {
                let mut encoded = self.calls()?.args_buffer();
                push_varint(&mut encoded, args.len() as u64);
                for (variable_id, value) in args.iter() {
                    push_varint(&mut encoded, variable_id as u64);
                    push_blob(&mut encoded, value);
                }
                let next_step = self.steps.records();
                self.calls()?.enter(function_id as u64, encoded, next_step);
                Ok(())
            }
            TraceEvent::Return { value } => {
                let steps = self.steps.records();
                let calls = self.calls.as_mut().ok_or_else(finished)?;
                calls.leave(value, steps, &mut self.c, &mut self.z)
            }
            TraceEvent::ThreadSwitch { ident } => self.write_thread_switch(ident),
            TraceEvent::Log {
                kind,
                metadata,
                content,
            } => self.write_event(kind, metadata, content),
        }
    }

    fn value_sink(&mut self, variable_id: usize) -> Option<(Vec<u8>, usize)> {
        if !self.step_open {
            return None;
        }
        let mut buf = std::mem::take(self.values.buf());
        self.entry_start = buf.len();
        push_varint(&mut buf, variable_id as u64);
        buf.extend_from_slice(&[0; VALUE_LEN_ROOM]);
        let start = buf.len();
        Some((buf, start))
    }

    fn value_sunk(&mut self, mut buf: Vec<u8>, start: usize, encoded: bool) -> RecorderResult<()> {
        if encoded {
            fill_len(&mut buf, start);
            self.step_vars += 1;
        } else {
            buf.truncate(self.entry_start);
        }
        *self.values.buf() = buf;
        Ok(())
    }

    fn span_begin(&mut self, id: u64) -> RecorderResult<()> {
        self.spans.begin(id);
        Ok(())
    }

    fn span(&mut self, span: &Span) -> RecorderResult<()> {
        let steps = self.steps.records();
        self.spans.write(&mut self.c, span, steps)
    }

    fn bytes_written(&self) -> u64 {
        self.c.bytes_written()
    }

    fn compress_ns(&self) -> u64 {
        self.z.nanos
    }

    fn finish(&mut self, paths: &[String]) -> RecorderResult<()> {
        self.close_step()?;
        let steps = self.steps.records();
        if let Some(calls) = self.calls.take() {
            calls.finish(steps, &mut self.c, &mut self.z, &mut self.calls_stream)?;
        }
        for stream in [
            &mut self.steps,
            &mut self.values,
            &mut self.calls_stream,
            &mut self.events,
        ] {
            stream.flush(&mut self.c, &mut self.z)?;
        }
        self.z.drain(&mut self.c)?;
        self.spans.finish(&mut self.c)?;
        for table in [&self.paths, &self.funcs, &self.types, &self.varnames] {
            table.finish(&mut self.c)?;
        }
        let mut flags = meta::HAS_COLUMN_AWARE_STEPS | meta::HAS_STREAMS;
        if self.spans.present() {
            flags |= meta::HAS_SPAN_STREAM;
        }
        let recording_id = meta::uuid_v7();
        let info = &self.info;
        let meta = meta::encode(
            &meta::Meta {
                recording_id: &recording_id,
                program: &info.program,
                args: &info.args,
                workdir: &info.workdir,
                recorder_id: RECORDER_ID,
                paths,
            },
            flags,
        );
        let meta_file = self.c.add_file("meta.dat")?;
        self.c.append(meta_file, &meta)?;
        self.c.finish()?;
        Ok(())
    }

    /// Lets go of the files without writing what is buffered: after `fork`, the files on
    /// disk are the parent's, and the child must not write into them or remove them.
    fn abandon(self: Box<Self>) {
        let this = *self;
        this.c.abandon();
        if let Some(calls) = this.calls {
            calls.abandon();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_encoded_in_place_is_a_blob() {
        for len in [0, 1, 127, 128, 300, 16383, 16384, 70_000, 2_100_000] {
            let bytes: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let mut expected = vec![9u8];
            push_blob(&mut expected, &bytes);
            let mut buf = vec![9u8; 1 + VALUE_LEN_ROOM];
            buf.extend_from_slice(&bytes);
            fill_len(&mut buf, 1 + VALUE_LEN_ROOM);
            assert_eq!(buf, expected, "length {len}");
        }
    }
}
