//! The runtime tracer: turns monitoring events into trace events.
//!
//! One [`RuntimeTracer`] is active per process, kept in [`ACTIVE`]. Callbacks reach it through
//! [`dispatch`], which never lets an error or panic escape into the user's program: failures
//! are handled by the session's `--on-recorder-error` policy (detach and keep the program
//! running, or abort it).

pub mod code_info;
mod events;
#[cfg(feature = "fault-injection")]
mod fault_injection;
mod filtering;
mod frames;
mod io;
mod lifecycle;
mod locals;
mod step_values;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use pyo3::prelude::*;

use crate::encoder::{Caps, ValueEncoder};
use crate::errors::{ErrorCode, RecorderError, RecorderResult};
use crate::fast_hash::FastMap;
use crate::ffi_guard::guard;
use crate::logging::{Metrics, MetricsSnapshot};
use crate::monitoring::Installation;
use crate::policy::OnRecorderError;
use crate::trace_filter::{Engine, FilterSummary, ValueAction};
use crate::trace_writer::{CallArgs, TraceWriter, WriterStats};
use code_info::CodeEntry;
pub use code_info::ScopePolicy;
use frames::ThreadStacks;
use locals::LocalsSource;
use step_values::StepVar;

/// What a redacted value shows.
pub const REDACTED: &str = "<redacted>";
/// What a dropped return value shows (dropped variables are simply not listed).
pub const DROPPED: &str = "<dropped>";

/// The active tracer, if any. Callbacks hold the GIL, so the lock is uncontended; `try_lock`
/// turns accidental re-entrancy (a GC finalizer running traced code mid-callback) into a
/// skipped event instead of a deadlock.
pub static ACTIVE: Mutex<Option<RuntimeTracer>> = Mutex::new(None);

/// What a callback tells `sys.monitoring`.
pub enum Action {
    Continue,
    /// Return `sys.monitoring.DISABLE`: this location never fires again for this tool.
    Disable,
}

pub enum Exit<'a, 'py> {
    Return(&'a Bound<'py, PyAny>),
    Yield(&'a Bound<'py, PyAny>),
    Unwind(&'a Bound<'py, PyAny>),
}

pub struct TracerConfig {
    pub caps: Caps,
    pub scope: ScopePolicy,
    pub filters: Engine,
    /// Recording starts when execution first enters this file.
    pub activation_path: Option<String>,
    pub on_error: OnRecorderError,
}

/// Callback invocations skipped because the tracer was busy (a finalizer re-entering, or a
/// thread switch inside a callback); reported as `dropped_events`.
static DROPPED_EVENTS: AtomicU64 = AtomicU64::new(0);
/// Every callback invocation that reached the recorder (for measuring DISABLE's effect).
static CALLBACKS: AtomicU64 = AtomicU64::new(0);

/// What a finished recording reports back for `trace_metadata.json`.
pub struct Finished {
    pub stats: WriterStats,
    pub paths: Vec<String>,
    pub diagnostics: MetricsSnapshot,
    pub filters: FilterSummary,
    /// Callback invocations while recording.
    pub callbacks: u64,
    /// Values cut by a cap when encoded.
    pub truncated_values: u64,
}

pub struct RuntimeTracer {
    install: Installation,
    writer: TraceWriter,
    encoder: ValueEncoder,
    config: TracerConfig,
    codes: FastMap<usize, CodeEntry>,
    stacks: ThreadStacks,
    activated: bool,
    /// Name object address → (name object, variable id); names are mostly interned strings.
    names: FastMap<usize, (Py<PyAny>, usize)>,
    /// Variable id → the last str/bytes/int/float encoded for it and its bytes (immutable:
    /// reusable).
    value_cache: Vec<Option<(Py<PyAny>, Vec<u8>)>>,
    /// (code address, name address) → filter action for that variable in that code.
    name_actions: FastMap<(usize, usize), ValueAction>,
    filter_summary: FilterSummary,
    /// How function bodies' variables are read on this interpreter.
    locals: LocalsSource,
    /// Reused buffer of one step's variables.
    step_vars: Vec<StepVar>,
    /// Reused buffer of name object addresses for one step.
    name_scratch: Vec<usize>,
    /// Reused buffer of (name address, variable id, action) of one call's parameters.
    param_scratch: Vec<(usize, usize, ValueAction)>,
    /// Reused buffer of one call's encoded arguments.
    call_args: CallArgs,
    scratch: Vec<u8>,
    metrics: Metrics,
    /// Set when the tracer detached itself after an error.
    pub failure: Option<RecorderError>,
}

/// Runs one callback body against the active tracer; see the module docs.
///
/// Returns `Err` only under the `abort` policy, which deliberately raises the recorder's
/// error into the program; otherwise failures detach the tracer and the program goes on.
pub fn dispatch(
    py: Python<'_>,
    body: impl FnOnce(&mut RuntimeTracer) -> RecorderResult<Action>,
) -> PyResult<Py<PyAny>> {
    CALLBACKS.fetch_add(1, Ordering::Relaxed);
    let outcome = guard(|| {
        let Some(mut slot) = lock_active() else {
            DROPPED_EVENTS.fetch_add(1, Ordering::Relaxed);
            return Ok(None);
        };
        let Some(tracer) = slot.as_mut() else {
            return Ok(None);
        };
        if tracer.failure.is_some() {
            return Ok(None);
        }
        match body(tracer) {
            Ok(Action::Continue) => Ok(None),
            Ok(Action::Disable) => Ok(Some(tracer.install.disable.clone_ref(py))),
            Err(err) => {
                let abort = tracer.config.on_error == OnRecorderError::Abort;
                let err = tracer.fail(py, err);
                if abort {
                    Err(err)
                } else {
                    Ok(None)
                }
            }
        }
    });
    match outcome {
        Ok(Some(disable)) => Ok(disable),
        Ok(None) => Ok(py.None()),
        Err(err) => {
            // Either the abort policy (already detached) or a caught panic (not yet detached).
            let mut slot = lock_active();
            let abort = match slot.as_mut().and_then(|s| s.as_mut()) {
                Some(tracer) => {
                    if tracer.failure.is_none() {
                        let _ =
                            tracer.fail(py, RecorderError::new(ErrorCode::Panic, err.to_string()));
                    }
                    tracer.config.on_error == OnRecorderError::Abort
                }
                None => false,
            };
            if abort {
                Err(err)
            } else {
                Ok(py.None())
            }
        }
    }
}

/// Locks [`ACTIVE`] without blocking; a poisoned lock (after a caught panic) is still usable
/// because the tracer detaches itself before anything else reads it.
pub fn lock_active() -> Option<std::sync::MutexGuard<'static, Option<RuntimeTracer>>> {
    match ACTIVE.try_lock() {
        Ok(slot) => Some(slot),
        Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
        Err(std::sync::TryLockError::WouldBlock) => None,
    }
}
