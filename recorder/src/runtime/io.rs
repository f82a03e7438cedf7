//! Captured standard streams: the Python proxies call in here for every write and read.

use super::RuntimeTracer;
use crate::errors::RecorderResult;
use crate::trace_writer::{EventKind, TraceEvent};

impl RuntimeTracer {
    /// Captured stdout/stderr writes and stdin reads, attributed to the current step.
    pub fn on_io(&mut self, kind: EventKind, text: &str) -> RecorderResult<()> {
        if !self.activated {
            return Ok(());
        }
        self.note_thread()?;
        self.writer.emit(TraceEvent::Log {
            kind,
            metadata: "",
            content: text,
        })
    }
}
