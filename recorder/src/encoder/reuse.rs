//! Encoding containers and objects through the memo.
//!
//! The outermost container or object of a value is walked (`walk.rs`) and looked up in the
//! memo (`memo.rs`). When it changed, it is encoded afresh, and each nested container or
//! object met on the way is looked up again with the facts that one walk already listed for
//! it (its span), so a change deep inside re-encodes only the path to it, and nothing is
//! walked twice.

use pyo3::ffi;

use super::kinds::Kind;
use super::memo::Fact;
use super::walk::Span;
use super::ValueEncoder;
use crate::errors::RecorderResult;
use crate::trace_writer::TraceWriter;

/// The walk of the value being encoded afresh; nested values take their facts from it in
/// the order the walk met them.
pub struct Pending {
    facts: Vec<Fact>,
    spans: Vec<Span>,
    /// The span the next nested container or object should match.
    cursor: usize,
}

impl ValueEncoder {
    /// A container or object at `depth` (already on the path), from the memo when it shows
    /// the same values as when it was kept.
    pub(super) unsafe fn encode_composite(
        &mut self,
        w: &mut TraceWriter,
        obj: *mut ffi::PyObject,
        buf: &mut Vec<u8>,
        depth: usize,
        kind: Kind,
    ) -> RecorderResult<()> {
        if self.pending.is_some() {
            return self.encode_nested(w, obj, buf, depth, kind);
        }
        let tp = ffi::Py_TYPE(obj) as usize;
        let key = (obj as usize, depth, self.rules_key());
        let walk = match &self.memo {
            Some(memo) => kind != Kind::Set && !memo.skips(&key, tp),
            None => false,
        };
        if !walk {
            return self.encode_composite_fresh(w, obj, buf, depth, kind);
        }
        let mut facts = std::mem::take(&mut self.facts_scratch);
        facts.clear();
        self.spans.clear();
        let listed = self.walk_composite(obj, depth, kind, &mut facts).is_some();
        if listed
            .then(|| self.reuse(key, tp, &facts, buf))
            .flatten()
            .is_some()
        {
            self.facts_scratch = facts;
            return Ok(());
        }
        if listed {
            self.pending = Some(Pending {
                facts: std::mem::take(&mut facts),
                spans: std::mem::take(&mut self.spans),
                cursor: 0,
            });
        }
        let start = buf.len();
        let before = (self.attr_redactions, self.attr_drops);
        let result = self.encode_composite_fresh(w, obj, buf, depth, kind);
        if let Some(pending) = self.pending.take() {
            facts = pending.facts;
            self.spans = pending.spans;
        }
        if result.is_ok() {
            self.keep_encoding(key, tp, listed.then_some(&facts[..]), buf, start, before);
        }
        self.facts_scratch = facts;
        result
    }

    /// A container or object inside one being encoded afresh: its facts are the next span.
    unsafe fn encode_nested(
        &mut self,
        w: &mut TraceWriter,
        obj: *mut ffi::PyObject,
        buf: &mut Vec<u8>,
        depth: usize,
        kind: Kind,
    ) -> RecorderResult<()> {
        let span = self
            .pending
            .as_ref()
            .and_then(|p| p.spans.get(p.cursor))
            .filter(|s| s.ptr == obj as usize && s.depth == depth)
            .map(|s| (s.start..s.end, s.next));
        let Some((range, next)) = span else {
            // out of step with the walk (not expected): encode it without the memo
            return self.encode_composite_fresh(w, obj, buf, depth, kind);
        };
        let tp = ffi::Py_TYPE(obj) as usize;
        let key = (obj as usize, depth, self.rules_key());
        let mut pending = self.pending.take();
        let facts = pending.as_ref().and_then(|p| p.facts.get(range.clone()));
        let reused = facts.is_some_and(|facts| self.reuse(key, tp, facts, buf).is_some());
        if let Some(p) = pending.as_mut() {
            p.cursor = if reused { next } else { p.cursor + 1 };
        }
        self.pending = pending;
        if reused {
            return Ok(());
        }
        let start = buf.len();
        let before = (self.attr_redactions, self.attr_drops);
        let result = self.encode_composite_fresh(w, obj, buf, depth, kind);
        if result.is_ok() {
            let pending = self.pending.take();
            let facts = pending.as_ref().and_then(|p| p.facts.get(range));
            self.keep_encoding(key, tp, facts, buf, start, before);
            self.pending = pending;
        }
        result
    }

    /// Appends the kept encoding of `key` to `buf` if it was made from the same `facts`, and
    /// gives its serial.
    fn reuse(
        &mut self,
        key: (usize, usize, usize),
        tp: usize,
        facts: &[Fact],
        buf: &mut Vec<u8>,
    ) -> Option<u64> {
        let reuse = self.memo.as_mut()?.lookup(key, tp, facts)?;
        buf.extend_from_slice(reuse.bytes);
        self.attr_redactions += reuse.redactions;
        self.attr_drops += reuse.drops;
        Some(reuse.serial)
    }

    /// Keeps the encoding just written to `buf[start..]` (with the field rule counts since
    /// `before`) under `key`.
    unsafe fn keep_encoding(
        &mut self,
        key: (usize, usize, usize),
        tp: usize,
        facts: Option<&[Fact]>,
        buf: &[u8],
        start: usize,
        before: (u64, u64),
    ) {
        let counts = (self.attr_redactions - before.0, self.attr_drops - before.1);
        let encoded = buf.get(start..).unwrap_or_default();
        if let Some(memo) = self.memo.as_mut() {
            memo.store(key, tp, facts, encoded, counts);
        }
    }
}
