//! The runtime tracer: turns monitoring events into trace events.
//!
//! One [`RuntimeTracer`] is active per process, kept in [`ACTIVE`]. Callbacks reach it through
//! [`dispatch`], which never lets an error or panic escape into the user's program: failures
//! are handled by the session's `--on-recorder-error` policy (detach and keep the program
//! running, or abort it).

pub mod code_info;
mod frames;

use std::sync::Mutex;

use pyo3::ffi;
use pyo3::prelude::*;

use crate::encoder::{retain, str_utf8, type_qualname, Caps, ValueEncoder};
use crate::errors::{ErrorCode, RecorderError, RecorderResult};
use crate::fast_hash::FastMap;
use crate::ffi_guard::guard;
use crate::logging::{Counter, Metrics, MetricsSnapshot};
use crate::monitoring::{self, Installation};
use crate::trace_writer::{EventKind, TraceEvent, TraceWriter, WriterStats};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::trace_filter::{CodeScope, Engine, ExecAction, FilterSummary, ValueAction, ValueKind};
pub use code_info::ScopePolicy;
use code_info::{current_module_name, CodeEntry};
use frames::ThreadStacks;

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    Abort,
    Disable,
}

pub struct TracerConfig {
    pub caps: Caps,
    pub scope: ScopePolicy,
    pub filters: Engine,
    /// Recording starts when execution first enters this file.
    pub activation_path: Option<String>,
    pub on_error: OnError,
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
}

pub struct RuntimeTracer {
    install: Installation,
    writer: TraceWriter,
    encoder: ValueEncoder,
    config: TracerConfig,
    codes: FastMap<usize, CodeEntry>,
    stacks: ThreadStacks,
    activated: bool,
    toplevel_function: usize,
    /// Name object address → (name object, variable id); names are mostly interned strings.
    names: FastMap<usize, (Py<PyAny>, usize)>,
    /// Variable id → the last str/bytes encoded for it and its bytes (immutable: reusable).
    value_cache: Vec<Option<(Py<PyAny>, Vec<u8>)>>,
    /// (code address, name address) → filter action for that variable in that code.
    name_actions: FastMap<(usize, usize), ValueAction>,
    filter_summary: FilterSummary,
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
                let abort = tracer.config.on_error == OnError::Abort;
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
                    tracer.config.on_error == OnError::Abort
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

impl RuntimeTracer {
    pub fn start(
        py: Python<'_>,
        writer: TraceWriter,
        config: TracerConfig,
        program: &str,
    ) -> PyResult<Self> {
        let encoder = ValueEncoder::new(py, config.caps)?;
        let mut writer = writer;
        let path_id = writer.path_id(program)?;
        let toplevel_function = writer.function_id(path_id, 1, "<toplevel>")?;
        writer.emit(TraceEvent::Call {
            function_id: toplevel_function,
            args: &[],
        })?;
        let activated = config.activation_path.is_none();
        let filter_summary = config.filters.summary();
        let install = monitoring::install(py)?;
        Ok(RuntimeTracer {
            install,
            writer,
            encoder,
            config,
            codes: FastMap::default(),
            stacks: ThreadStacks::default(),
            activated,
            toplevel_function,
            names: FastMap::default(),
            value_cache: Vec::new(),
            name_actions: FastMap::default(),
            filter_summary,
            scratch: Vec::with_capacity(4096),
            metrics: Metrics::new(),
            failure: None,
        })
    }

    /// Detaches after an error; the error is returned so `abort` can raise it.
    fn fail(&mut self, py: Python<'_>, err: RecorderError) -> PyErr {
        self.metrics.incr(Counter::Detaches);
        crate::logging::global::log(
            crate::logging::Level::Error,
            Some(err.code.as_str()),
            &format!("recorder detached: {}", err.message),
        );
        let _ = self.install.uninstall(py);
        self.failure = Some(err.clone());
        err.into()
    }

    pub fn toplevel_function(&self) -> usize {
        self.toplevel_function
    }

    fn entry(&mut self, code: &Bound<'_, PyAny>) -> RecorderResult<&CodeEntry> {
        let key = code.as_ptr() as usize;
        if !self.codes.contains_key(&key) {
            let entry = self.inspect(code)?;
            self.codes.insert(key, entry);
        }
        self.codes
            .get(&key)
            .ok_or_else(|| RecorderError::internal("code cache lost an entry"))
    }

    /// Decides, once per code object, whether and how it is recorded.
    fn inspect(&mut self, code: &Bound<'_, PyAny>) -> RecorderResult<CodeEntry> {
        let internal =
            |e: PyErr| RecorderError::internal(format!("cannot inspect code object: {e}"));
        let filename: String = code
            .getattr("co_filename")
            .and_then(|f| f.extract())
            .unwrap_or_default();
        if self.config.scope.is_excluded(&filename) {
            return Ok(CodeEntry::untraced(code, filename));
        }
        let qualname: String = code
            .getattr("co_qualname")
            .and_then(|q| q.extract())
            .map_err(internal)?;
        let module = current_module_name().unwrap_or_default();
        let decision = self.config.filters.scope_decision(&CodeScope {
            module: &module,
            file: &filename,
            qualname: &qualname,
        });
        self.filter_summary.record_scope(decision.exec);
        if decision.exec == ExecAction::Skip {
            return Ok(CodeEntry::untraced(code, filename));
        }
        CodeEntry::traced(
            code,
            filename,
            &module,
            qualname,
            decision,
            &mut self.writer,
        )
        .map_err(internal)?
    }

    fn activation_check(&mut self, filename: &str) -> bool {
        if !self.activated {
            if let Some(path) = &self.config.activation_path {
                if path == filename {
                    self.activated = true;
                }
            }
        }
        self.activated
    }

    /// Emits a thread marker when events start coming from another thread.
    fn note_thread(&mut self) -> RecorderResult<u64> {
        let ident = unsafe { ffi::PyThread_get_thread_ident() } as u64;
        if self.stacks.switch_to(ident) {
            let content = ident.to_string();
            self.writer.emit(TraceEvent::Log {
                kind: EventKind::TraceLogEvent,
                metadata: "thread",
                content: &content,
            })?;
        }
        Ok(ident)
    }

    /// PY_START, PY_RESUME and PY_THROW: a frame (re)enters.
    pub fn on_start(&mut self, code: &Bound<'_, PyAny>, resumed: bool) -> RecorderResult<Action> {
        let entry = self.entry(code)?;
        if !entry.traced {
            return Ok(if resumed {
                Action::Continue
            } else {
                Action::Disable
            });
        }
        let filename = entry.filename.clone();
        if !self.activation_check(&filename) {
            return Ok(Action::Continue);
        }
        self.note_thread()?;
        let key = code.as_ptr() as usize;
        let (function_id, params) = {
            let entry = self.entry(code)?;
            let decision = entry.decision.clone();
            self.encoder.attr_rules = decision;
            let entry = self.entry(code)?;
            let params: Vec<(usize, usize, ValueAction)> = if resumed {
                Vec::new()
            } else {
                entry
                    .params
                    .iter()
                    .map(|(name, vid, action)| (name.as_ptr() as usize, *vid, *action))
                    .collect()
            };
            (entry.function_id, params)
        };
        let mut args: Vec<(usize, Vec<u8>)> = Vec::with_capacity(params.len());
        if !params.is_empty() {
            let locals = unsafe { ffi::PyEval_GetLocals() };
            if locals.is_null() {
                unsafe { ffi::PyErr_Clear() };
            } else {
                for (name_ptr, vid, action) in params {
                    let value =
                        unsafe { ffi::PyDict_GetItem(locals, name_ptr as *mut ffi::PyObject) };
                    if value.is_null() || action == ValueAction::Drop {
                        self.count_action(action);
                        continue;
                    }
                    let mut buf = Vec::new();
                    unsafe { self.encode_filtered(value, action, &mut buf)? };
                    args.push((vid, buf));
                }
            }
        }
        self.writer.emit(TraceEvent::Call {
            function_id,
            args: &args,
        })?;
        self.stacks.push(key);
        Ok(Action::Continue)
    }

    /// PY_RETURN, PY_YIELD and PY_UNWIND: a frame leaves (for now or for good).
    pub fn on_exit(
        &mut self,
        code: &Bound<'_, PyAny>,
        exit: Exit<'_, '_>,
    ) -> RecorderResult<Action> {
        let entry = self.entry(code)?;
        if !entry.traced {
            return Ok(match exit {
                Exit::Unwind(_) => Action::Continue,
                _ => Action::Disable,
            });
        }
        if !self.activated {
            return Ok(Action::Continue);
        }
        self.note_thread()?;
        let key = code.as_ptr() as usize;
        // Frames entered before activation (or whose start we never saw) are not on the stack.
        let Some(unwound) = self.stacks.pop_to(key) else {
            return Ok(Action::Continue);
        };
        for _ in 0..unwound {
            self.scratch.clear();
            self.encoder
                .encode_none(&mut self.writer, &mut self.scratch)?;
            self.writer.emit(TraceEvent::Return {
                value: &self.scratch,
            })?;
        }
        let (ret_action, decision) = {
            let entry = self.entry(code)?;
            (entry.ret_action, entry.decision.clone())
        };
        self.encoder.attr_rules = decision;
        self.scratch.clear();
        match exit {
            Exit::Return(v) | Exit::Yield(v) => {
                let mut buf = std::mem::take(&mut self.scratch);
                let r = unsafe { self.encode_filtered(v.as_ptr(), ret_action, &mut buf) };
                self.scratch = buf;
                r?
            }
            Exit::Unwind(exc) => {
                let text = format!("<unwound by {}>", unsafe { type_qualname(exc.as_ptr()) });
                self.encoder
                    .encode_placeholder(&mut self.writer, &text, &mut self.scratch)?
            }
        }
        let value = std::mem::take(&mut self.scratch);
        let result = self.writer.emit(TraceEvent::Return { value: &value });
        self.scratch = value;
        result?;
        Ok(Action::Continue)
    }

    /// LINE: one step, followed by the frame's visible variables.
    pub fn on_line(&mut self, code: &Bound<'_, PyAny>, line: i64) -> RecorderResult<Action> {
        let entry = self.entry(code)?;
        if !entry.traced {
            return Ok(Action::Disable);
        }
        let (path_id, namespace_body) = (entry.path_id, entry.namespace_body);
        let decision = entry.decision.clone();
        #[cfg(feature = "fault-injection")]
        fault_injection::maybe_panic(line);
        if !self.activated {
            return Ok(Action::Continue);
        }
        let key = code.as_ptr() as usize;
        self.note_thread()?;
        if !self.stacks.is_top(key) {
            return Ok(Action::Continue);
        }
        self.writer.emit(TraceEvent::Step { path_id, line })?;
        self.encoder.attr_rules = decision;
        let locals = unsafe { ffi::PyEval_GetLocals() };
        if locals.is_null() {
            unsafe { ffi::PyErr_Clear() };
            return Ok(Action::Continue);
        }
        unsafe { self.record_variables(key, locals, namespace_body) }?;
        Ok(Action::Continue)
    }

    /// Writes a `Value` event per visible variable of `locals` (a dict, borrowed).
    unsafe fn record_variables(
        &mut self,
        code_key: usize,
        locals: *mut ffi::PyObject,
        namespace_body: bool,
    ) -> RecorderResult<()> {
        if ffi::PyDict_Check(locals) == 0 {
            return Ok(());
        }
        let mut pos: ffi::Py_ssize_t = 0;
        let mut key: *mut ffi::PyObject = std::ptr::null_mut();
        let mut value: *mut ffi::PyObject = std::ptr::null_mut();
        while ffi::PyDict_Next(locals, &mut pos, &mut key, &mut value) != 0 {
            if ffi::PyUnicode_Check(key) == 0 {
                continue;
            }
            if namespace_body {
                // Program state only: no modules, functions, classes or dunder names.
                if self.encoder.known().is_definition(value) {
                    continue;
                }
                if let Some(name) = str_utf8(key) {
                    if name.starts_with("__") && name.ends_with("__") {
                        continue;
                    }
                }
            }
            let action = self.name_action(code_key, key, namespace_body);
            if action == ValueAction::Drop {
                self.count_action(action);
                continue;
            }
            let vid = self.variable_id(key)?;
            if action == ValueAction::Redact {
                self.count_action(action);
                self.scratch.clear();
                self.encoder
                    .encode_placeholder(&mut self.writer, REDACTED, &mut self.scratch)?;
                let bytes = std::mem::take(&mut self.scratch);
                let r = self.writer.emit(TraceEvent::Value {
                    variable_id: vid,
                    value: &bytes,
                });
                self.scratch = bytes;
                r?;
                continue;
            }
            self.record_value(vid, value)?;
        }
        Ok(())
    }

    /// Filter action for variable `name` in code `code_key`, computed once per pair.
    unsafe fn name_action(
        &mut self,
        code_key: usize,
        name: *mut ffi::PyObject,
        namespace_body: bool,
    ) -> ValueAction {
        if let Some(action) = self.name_actions.get(&(code_key, name as usize)) {
            return *action;
        }
        let kind = if namespace_body {
            ValueKind::Global
        } else {
            ValueKind::Local
        };
        let text = str_utf8(name).unwrap_or("");
        let action = match self.codes.get(&code_key).and_then(|e| e.decision.as_ref()) {
            Some(decision) => decision.value_action(kind, text),
            None => ValueAction::Allow,
        };
        // The name object is pinned by `names` once recorded; pin it here too for Drop.
        self.names
            .entry(name as usize)
            .or_insert_with(|| (retain(name), usize::MAX));
        self.name_actions.insert((code_key, name as usize), action);
        action
    }

    fn count_action(&mut self, action: ValueAction) {
        if action != ValueAction::Allow {
            self.filter_summary.record_value(action);
        }
    }

    /// Encodes `value` under a filter action (Allow or Redact; Drop is handled by callers).
    unsafe fn encode_filtered(
        &mut self,
        value: *mut ffi::PyObject,
        action: ValueAction,
        buf: &mut Vec<u8>,
    ) -> RecorderResult<()> {
        match action {
            ValueAction::Allow => self.encoder.encode(&mut self.writer, value, buf),
            ValueAction::Redact => {
                self.count_action(action);
                self.encoder
                    .encode_placeholder(&mut self.writer, REDACTED, buf)
            }
            ValueAction::Drop => {
                self.count_action(action);
                self.encoder
                    .encode_placeholder(&mut self.writer, DROPPED, buf)
            }
        }
    }

    unsafe fn variable_id(&mut self, name: *mut ffi::PyObject) -> RecorderResult<usize> {
        let addr = name as usize;
        if let Some((_, vid)) = self.names.get(&addr) {
            if *vid != usize::MAX {
                return Ok(*vid);
            }
        }
        let text = str_utf8(name).unwrap_or("<?>");
        let vid = self.writer.variable_id(text)?;
        self.names.insert(addr, (retain(name), vid));
        Ok(vid)
    }

    unsafe fn record_value(&mut self, vid: usize, value: *mut ffi::PyObject) -> RecorderResult<()> {
        let cacheable =
            ffi::PyUnicode_CheckExact(value) != 0 || ffi::PyBytes_CheckExact(value) != 0;
        if cacheable {
            if let Some(Some((obj, bytes))) = self.value_cache.get(vid) {
                if obj.as_ptr() == value {
                    let bytes = bytes.clone();
                    return self.writer.emit(TraceEvent::Value {
                        variable_id: vid,
                        value: &bytes,
                    });
                }
            }
        }
        self.scratch.clear();
        self.encoder
            .encode(&mut self.writer, value, &mut self.scratch)?;
        let bytes = std::mem::take(&mut self.scratch);
        let result = self.writer.emit(TraceEvent::Value {
            variable_id: vid,
            value: &bytes,
        });
        if cacheable {
            if self.value_cache.len() <= vid {
                self.value_cache.resize_with(vid + 1, || None);
            }
            self.value_cache[vid] = Some((retain(value), bytes.clone()));
        }
        self.scratch = bytes;
        result
    }

    /// RAISE, RERAISE, EXCEPTION_HANDLED in recorded code: an `Error` event.
    pub fn on_exception(
        &mut self,
        code: &Bound<'_, PyAny>,
        what: &str,
        exc: &Bound<'_, PyAny>,
    ) -> RecorderResult<Action> {
        let entry = self.entry(code)?;
        if !entry.traced || !self.activated {
            return Ok(Action::Continue);
        }
        self.note_thread()?;
        if !self.stacks.is_top(code.as_ptr() as usize) {
            return Ok(Action::Continue);
        }
        let text = unsafe { exception_text(exc.as_ptr(), self.encoder.caps.max_string) };
        self.writer.emit(TraceEvent::Log {
            kind: EventKind::Error,
            metadata: what,
            content: &text,
        })?;
        Ok(Action::Continue)
    }

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

    /// Detaches from `sys.monitoring`, balances every open call, returns `<toplevel>` with
    /// `exit_status` and closes the trace. Returns the writer's stats and the recorded paths.
    pub fn finish(mut self, py: Python<'_>, exit_status: i64) -> RecorderResult<Finished> {
        if self.failure.is_none() {
            let _ = self.install.uninstall(py);
        }
        for _ in 0..self.stacks.open_frames() {
            self.scratch.clear();
            self.encoder
                .encode_none(&mut self.writer, &mut self.scratch)?;
            let value = std::mem::take(&mut self.scratch);
            self.writer.emit(TraceEvent::Return { value: &value })?;
            self.scratch = value;
        }
        self.scratch.clear();
        self.encoder
            .encode_i64(&mut self.writer, exit_status, &mut self.scratch)?;
        let value = std::mem::take(&mut self.scratch);
        self.writer.emit(TraceEvent::Return { value: &value })?;
        self.writer.finish()?;
        let (redactions, drops) = self.encoder.take_attr_counts();
        self.filter_summary.redactions += redactions;
        self.filter_summary.drops += drops;
        Ok(Finished {
            stats: self.writer.stats,
            paths: self.writer.paths().to_vec(),
            diagnostics: {
                self.metrics.add(
                    Counter::DroppedEvents,
                    DROPPED_EVENTS.swap(0, Ordering::Relaxed),
                );
                self.metrics
                    .add(Counter::CaughtPanics, crate::ffi_guard::caught_panics());
                self.metrics.snapshot()
            },
            callbacks: CALLBACKS.swap(0, Ordering::Relaxed),
            filters: self.filter_summary,
        })
    }

    /// Detaches without flushing: the buffered events are the parent process's to write.
    pub fn abandon(self, py: Python<'_>) {
        if self.failure.is_none() {
            let _ = self.install.uninstall(py);
        }
        self.writer.forget();
    }

    pub fn trace_bytes(&self) -> u64 {
        self.writer.bytes_written()
    }
}

#[cfg(feature = "fault-injection")]
mod fault_injection {
    use std::sync::OnceLock;

    static PANIC_LINE: OnceLock<Option<i64>> = OnceLock::new();

    #[allow(clippy::panic)]
    pub fn maybe_panic(line: i64) {
        let target = PANIC_LINE.get_or_init(|| {
            std::env::var("CODETRACER_TEST_PANIC_ON_LINE")
                .ok()
                .and_then(|v| v.parse().ok())
        });
        if *target == Some(line) {
            panic!("injected panic at line {line}");
        }
    }
}

extern "C" {
    // Part of the stable ABI since 3.12; pyo3-ffi does not declare it for abi3 builds.
    fn PyException_GetArgs(exc: *mut ffi::PyObject) -> *mut ffi::PyObject;
}

/// `TypeName: message` from the exception's args, never calling a user `__str__`.
unsafe fn exception_text(exc: *mut ffi::PyObject, max: usize) -> String {
    let name = type_qualname(exc);
    let args = PyException_GetArgs(exc);
    if args.is_null() {
        ffi::PyErr_Clear();
        return name;
    }
    let mut parts = Vec::new();
    let n = ffi::PyTuple_Size(args).max(0);
    for i in 0..n {
        let item = ffi::PyTuple_GetItem(args, i);
        if item.is_null() {
            ffi::PyErr_Clear();
            continue;
        }
        if ffi::PyUnicode_Check(item) != 0 {
            parts.push(
                str_utf8(item)
                    .unwrap_or("")
                    .chars()
                    .take(max)
                    .collect::<String>(),
            );
        } else if ffi::PyLong_Check(item) != 0 {
            let v = ffi::PyLong_AsLongLong(item);
            if !ffi::PyErr_Occurred().is_null() {
                ffi::PyErr_Clear();
            }
            parts.push(v.to_string());
        } else {
            parts.push(format!("<{}>", type_qualname(item)));
        }
    }
    ffi::Py_DecRef(args);
    if parts.is_empty() {
        name
    } else {
        format!("{name}: {}", parts.join(", "))
    }
}
