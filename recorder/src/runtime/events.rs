//! Monitoring events turned into trace events: calls, returns, steps with their variables,
//! exceptions, and the thread markers between them.

use pyo3::ffi;
use pyo3::prelude::*;

use super::locals::{FrameVars, LocalsSource};
use super::step_values::StepVar;
use super::{Action, Exit, RuntimeTracer, REDACTED};
use crate::errors::RecorderResult;
use crate::pyffi::{retain, str_utf8, type_qualname};
use crate::trace_filter::ValueAction;
use crate::trace_writer::{CallArgs, EventKind, TraceEvent};

impl RuntimeTracer {
    pub(super) fn activation_check(&mut self, filename: &str) -> bool {
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
    pub(super) fn note_thread(&mut self) -> RecorderResult<u64> {
        let ident = unsafe { ffi::PyThread_get_thread_ident() } as u64;
        if self.stacks.switch_to(ident) {
            self.writer.emit(TraceEvent::ThreadSwitch { ident })?;
        }
        Ok(ident)
    }

    /// PY_START, PY_RESUME and PY_THROW: a frame (re)enters.
    pub fn on_start(&mut self, code: &Bound<'_, PyAny>, resumed: bool) -> RecorderResult<Action> {
        let activated = self.activated;
        let mut params = std::mem::take(&mut self.param_scratch);
        params.clear();
        let entry = self.entry(code)?;
        if !entry.traced {
            self.param_scratch = params;
            return Ok(if resumed {
                Action::Continue
            } else {
                Action::Disable
            });
        }
        let filename = (!activated).then(|| entry.filename.clone());
        let (function_id, decision) = (entry.function_id, entry.decision.clone());
        if !resumed {
            params.extend(
                entry
                    .params
                    .iter()
                    .map(|(name, vid, action)| (name.as_ptr() as usize, *vid, *action)),
            );
        }
        if let Some(filename) = filename {
            if !self.activation_check(&filename) {
                self.param_scratch = params;
                return Ok(Action::Continue);
            }
        }
        self.note_thread()?;
        let key = code.as_ptr() as usize;
        self.encoder.attr_rules = decision;
        let mut args = std::mem::take(&mut self.call_args);
        args.clear();
        let result = unsafe { self.encode_args(&params, &mut args) }.and_then(|()| {
            self.writer.emit(TraceEvent::Call {
                function_id,
                args: &args,
            })
        });
        self.call_args = args;
        self.param_scratch = params;
        result?;
        self.stacks.push(key);
        Ok(Action::Continue)
    }

    /// Encodes the values of `params` (bound ones; dropped ones are left out) into `args`.
    unsafe fn encode_args(
        &mut self,
        params: &[(usize, usize, ValueAction)],
        args: &mut CallArgs,
    ) -> RecorderResult<()> {
        if params.is_empty() {
            return Ok(());
        }
        let Some(frame) = FrameVars::current(self.locals) else {
            return Ok(());
        };
        for &(name, vid, action) in params {
            let value = frame.get(name as *mut ffi::PyObject);
            if value.is_null() || action == ValueAction::Drop {
                frame.release(value);
                self.count_action(action);
                continue;
            }
            let encoded = args.push(vid, |buf| self.encode_filtered(value, action, buf));
            frame.release(value);
            encoded?;
        }
        Ok(())
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
        let (ret_action, decision) = (entry.ret_action, entry.decision.clone());
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
        self.writer.emit(TraceEvent::Return {
            value: &self.scratch,
        })?;
        Ok(Action::Continue)
    }

    /// LINE: one step, followed by the frame's visible variables.
    pub fn on_line(&mut self, code: &Bound<'_, PyAny>, line: i64) -> RecorderResult<Action> {
        let entry = self.entry(code)?;
        // line 0: code with no source line, like the implicit return of an empty module
        if !entry.traced || line < 1 {
            return Ok(Action::Disable);
        }
        let (path_id, namespace_body) = (entry.path_id, entry.namespace_body);
        let decision = entry.decision.clone();
        #[cfg(feature = "fault-injection")]
        super::fault_injection::maybe_panic(line);
        if !self.activated {
            return Ok(Action::Continue);
        }
        let key = code.as_ptr() as usize;
        self.note_thread()?;
        if !self.stacks.is_top(key) {
            return Ok(Action::Continue);
        }
        self.encoder.attr_rules = decision;
        let mut vars = std::mem::take(&mut self.step_vars);
        let result = unsafe {
            self.collect_step_vars(key, namespace_body, &mut vars)
                .and_then(|()| self.write_step(path_id, line, &vars))
        };
        for var in vars.drain(..) {
            unsafe { ffi::Py_DecRef(var.value) };
        }
        self.step_vars = vars;
        result?;
        Ok(Action::Continue)
    }

    /// The running frame's visible variables, filtered, into `out` (values are new
    /// references). Function bodies on 3.13+ are read name by name, the rest from the locals
    /// dict (see `locals.rs`).
    unsafe fn collect_step_vars(
        &mut self,
        code_key: usize,
        namespace_body: bool,
        out: &mut Vec<StepVar>,
    ) -> RecorderResult<()> {
        if let (LocalsSource::PerName(get), false) = (self.locals, namespace_body) {
            let Some(frame) = FrameVars::current(LocalsSource::PerName(get)) else {
                return Ok(());
            };
            let mut names = std::mem::take(&mut self.name_scratch);
            names.clear();
            if let Some(entry) = self.codes.get(&code_key) {
                names.extend(entry.local_names.iter().map(|n| n.as_ptr() as usize));
            }
            let mut result = Ok(());
            for &name in &names {
                let value = frame.get(name as *mut ffi::PyObject);
                if value.is_null() {
                    continue;
                }
                result =
                    self.push_step_var(code_key, name as *mut ffi::PyObject, value, false, out);
                if result.is_err() {
                    break;
                }
            }
            self.name_scratch = names;
            return result;
        }
        let locals = ffi::PyEval_GetLocals();
        if locals.is_null() {
            ffi::PyErr_Clear();
            return Ok(());
        }
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
            ffi::Py_IncRef(value);
            self.push_step_var(code_key, key, value, namespace_body, out)?;
        }
        Ok(())
    }

    /// Adds one variable unless it is a definition (namespace bodies) or dropped. Takes over
    /// the reference to `value`.
    unsafe fn push_step_var(
        &mut self,
        code_key: usize,
        name: *mut ffi::PyObject,
        value: *mut ffi::PyObject,
        namespace_body: bool,
        out: &mut Vec<StepVar>,
    ) -> RecorderResult<()> {
        if namespace_body && self.is_definition_or_dunder(name, value) {
            ffi::Py_DecRef(value);
            return Ok(());
        }
        let action = self.name_action(code_key, name, namespace_body);
        if action == ValueAction::Drop {
            self.count_action(action);
            ffi::Py_DecRef(value);
            return Ok(());
        }
        match self.variable_id(name) {
            Ok(vid) => {
                out.push(StepVar { vid, value, action });
                Ok(())
            }
            Err(err) => {
                ffi::Py_DecRef(value);
                Err(err)
            }
        }
    }

    /// Namespace bodies show program state only: no modules, functions, classes or dunders.
    unsafe fn is_definition_or_dunder(
        &self,
        name: *mut ffi::PyObject,
        value: *mut ffi::PyObject,
    ) -> bool {
        self.encoder.known().is_definition(value)
            || str_utf8(name).is_some_and(|n| n.starts_with("__") && n.ends_with("__"))
    }

    pub(super) unsafe fn variable_id(&mut self, name: *mut ffi::PyObject) -> RecorderResult<usize> {
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

    pub(super) unsafe fn record_value(
        &mut self,
        vid: usize,
        value: *mut ffi::PyObject,
        action: ValueAction,
    ) -> RecorderResult<()> {
        if action == ValueAction::Redact {
            self.count_action(action);
            self.scratch.clear();
            self.encoder
                .encode_placeholder(&mut self.writer, REDACTED, &mut self.scratch)?;
            return self.emit_scratch_value(vid);
        }
        // An unchanged str, bytes, int or float (the same object, held here so its address
        // stays its own) reuses its encoded bytes: floats cost a shortest-text formatting.
        let cacheable = ffi::PyUnicode_CheckExact(value) != 0
            || ffi::PyBytes_CheckExact(value) != 0
            || ffi::PyLong_CheckExact(value) != 0
            || ffi::PyFloat_CheckExact(value) != 0;
        if cacheable {
            if let Some(Some((obj, bytes))) = self.value_cache.get(vid) {
                if obj.as_ptr() == value {
                    return self.writer.emit(TraceEvent::Value {
                        variable_id: vid,
                        value: bytes,
                    });
                }
            }
        }
        let (encoder, cache) = (&mut self.encoder, &mut self.value_cache);
        self.writer.emit_value_with(vid, |w, buf, start| {
            encoder.encode(w, value, buf)?;
            if cacheable {
                if cache.len() <= vid {
                    cache.resize_with(vid + 1, || None);
                }
                let encoded = buf.get(start..).unwrap_or_default();
                match cache.get_mut(vid) {
                    // the slot's buffer is reused: a fresh one per changed value showed as
                    // allocations in profiles
                    Some(Some((obj, bytes))) => {
                        *obj = retain(value);
                        bytes.clear();
                        bytes.extend_from_slice(encoded);
                    }
                    Some(slot) => *slot = Some((retain(value), encoded.to_vec())),
                    None => {}
                }
            }
            Ok(())
        })
    }

    /// Writes the value encoded in `scratch` as variable `vid`'s `Value` event.
    fn emit_scratch_value(&mut self, vid: usize) -> RecorderResult<()> {
        self.writer.emit(TraceEvent::Value {
            variable_id: vid,
            value: &self.scratch,
        })
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
}

extern "C" {
    // Part of the stable ABI since 3.12; pyo3-ffi does not declare it for abi3 builds.
    pub(super) fn PyException_GetArgs(exc: *mut ffi::PyObject) -> *mut ffi::PyObject;
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
