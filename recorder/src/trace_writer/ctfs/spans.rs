//! The span stream: `spans.dat`, `spans.idx` and `spantype.ns`, which CodeTracer's request
//! panel lists requests from (layout and sources: `docs/spans.md`).
//!
//! - `spans.dat`: zstd frames (content size in each), a chunk of up to [`CHUNK`] records
//!   `varint len + record`; a record is `varint span_id, varint parent (0), u8 flags (bit 0
//!   open), u8 status, varint start_wall_ns, varint end_wall_ns, varint process_ord (0),
//!   varint thread_id, varint start_step, varint end_step, str span_type, str label,
//!   u8 structural, varint n, n x (str key, str value)`; `str` is `varint len + UTF-8`.
//! - `spans.idx`: `u32 chunk size, u16 version 2, u16 0`, then per chunk `u64 offset, u64
//!   records in this chunk and all before it` (not the other streams' offset-only index).
//! - `spantype.ns`: per span type (ids in first-appearance order) its name and span ids.
//!
//! A span covers the steps from the first step written after it opened, on any thread (a
//! framework may run a request's handler on a worker thread: Starlette's `def` endpoints), to
//! the last step written before it closed; its `thread_id` is the thread that opened it. Spans are written when they close (the container is only
//! readable once finished, so an "open" record written earlier would show nothing new); a span
//! still open at the end is written as an open record. Nothing is written, and `meta.dat`
//! keeps bit 13 clear, for a recording without spans.

use super::container::{Container, FileId};
use super::stream::{push_blob, push_varint};
use crate::errors::{ErrorCode, RecorderError, RecorderResult};
use crate::fast_hash::FastMap;
use crate::trace_writer::spans::Span;

/// Records per chunk (what the upstream recorder writes in the header; readers take it as a
/// hint and locate records by the cumulative counts).
pub const CHUNK: usize = 64;
const INDEX_VERSION: u16 = 2;
/// "SPTY" as a little-endian u32.
const NS_MAGIC: u32 = 0x5350_5459;
const NS_VERSION: u16 = 1;
const NS_HEADER: usize = 18;
const NS_ENTRY: usize = 28;
const ZSTD_LEVEL: i32 = 3;

const FLAG_OPEN: u8 = 1;
/// `structural` bits.
const CONTIGUOUS: u8 = 1;
const SHARES_TIMELINE: u8 = 2;
const CONCURRENT: u8 = 4;

/// Where an open span sits among the steps.
#[derive(Debug, Clone, Copy)]
struct Binding {
    thread: u64,
    /// The first step written since it opened; `None` until there is one.
    start_step: Option<u64>,
    /// Another span was open at some moment of this one.
    concurrent: bool,
    /// Another thread wrote steps in between.
    interleaved: bool,
}

#[derive(Debug, Clone, Copy)]
struct Files {
    dat: FileId,
    idx: FileId,
}

#[derive(Default)]
pub struct SpanStream {
    files: Option<Files>,
    open: FastMap<u64, Binding>,
    /// Open spans still waiting for their first step (checked on every step: kept cheap).
    waiting: usize,
    thread: u64,
    raw: Vec<u8>,
    in_chunk: usize,
    records: u64,
    /// (span type, ids of its spans) in first-appearance order.
    types: Vec<(String, Vec<u64>)>,
    scratch: Vec<u8>,
}

fn push_str(buf: &mut Vec<u8>, text: &str) {
    push_blob(buf, text.as_bytes());
}

/// One span record (no length prefix).
pub fn encode_record(
    buf: &mut Vec<u8>,
    span: &Span,
    thread: u64,
    steps: (u64, u64),
    structural: u8,
) {
    push_varint(buf, span.id);
    push_varint(buf, 0); // parent: spans are flat
    buf.push(if span.open { FLAG_OPEN } else { 0 });
    buf.push(span.status as u8);
    push_varint(buf, span.start_wall_ns);
    push_varint(buf, if span.open { 0 } else { span.end_wall_ns });
    push_varint(buf, 0); // process_ord: this process
    push_varint(buf, thread);
    push_varint(buf, steps.0);
    push_varint(buf, if span.open { 0 } else { steps.1 });
    push_str(buf, &span.span_type);
    push_str(buf, &span.label);
    buf.push(structural);
    push_varint(buf, span.metadata.len() as u64);
    for (key, value) in &span.metadata {
        push_str(buf, key);
        push_str(buf, value);
    }
}

/// `spantype.ns` for `types` (each type's span ids ascending and distinct).
pub fn encode_namespace(types: &[(String, Vec<u64>)]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&NS_MAGIC.to_le_bytes());
    out.extend_from_slice(&NS_VERSION.to_le_bytes());
    out.extend_from_slice(&(types.len() as u32).to_le_bytes());
    out.extend_from_slice(&(NS_HEADER as u64).to_le_bytes());
    let mut at = (NS_HEADER + NS_ENTRY * types.len()) as u64;
    let mut payload = Vec::new();
    for (type_id, (name, ids)) in types.iter().enumerate() {
        let name_at = at;
        at += name.len() as u64;
        let ids_at = at;
        at += 8 * ids.len() as u64;
        out.extend_from_slice(&(type_id as u32).to_le_bytes());
        out.extend_from_slice(&(name.len() as u32).to_le_bytes());
        out.extend_from_slice(&name_at.to_le_bytes());
        out.extend_from_slice(&(ids.len() as u32).to_le_bytes());
        out.extend_from_slice(&ids_at.to_le_bytes());
        payload.extend_from_slice(name.as_bytes());
        for id in ids {
            payload.extend_from_slice(&id.to_le_bytes());
        }
    }
    out.extend_from_slice(&payload);
    out
}

impl SpanStream {
    /// Whether any span was written (then `meta.dat` sets bit 13).
    pub fn present(&self) -> bool {
        self.files.is_some()
    }

    /// Span `id` opened on the thread that writes now.
    pub fn begin(&mut self, id: u64) {
        let others = !self.open.is_empty();
        for binding in self.open.values_mut() {
            binding.concurrent = true;
        }
        self.open.insert(
            id,
            Binding {
                thread: self.thread,
                start_step: None,
                concurrent: others,
                interleaved: false,
            },
        );
        self.waiting += 1;
    }

    /// Step slot `slot` was written.
    #[inline]
    pub fn on_step(&mut self, slot: u64) {
        if self.waiting == 0 {
            return;
        }
        for binding in self.open.values_mut() {
            if binding.start_step.is_none() {
                binding.start_step = Some(slot);
                self.waiting -= 1;
            }
        }
    }

    /// Events now come from thread `ident`.
    pub fn on_thread(&mut self, ident: u64) {
        if ident != self.thread {
            for binding in self.open.values_mut() {
                binding.interleaved = true;
            }
        }
        self.thread = ident;
    }

    /// Writes `span` (closed, or still open at the end). `steps` is the number of step slots
    /// written so far. A span that never opened here is bound to this thread.
    pub fn write(&mut self, c: &mut Container, span: &Span, steps: u64) -> RecorderResult<()> {
        let binding = match self.open.remove(&span.id) {
            Some(binding) => {
                if binding.start_step.is_none() {
                    self.waiting -= 1;
                }
                binding
            }
            None => Binding {
                thread: self.thread,
                start_step: None,
                concurrent: false,
                interleaved: false,
            },
        };
        let last = steps.saturating_sub(1);
        // a span with no step of its own sits at the step it closed on
        let start = binding.start_step.unwrap_or(last);
        let mut structural = SHARES_TIMELINE;
        if binding.concurrent {
            structural |= CONCURRENT;
        } else if !binding.interleaved && !span.open {
            structural |= CONTIGUOUS;
        }
        let mut record = std::mem::take(&mut self.scratch);
        record.clear();
        encode_record(
            &mut record,
            span,
            binding.thread,
            (start, last.max(start)),
            structural,
        );
        push_blob(&mut self.raw, &record);
        self.scratch = record;
        match self
            .types
            .iter_mut()
            .find(|(name, _)| *name == span.span_type)
        {
            Some((_, ids)) => ids.push(span.id),
            None => self.types.push((span.span_type.clone(), vec![span.id])),
        }
        self.in_chunk += 1;
        self.records += 1;
        if self.in_chunk >= CHUNK {
            self.flush(c)?;
        }
        Ok(())
    }

    fn flush(&mut self, c: &mut Container) -> RecorderResult<()> {
        if self.in_chunk == 0 {
            return Ok(());
        }
        let files = match self.files {
            Some(files) => files,
            None => {
                let dat = c.add_file("spans.dat")?;
                let idx = c.add_file("spans.idx")?;
                let mut header = Vec::with_capacity(8);
                header.extend_from_slice(&(CHUNK as u32).to_le_bytes());
                header.extend_from_slice(&INDEX_VERSION.to_le_bytes());
                header.extend_from_slice(&0u16.to_le_bytes());
                c.append(idx, &header)?;
                let files = Files { dat, idx };
                self.files = Some(files);
                files
            }
        };
        let frame = zstd::bulk::compress(&self.raw, ZSTD_LEVEL).map_err(|e| {
            RecorderError::new(ErrorCode::Internal, format!("zstd compression failed: {e}"))
        })?;
        let offset = c.size(files.dat);
        c.append(files.dat, &frame)?;
        let mut entry = [0u8; 16];
        entry[..8].copy_from_slice(&offset.to_le_bytes());
        entry[8..].copy_from_slice(&self.records.to_le_bytes());
        c.append(files.idx, &entry)?;
        self.raw.clear();
        self.in_chunk = 0;
        Ok(())
    }

    /// Writes the last chunk and `spantype.ns`.
    pub fn finish(&mut self, c: &mut Container) -> RecorderResult<()> {
        self.flush(c)?;
        if self.files.is_none() {
            return Ok(());
        }
        for (_, ids) in &mut self.types {
            ids.sort_unstable();
            ids.dedup();
        }
        let ns = c.add_file("spantype.ns")?;
        c.append(ns, &encode_namespace(&self.types))
    }
}

#[cfg(test)]
mod tests {
    use super::super::stream::push_varint as varint;
    use super::*;
    use crate::trace_writer::spans::SpanStatus;

    fn span(open: bool) -> Span {
        Span {
            id: 300,
            span_type: "web-request".into(),
            label: "GET /a".into(),
            metadata: vec![
                ("http.method".into(), "GET".into()),
                ("http.status_code".into(), "200".into()),
            ],
            status: if open {
                SpanStatus::Unknown
            } else {
                SpanStatus::Ok
            },
            start_wall_ns: 5,
            end_wall_ns: 9,
            open,
        }
    }

    /// The bytes spelled out field by field, as `docs/spans.md` lists them.
    #[test]
    fn a_record_is_laid_out_field_by_field() {
        let mut got = Vec::new();
        encode_record(
            &mut got,
            &span(false),
            7,
            (12, 40),
            SHARES_TIMELINE | CONTIGUOUS,
        );
        let mut want = Vec::new();
        varint(&mut want, 300);
        want.extend_from_slice(&[0, 0, 1, 5, 9, 0, 7, 12, 40]);
        want.push(11);
        want.extend_from_slice(b"web-request");
        want.push(6);
        want.extend_from_slice(b"GET /a");
        want.extend_from_slice(&[3, 2]);
        for (k, v) in [("http.method", "GET"), ("http.status_code", "200")] {
            want.push(k.len() as u8);
            want.extend_from_slice(k.as_bytes());
            want.push(v.len() as u8);
            want.extend_from_slice(v.as_bytes());
        }
        assert_eq!(got, want);
    }

    #[test]
    fn an_open_record_has_no_end() {
        let mut got = Vec::new();
        encode_record(&mut got, &span(true), 7, (12, 40), SHARES_TIMELINE);
        // after the two-byte span id and the parent: flags open, status unknown, start 5,
        // end 0, process 0, thread 7, start step 12, end step 0
        assert_eq!(&got[2..11], &[0, 1, 0, 5, 0, 0, 7, 12, 0]);
    }

    #[test]
    fn the_namespace_lists_each_type_with_its_ids() {
        let ns = encode_namespace(&[("web-request".into(), vec![1, 2]), ("test".into(), vec![3])]);
        assert_eq!(&ns[..4], b"YTPS");
        let u32_at = |at: usize| u32::from_le_bytes([ns[at], ns[at + 1], ns[at + 2], ns[at + 3]]);
        let u64_at = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&ns[at..at + 8]);
            u64::from_le_bytes(b)
        };
        assert_eq!(
            (u16::from_le_bytes([ns[4], ns[5]]), u32_at(6), u64_at(10)),
            (1, 2, 18)
        );
        // second entry: type 1, "test", one id
        let e = 18 + 28;
        let (name_at, ids_at) = (u64_at(e + 8) as usize, u64_at(e + 20) as usize);
        assert_eq!((u32_at(e), u32_at(e + 4), u32_at(e + 16)), (1, 4, 1));
        assert_eq!(&ns[name_at..name_at + 4], b"test");
        assert_eq!(u64_at(ids_at), 3);
        assert_eq!(ns.len(), 18 + 2 * 28 + 11 + 16 + 4 + 8);
    }

    #[test]
    fn a_span_starts_at_the_first_step_after_it_opened_on_any_thread() {
        let mut s = SpanStream::default();
        s.on_thread(1);
        s.on_step(0);
        s.begin(1);
        s.on_thread(2);
        s.on_step(1); // a worker thread runs the handler
        s.on_thread(1);
        s.on_step(2);
        assert_eq!(s.waiting, 0);
        let b = s.open.get(&1).copied().unwrap_or_else(|| unreachable!());
        assert_eq!(
            (b.thread, b.start_step, b.interleaved, b.concurrent),
            (1, Some(1), true, false)
        );
        s.begin(2);
        let first = s.open.get(&1).copied().unwrap_or_else(|| unreachable!());
        assert!(first.concurrent, "a span opened while it was open");
    }
}
