//! Which code is recorded (once per code object) and which values are hidden (once per
//! variable name per code object), from the trace filter engine.

use pyo3::ffi;
use pyo3::prelude::*;

use super::code_info::{current_module_name, CodeEntry};
use super::{RuntimeTracer, DROPPED, REDACTED};
use crate::errors::{RecorderError, RecorderResult};
use crate::pyffi::{retain, str_utf8};
use crate::trace_filter::{CodeScope, ExecAction, ValueAction, ValueKind};

impl RuntimeTracer {
    pub(super) fn entry(&mut self, code: &Bound<'_, PyAny>) -> RecorderResult<&CodeEntry> {
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
    pub(super) fn inspect(&mut self, code: &Bound<'_, PyAny>) -> RecorderResult<CodeEntry> {
        let internal =
            |e: PyErr| RecorderError::internal(format!("cannot inspect code object: {e}"));
        // A file name that is not valid UTF-8 (a lone surrogate) is written the way the
        // Python side passes such paths (native_text.py: backslashreplace), so the code is
        // recorded and matches the program's own path.
        let filename: String = code
            .getattr("co_filename")
            .and_then(|f| {
                f.extract::<String>().or_else(|_| {
                    f.call_method1("encode", ("utf-8", "backslashreplace"))?
                        .call_method1("decode", ("utf-8",))?
                        .extract()
                })
            })
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
        let entry = CodeEntry::traced(
            code,
            filename,
            &module,
            qualname,
            decision,
            &mut self.writer,
        )
        .map_err(internal)??;
        self.install.watch(code).map_err(internal)?;
        Ok(entry)
    }

    /// Filter action for variable `name` in code `code_key`, computed once per pair.
    pub(super) unsafe fn name_action(
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

    pub(super) fn count_action(&mut self, action: ValueAction) {
        if action != ValueAction::Allow {
            self.filter_summary.record_value(action);
        }
    }

    /// Encodes `value` under a filter action (Allow or Redact; Drop is handled by callers).
    pub(super) unsafe fn encode_filtered(
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
}
