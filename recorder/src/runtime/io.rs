//! Events the Python side reports: the standard-stream proxies for every write and read,
//! dependency capture for every external call, and the web middlewares' request spans.

use super::RuntimeTracer;
use crate::errors::RecorderResult;
use crate::trace_writer::spans::SpanStatus;
use crate::trace_writer::{EventKind, TraceEvent};

impl RuntimeTracer {
    /// An event at the current step: captured stdout/stderr writes and stdin reads (no
    /// metadata; consecutive ones on one stream merge), or an external call (`Socket`).
    pub fn on_event(&mut self, kind: EventKind, metadata: &str, text: &str) -> RecorderResult<()> {
        if !self.activated {
            return Ok(());
        }
        self.note_thread()?;
        self.writer.emit(TraceEvent::Log {
            kind,
            metadata,
            content: text,
        })
    }

    /// Opens a span on the calling thread; `None` before the activation path is reached
    /// (nothing is recorded then, so the span would cover no steps).
    pub fn on_span_begin(
        &mut self,
        span_type: &str,
        label: &str,
        metadata: Vec<(String, String)>,
    ) -> RecorderResult<Option<u64>> {
        if !self.activated {
            return Ok(None);
        }
        self.note_thread()?;
        self.writer.span_begin(span_type, label, metadata).map(Some)
    }

    /// Closes span `id`; an id this recording did not open is ignored.
    pub fn on_span_end(
        &mut self,
        id: u64,
        status: SpanStatus,
        metadata: Vec<(String, String)>,
    ) -> RecorderResult<()> {
        self.writer.span_end(id, status, metadata).map(|_| ())
    }
}
