//! A step's variables: after every `Step`, a `Value` for each visible variable.
//!
//! CodeTracer shows a step only its own values on the CTFS route, so every step carries the
//! full snapshot. That stays cheap where it matters: unchanged containers and objects reuse
//! their encoding (the encoder's memo), an unchanged str or bytes reuses its bytes
//! (`record_value`), and the CTFS writer reuses the CBOR of an encoding it has seen and lets
//! compression remove the repetition on disk.

use pyo3::ffi;

use super::RuntimeTracer;
use crate::errors::RecorderResult;
use crate::trace_filter::ValueAction;
use crate::trace_writer::TraceEvent;

/// One visible variable at a step. `value` is a new reference, released by the caller.
pub struct StepVar {
    pub vid: usize,
    pub value: *mut ffi::PyObject,
    pub action: ValueAction,
}

// SAFETY: step variables exist only inside one callback, under the GIL; the reused buffer
// that holds them is empty between callbacks.
unsafe impl Send for StepVar {}

impl RuntimeTracer {
    /// Writes the `Step` and the value of each of its variables.
    pub(super) unsafe fn write_step(
        &mut self,
        path_id: usize,
        line: i64,
        vars: &[StepVar],
    ) -> RecorderResult<()> {
        self.writer.emit(TraceEvent::Step { path_id, line })?;
        for var in vars {
            self.record_value(var.vid, var.value, var.action)?;
        }
        Ok(())
    }
}
