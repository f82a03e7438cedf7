//! The Python-facing functions of `codetracer_python_recorder._native`.
//!
//! Small on purpose: `start` a session, `stop` it, `record_io` for the stdout/stderr/stdin
//! proxies, `is_tracing`. Session bootstrap (staging folder, metadata, signals) lives in the
//! Python façade, which calls these.

use std::collections::HashMap;
use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::encoder::Caps;
use crate::errors::{ErrorCode, RecorderError};
use crate::ffi_guard::{caught_panics, guard};
use crate::runtime::{lock_active, OnError, RuntimeTracer, ScopePolicy, TracerConfig};
use crate::trace_writer::{EventKind, TraceWriter};

fn busy() -> PyErr {
    RecorderError::new(ErrorCode::Internal, "recorder state is busy (re-entrant call)").into()
}

/// Starts recording into `trace_dir` (which must exist). `program` names the `<toplevel>`.
#[pyfunction]
#[pyo3(signature = (trace_dir, program, *, activation_path=None, caps=None, never=Vec::new(), keep=Vec::new(), skip=Vec::new(), on_error="disable"))]
#[allow(clippy::too_many_arguments)]
pub fn start(
    py: Python<'_>,
    trace_dir: PathBuf,
    program: String,
    activation_path: Option<String>,
    caps: Option<HashMap<String, usize>>,
    never: Vec<String>,
    keep: Vec<String>,
    skip: Vec<String>,
    on_error: &str,
) -> PyResult<()> {
    guard(|| {
        let mut slot = lock_active().ok_or_else(busy)?;
        if slot.is_some() {
            return Err(RecorderError::new(ErrorCode::AlreadyTracing, "a recording is already active in this process").into());
        }
        let mut cap_values = Caps::default();
        for (name, value) in caps.unwrap_or_default() {
            cap_values
                .set(&name, value)
                .map_err(|m| RecorderError::new(ErrorCode::InvalidArgument, m))?;
        }
        let on_error = match on_error {
            "abort" => OnError::Abort,
            "disable" => OnError::Disable,
            other => {
                return Err(RecorderError::new(
                    ErrorCode::InvalidPolicyValue,
                    format!("invalid value '{other}' for on_error (allowed: abort, disable)"),
                )
                .into())
            }
        };
        let writer = TraceWriter::create(&trace_dir)?;
        let config = TracerConfig { caps: cap_values, scope: ScopePolicy { never, keep, skip }, activation_path, on_error };
        *slot = Some(RuntimeTracer::start(py, writer, config, &program)?);
        Ok(())
    })
}

/// Stops recording, closes the trace and returns its statistics as a dict.
#[pyfunction]
pub fn stop(py: Python<'_>, exit_status: i64) -> PyResult<Py<PyDict>> {
    guard(|| {
        let tracer = {
            let mut slot = lock_active().ok_or_else(busy)?;
            slot.take()
                .ok_or_else(|| RecorderError::new(ErrorCode::NotTracing, "no recording is active"))?
        };
        let failure = tracer.failure.clone();
        let (stats, paths, diagnostics) = tracer.finish(py, exit_status)?;
        let d = PyDict::new(py);
        d.set_item("events", stats.events)?;
        d.set_item("steps", stats.steps)?;
        d.set_item("calls", stats.calls)?;
        d.set_item("returns", stats.returns)?;
        d.set_item("values", stats.values)?;
        d.set_item("io_events", stats.io_events)?;
        d.set_item("exceptions", stats.exceptions)?;
        d.set_item("paths", paths)?;
        d.set_item("detaches", diagnostics.detaches)?;
        d.set_item("caught_panics", caught_panics())?;
        if let Some(f) = failure {
            d.set_item("failure_code", f.code.as_str())?;
            d.set_item("failure_message", f.message)?;
        }
        Ok(d.unbind())
    })
}

/// Whether a recording is active (and not detached after an error).
#[pyfunction]
pub fn is_tracing() -> bool {
    match lock_active() {
        Some(slot) => slot.as_ref().map(|t| t.failure.is_none()).unwrap_or(false),
        None => true,
    }
}

/// Records captured IO: `kind` is "stdout", "stderr" or "stdin".
#[pyfunction]
pub fn record_io(kind: &str, text: &str) -> PyResult<()> {
    guard(|| {
        let kind = match kind {
            "stdout" => EventKind::Write,
            "stderr" => EventKind::WriteOther,
            "stdin" => EventKind::Read,
            _ => return Ok(()),
        };
        if let Some(mut slot) = lock_active() {
            if let Some(tracer) = slot.as_mut() {
                if tracer.failure.is_none() {
                    if let Err(err) = tracer.on_io(kind, text) {
                        tracer.failure = Some(err);
                    }
                }
            }
        }
        Ok(())
    })
}
