//! What the recorder knows about one code object, computed once and cached.
//!
//! The cache holds a strong reference to each code object, so its address can never be
//! reused by another code object while the entry exists.

use pyo3::ffi;
use pyo3::prelude::*;

use crate::errors::RecorderResult;
use crate::pyffi::str_utf8;
use crate::trace_filter::{ScopeDecision, ValueAction, ValueKind};
use crate::trace_writer::TraceWriter;

/// Code that is never recorded, whatever the filters say: the recorder's own files (also when
/// run as `__main__`) and synthetic `<...>` sources (frozen modules, `exec` strings, generated
/// dataclass methods). Everything else is decided by the trace filter engine.
#[derive(Debug, Clone, Default)]
pub struct ScopePolicy {
    pub never: Vec<String>,
}

impl ScopePolicy {
    pub fn is_excluded(&self, filename: &str) -> bool {
        filename.is_empty()
            || filename.starts_with('<')
            || self.never.iter().any(|p| filename.starts_with(p.as_str()))
    }
}

/// The module a code object belongs to: `__name__` in the globals of the running frame.
pub fn current_module_name() -> Option<String> {
    unsafe {
        let globals = ffi::PyEval_GetGlobals();
        if globals.is_null() {
            return None;
        }
        let name = ffi::PyDict_GetItemString(globals, c"__name__".as_ptr());
        if name.is_null() || ffi::PyUnicode_Check(name) == 0 {
            None
        } else {
            str_utf8(name).map(str::to_string)
        }
    }
}

/// `co_flags` bit of function bodies (fast locals); module and class bodies lack it.
const CO_OPTIMIZED: u32 = 0x01;

pub struct CodeEntry {
    /// The code object itself (keeps its address its own; per-code events are reset on it).
    pub code: Py<PyAny>,
    pub traced: bool,
    pub filename: String,
    pub path_id: usize,
    pub function_id: usize,
    /// Filter decision (value rules) for this code; `None` when not traced.
    pub decision: Option<ScopeDecision>,
    /// Filter action for this function's return values.
    pub ret_action: ValueAction,
    /// Module and class bodies: their namespace holds definitions, not just program state.
    pub namespace_body: bool,
    /// Name objects, variable ids and filter actions of the parameters, in signature order.
    pub params: Vec<(Py<PyAny>, usize, ValueAction)>,
    /// Function bodies: every name a frame of this code can bind (read one by one on 3.13+).
    pub local_names: Vec<Py<PyAny>>,
}

impl CodeEntry {
    /// Inspects `code` (attribute reads of a code object never run user code).
    pub fn untraced(code: &Bound<'_, PyAny>, filename: String) -> Self {
        CodeEntry {
            code: code.clone().unbind(),
            traced: false,
            filename,
            path_id: 0,
            function_id: 0,
            decision: None,
            ret_action: ValueAction::Allow,
            namespace_body: false,
            params: Vec::new(),
            local_names: Vec::new(),
        }
    }

    /// Registers a traced code object: its path, function and parameter names.
    pub fn traced(
        code: &Bound<'_, PyAny>,
        filename: String,
        module: &str,
        qualname: String,
        decision: ScopeDecision,
        w: &mut TraceWriter,
    ) -> PyResult<RecorderResult<Self>> {
        let first_line: i64 = code.getattr("co_firstlineno")?.extract()?;
        let name = if qualname == "<module>" {
            // Module bodies are named after the module: <__main__>, <pkg.mod>.
            format!("<{module}>")
        } else {
            qualname
        };
        let argcount: usize = code.getattr("co_argcount")?.extract()?;
        let kwonly: usize = code.getattr("co_kwonlyargcount")?.extract()?;
        let flags: u32 = code.getattr("co_flags")?.extract()?;
        let varargs = usize::from(flags & 0x04 != 0) + usize::from(flags & 0x08 != 0);
        let varnames = code.getattr("co_varnames")?;
        let total = argcount + kwonly + varargs;
        let mut params = Vec::with_capacity(total);
        let ret_action = decision.value_action(ValueKind::Ret, &name);
        let namespace_body = flags & CO_OPTIMIZED == 0;
        let local_names = if namespace_body {
            Vec::new()
        } else {
            super::locals::local_names(code)?
        };
        let built = (|| -> RecorderResult<Self> {
            let path_id = w.path_id(&filename)?;
            let function_id = w.function_id(path_id, first_line, &name)?;
            for i in 0..total {
                let Ok(item) = varnames.get_item(i) else {
                    break;
                };
                let Ok(pname) = item.extract::<String>() else {
                    break;
                };
                let action = decision.value_action(ValueKind::Arg, &pname);
                let vid = w.variable_id(&pname)?;
                params.push((item.unbind(), vid, action));
            }
            Ok(CodeEntry {
                code: code.clone().unbind(),
                traced: true,
                filename,
                path_id,
                function_id,
                decision: Some(decision),
                ret_action,
                namespace_body,
                params,
                local_names,
            })
        })();
        Ok(built)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excluded_are_recorder_files_and_synthetic_sources() {
        let p = ScopePolicy {
            never: vec!["/lib/py/site-packages/codetracer_python_recorder/".into()],
        };
        assert!(!p.is_excluded("/home/u/app.py"));
        assert!(p.is_excluded("/lib/py/site-packages/codetracer_python_recorder/cli.py"));
        assert!(p.is_excluded("<frozen runpy>"));
        assert!(p.is_excluded("<string>"));
        assert!(p.is_excluded(""));
    }
}
