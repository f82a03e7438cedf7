//! What the recorder knows about one code object, computed once and cached.
//!
//! The cache holds a strong reference to each code object, so its address can never be
//! reused by another code object while the entry exists.

use pyo3::ffi;
use pyo3::prelude::*;

use crate::encoder::str_utf8;
use crate::errors::RecorderResult;
use crate::trace_writer::TraceWriter;

/// Which files are recorded: everything except the standard library, the recorder itself and
/// synthetic `<...>` sources, unless a trace filter says otherwise.
#[derive(Debug, Clone, Default)]
pub struct ScopePolicy {
    /// Never recorded (the recorder's own package).
    pub never: Vec<String>,
    /// Recorded even when under a `skip` prefix (site-packages inside the stdlib tree).
    pub keep: Vec<String>,
    /// Not recorded (the standard library).
    pub skip: Vec<String>,
}

impl ScopePolicy {
    pub fn is_traced(&self, filename: &str) -> bool {
        if filename.starts_with('<') || filename.is_empty() {
            return false;
        }
        if self.never.iter().any(|p| filename.starts_with(p.as_str())) {
            return false;
        }
        if self.keep.iter().any(|p| filename.starts_with(p.as_str())) {
            return true;
        }
        !self.skip.iter().any(|p| filename.starts_with(p.as_str()))
    }
}

/// `co_flags` bit of function bodies (fast locals); module and class bodies lack it.
const CO_OPTIMIZED: u32 = 0x01;

pub struct CodeEntry {
    _code: Py<PyAny>,
    pub traced: bool,
    pub filename: String,
    pub path_id: usize,
    pub function_id: usize,
    pub is_module: bool,
    /// Module and class bodies: their namespace holds definitions, not just program state.
    pub namespace_body: bool,
    /// Variable ids and name objects of the parameters, in signature order.
    pub params: Vec<(Py<PyAny>, usize)>,
}

impl CodeEntry {
    /// Inspects `code` (attribute reads of a code object never run user code).
    pub fn untraced(code: &Bound<'_, PyAny>, filename: String) -> Self {
        CodeEntry {
            _code: code.clone().unbind(),
            traced: false,
            filename,
            path_id: 0,
            function_id: 0,
            is_module: false,
            namespace_body: false,
            params: Vec::new(),
        }
    }

    pub fn traced(py: Python<'_>, code: &Bound<'_, PyAny>, filename: String, w: &mut TraceWriter) -> PyResult<RecorderResult<Self>> {
        let qualname: String = code.getattr("co_qualname")?.extract()?;
        let first_line: i64 = code.getattr("co_firstlineno")?.extract()?;
        let is_module = qualname == "<module>";
        let name = if is_module {
            // Module bodies are named after the module: <__main__>, <pkg.mod>.
            let module = unsafe {
                let globals = ffi::PyEval_GetGlobals();
                if globals.is_null() {
                    None
                } else {
                    let name = ffi::PyDict_GetItemString(globals, c"__name__".as_ptr());
                    if name.is_null() || ffi::PyUnicode_Check(name) == 0 {
                        None
                    } else {
                        str_utf8(name).map(str::to_string)
                    }
                }
            };
            format!("<{}>", module.unwrap_or_else(|| "module".to_string()))
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
        let _ = py;
        let built = (|| -> RecorderResult<Self> {
            let path_id = w.path_id(&filename)?;
            let function_id = w.function_id(path_id, first_line, &name)?;
            for i in 0..total {
                let Ok(item) = varnames.get_item(i) else { break };
                let Ok(pname) = item.extract::<String>() else { break };
                let vid = w.variable_id(&pname)?;
                params.push((item.unbind(), vid));
            }
            Ok(CodeEntry {
                _code: code.clone().unbind(),
                traced: true,
                filename,
                path_id,
                function_id,
                is_module,
                namespace_body: flags & CO_OPTIMIZED == 0,
                params,
            })
        })();
        Ok(built)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_policy_orders_never_keep_skip() {
        let p = ScopePolicy {
            never: vec!["/lib/py/site-packages/codetracer_python_recorder".into()],
            keep: vec!["/lib/py/site-packages".into()],
            skip: vec!["/lib/py".into()],
        };
        assert!(p.is_traced("/home/u/app.py"));
        assert!(!p.is_traced("/lib/py/json/__init__.py"));
        assert!(p.is_traced("/lib/py/site-packages/six.py"));
        assert!(!p.is_traced("/lib/py/site-packages/codetracer_python_recorder/cli.py"));
        assert!(!p.is_traced("<frozen runpy>"));
        assert!(!p.is_traced("<string>"));
    }
}
