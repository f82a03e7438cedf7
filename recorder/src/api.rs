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
use crate::ffi_guard::guard;
use crate::logging::{global, ErrorTrailer, Level, Logger};
use crate::policy::{OnRecorderError, PolicyError};
use crate::runtime::{lock_active, Finished, RuntimeTracer, ScopePolicy, TracerConfig};
use crate::trace_filter::{
    load_filter_chain, merge_deps_settings, resolve_filter_chain, Engine, FILTER_ENV_VAR,
};
use crate::trace_writer::spans::SpanStatus;
use crate::trace_writer::{EventKind, Format, RecordingInfo, TraceWriter};

fn busy() -> PyErr {
    RecorderError::new(
        ErrorCode::Internal,
        "recorder state is busy (re-entrant call)",
    )
    .into()
}

/// `value` of the keyword argument `source` parsed by `parse`, or the policy error that names
/// it and what is allowed.
fn parse_choice<T>(
    source: &str,
    value: &str,
    allowed: &'static [&'static str],
    parse: impl FnOnce(&str) -> Option<T>,
) -> Result<T, RecorderError> {
    parse(value).ok_or_else(|| {
        PolicyError {
            source: source.to_string(),
            value: value.to_string(),
            allowed,
        }
        .into()
    })
}

/// Starts recording into `trace_dir` (which must exist). `program` names the `<toplevel>`.
///
/// Filters are resolved here (builtin, the project's `.codetracer/trace-filter.toml` above
/// `script_dir`, `CODETRACER_TRACE_FILTER`, then `trace_filters`) and loaded before anything
/// runs, so a malformed filter file fails before the program starts.
#[pyfunction]
#[pyo3(signature = (trace_dir, program, *, activation_path=None, caps=None, never=Vec::new(), stdlib=Vec::new(), script_dir=None, trace_filters=Vec::new(), on_error="disable", format="ctfs", args=Vec::new(), workdir=String::new()))]
#[allow(clippy::too_many_arguments)]
pub fn start(
    py: Python<'_>,
    trace_dir: PathBuf,
    program: String,
    activation_path: Option<String>,
    caps: Option<HashMap<String, usize>>,
    never: Vec<String>,
    stdlib: Vec<PathBuf>,
    script_dir: Option<PathBuf>,
    trace_filters: Vec<PathBuf>,
    on_error: &str,
    format: &str,
    args: Vec<String>,
    workdir: String,
) -> PyResult<()> {
    guard(|| {
        let mut slot = lock_active().ok_or_else(busy)?;
        if slot.is_some() {
            return Err(RecorderError::new(
                ErrorCode::AlreadyTracing,
                "a recording is already active in this process",
            )
            .into());
        }
        let mut cap_values = Caps::default();
        for (name, value) in caps.unwrap_or_default() {
            cap_values
                .set(&name, value)
                .map_err(|m| RecorderError::new(ErrorCode::InvalidArgument, m))?;
        }
        let on_error = parse_choice(
            "on_error",
            on_error,
            OnRecorderError::ALLOWED,
            OnRecorderError::parse,
        )?;
        let format = parse_choice("format", format, Format::ALLOWED, Format::parse)?;
        let env_filters = std::env::var_os(FILTER_ENV_VAR);
        let chain = resolve_filter_chain(
            script_dir.as_deref(),
            env_filters.as_deref(),
            &trace_filters,
        );
        let filters = Engine::load(&chain, stdlib).map_err(RecorderError::from)?;
        let info = RecordingInfo {
            program: program.clone(),
            args,
            workdir,
        };
        let writer = TraceWriter::create(&trace_dir, format, info)?;
        let config = TracerConfig {
            caps: cap_values,
            scope: ScopePolicy { never },
            filters,
            activation_path,
            on_error,
        };
        *slot = Some(RuntimeTracer::start(py, writer, config, &program)?);
        Ok(())
    })
}

/// The `[deps]` settings of the filter chain `start` would load (same discovery), for
/// dependency capture, which also runs without a trace (`--deps-only`): `mask_headers`,
/// `mask_words` (lists), `side_file_bytes` (int or None) and `files` (those with a `[deps]`
/// table). Every file is loaded and checked, so a bad filter fails here with `start`'s error.
#[pyfunction]
#[pyo3(signature = (*, script_dir=None, trace_filters=Vec::new()))]
pub fn deps_settings(
    py: Python<'_>,
    script_dir: Option<PathBuf>,
    trace_filters: Vec<PathBuf>,
) -> PyResult<Py<PyDict>> {
    guard(|| {
        let env_filters = std::env::var_os(FILTER_ENV_VAR);
        let chain = resolve_filter_chain(
            script_dir.as_deref(),
            env_filters.as_deref(),
            &trace_filters,
        );
        let files = load_filter_chain(&chain).map_err(RecorderError::from)?;
        let (settings, sources) = merge_deps_settings(&files);
        let d = PyDict::new(py);
        d.set_item("mask_headers", settings.mask_headers)?;
        d.set_item("mask_words", settings.mask_words)?;
        d.set_item("side_file_bytes", settings.side_file_bytes)?;
        d.set_item("files", sources)?;
        Ok(d.unbind())
    })
}

/// Stops recording, closes the trace and returns its statistics as a dict.
#[pyfunction]
pub fn stop(py: Python<'_>, exit_status: i64) -> PyResult<Py<PyDict>> {
    guard(|| {
        let tracer = {
            let mut slot = lock_active().ok_or_else(busy)?;
            slot.take().ok_or_else(|| {
                RecorderError::new(ErrorCode::NotTracing, "no recording is active")
            })?
        };
        let failure = tracer.failure.clone();
        let Finished {
            stats,
            paths,
            diagnostics,
            filters,
            callbacks,
            truncated_values,
        } = tracer.finish(py, exit_status)?;
        let d = PyDict::new(py);
        d.set_item("events", stats.events)?;
        d.set_item("steps", stats.steps)?;
        d.set_item("calls", stats.calls)?;
        d.set_item("returns", stats.returns)?;
        d.set_item("values", stats.values)?;
        d.set_item("io_events", stats.io_events)?;
        d.set_item("exceptions", stats.exceptions)?;
        d.set_item("compress_s", stats.compress_ns as f64 / 1e9)?;
        d.set_item("paths", paths)?;
        d.set_item("callbacks", callbacks)?;
        d.set_item("redactions", filters.redactions)?;
        d.set_item("truncated_values", truncated_values)?;
        let diagnostics = serde_json::to_string(&diagnostics)
            .map_err(|e| RecorderError::internal(format!("cannot encode diagnostics: {e}")))?;
        d.set_item("diagnostics_json", diagnostics)?;
        let summary = serde_json::to_string(&filters).map_err(|e| {
            RecorderError::internal(format!("cannot encode the filter summary: {e}"))
        })?;
        d.set_item("filters_json", summary)?;
        if let Some(f) = failure {
            d.set_item("failure_code", f.code.as_str())?;
            d.set_item("failure_message", f.message)?;
        }
        Ok(d.unbind())
    })
}

/// Drops the active recording without writing anything: for a forked child, whose copy of
/// the trace buffer belongs to the parent. Monitoring is switched off in this process.
#[pyfunction]
pub fn abandon(py: Python<'_>) -> PyResult<()> {
    guard(|| {
        if let Some(mut slot) = lock_active() {
            if let Some(tracer) = slot.take() {
                tracer.abandon(py);
            }
        }
        Ok(())
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
    record_event(kind, "", text)
}

/// Records an event at the current step: `kind` is "stdout", "stderr", "stdin" or "socket"
/// (a call to an external service, from dependency capture); other kinds are ignored.
#[pyfunction]
pub fn record_event(kind: &str, metadata: &str, content: &str) -> PyResult<()> {
    guard(|| {
        let kind = match kind {
            "stdout" => EventKind::Write,
            "stderr" => EventKind::WriteOther,
            "stdin" => EventKind::Read,
            "socket" => EventKind::Socket,
            _ => return Ok(()),
        };
        if let Some(mut slot) = lock_active() {
            if let Some(tracer) = slot.as_mut() {
                if tracer.failure.is_none() {
                    if let Err(err) = tracer.on_event(kind, metadata, content) {
                        tracer.failure = Some(err);
                    }
                }
            }
        }
        Ok(())
    })
}

/// Opens a span (`span_type` "web-request" for a request the program serves) at the current
/// step; returns its id for [`span_end`], or `None` when nothing is being recorded.
#[pyfunction]
#[pyo3(signature = (span_type, label, metadata=Vec::new()))]
pub fn span_begin(
    span_type: &str,
    label: &str,
    metadata: Vec<(String, String)>,
) -> PyResult<Option<u64>> {
    guard(|| {
        let mut id = None;
        if let Some(mut slot) = lock_active() {
            if let Some(tracer) = slot.as_mut() {
                if tracer.failure.is_none() {
                    match tracer.on_span_begin(span_type, label, metadata) {
                        Ok(opened) => id = opened,
                        Err(err) => tracer.failure = Some(err),
                    }
                }
            }
        }
        Ok(id)
    })
}

/// Closes span `span_id` with `status` ("ok", "error" or "unknown") and the metadata known at
/// its end (a key given again replaces the opening's value).
#[pyfunction]
#[pyo3(signature = (span_id, status, metadata=Vec::new()))]
pub fn span_end(span_id: u64, status: &str, metadata: Vec<(String, String)>) -> PyResult<()> {
    guard(|| {
        let status = parse_choice("span status", status, &["ok", "error", "unknown"], |s| {
            SpanStatus::parse(s)
        })?;
        if let Some(mut slot) = lock_active() {
            if let Some(tracer) = slot.as_mut() {
                if tracer.failure.is_none() {
                    if let Err(err) = tracer.on_span_end(span_id, status, metadata) {
                        tracer.failure = Some(err);
                    }
                }
            }
        }
        Ok(())
    })
}

/// Switches structured JSON-lines logs on (to `file`, else stderr) at `level`, or off (`None`).
#[pyfunction]
#[pyo3(signature = (level, file=None, run_id=String::new(), trace_id=None))]
pub fn configure_logging(
    level: Option<&str>,
    file: Option<PathBuf>,
    run_id: String,
    trace_id: Option<String>,
) -> PyResult<()> {
    guard(|| {
        let Some(level) = level else {
            global::install(None);
            return Ok(());
        };
        let level: Level = level.parse().map_err(|_| {
            RecorderError::new(
                ErrorCode::InvalidPolicyValue,
                format!("invalid log level '{level}' (allowed: error, warn, info, debug, trace)"),
            )
        })?;
        let logger = match &file {
            Some(path) => Logger::file(path, level, run_id)
                .map_err(|e| RecorderError::io("cannot open log file", path, &e))?,
            None => Logger::stderr(level, run_id),
        };
        logger.set_trace_id(trace_id);
        global::install(Some(logger));
        Ok(())
    })
}

/// Writes one structured log line (if logging is on).
#[pyfunction]
#[pyo3(signature = (level, message, code=None))]
pub fn log(level: &str, message: &str, code: Option<&str>) -> PyResult<()> {
    guard(|| {
        if let Ok(level) = level.parse::<Level>() {
            global::log(level, code, message);
        }
        Ok(())
    })
}

/// The `--json-errors` trailer line for one error.
#[pyfunction]
#[pyo3(signature = (run_id, trace_id, code, kind, message, context=HashMap::new()))]
pub fn error_trailer(
    run_id: String,
    trace_id: Option<String>,
    code: String,
    kind: String,
    message: String,
    context: HashMap<String, String>,
) -> PyResult<String> {
    guard(|| {
        let mut trailer = ErrorTrailer::new(run_id, trace_id, code, kind, message);
        let mut keys: Vec<_> = context.into_iter().collect();
        keys.sort();
        for (k, v) in keys {
            trailer = trailer.with_context(&k, v);
        }
        Ok(trailer.to_line())
    })
}
