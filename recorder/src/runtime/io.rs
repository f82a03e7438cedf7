//! Events the Python side reports: the standard-stream proxies for every write and read, and
//! dependency capture for every external call.

use super::RuntimeTracer;
use crate::errors::RecorderResult;
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
}
