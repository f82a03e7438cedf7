//! Where a step's variables are read from.
//!
//! On 3.12 `PyEval_GetLocals()` refreshes the frame's own locals dict in place, which is cheap.
//! On 3.13 (PEP 667) the same call builds a `FrameLocalsProxy` and copies it into a dict key by
//! key on every call: a third of all instructions when recording a recursive fib. So on 3.13+
//! function bodies are read name by name with `PyFrame_GetVar`, which copies nothing. It is
//! outside the limited API, so it is looked up in the running interpreter at start; where that
//! lookup is not possible (Windows, where abi3 modules link `python3.dll`), the dict is used.

use pyo3::ffi;
use pyo3::prelude::*;

/// `PyObject *PyFrame_GetVar(PyFrameObject *frame, PyObject *name)` (CPython 3.12+): a new
/// reference, or NULL with `NameError` set when the variable is unbound.
pub type GetVarFn =
    unsafe extern "C" fn(*mut ffi::PyFrameObject, *mut ffi::PyObject) -> *mut ffi::PyObject;

#[derive(Clone, Copy)]
pub enum LocalsSource {
    /// `PyEval_GetLocals()`, a dict (borrowed).
    Dict,
    /// One `PyFrame_GetVar` per name of the code object's fast locals, cells and free vars.
    PerName(GetVarFn),
}

impl LocalsSource {
    pub fn for_interpreter(py: Python<'_>) -> Self {
        if py.version_info() < (3, 13) {
            return LocalsSource::Dict;
        }
        match lookup_get_var() {
            Some(get) => LocalsSource::PerName(get),
            None => LocalsSource::Dict,
        }
    }
}

#[cfg(unix)]
fn lookup_get_var() -> Option<GetVarFn> {
    // SAFETY: dlsym with a NUL-terminated name; the symbol, when present, has the C signature
    // above in every CPython that exports it (3.12+).
    let sym = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"PyFrame_GetVar".as_ptr()) };
    if sym.is_null() {
        None
    } else {
        Some(unsafe { std::mem::transmute::<*mut libc::c_void, GetVarFn>(sym) })
    }
}

#[cfg(not(unix))]
fn lookup_get_var() -> Option<GetVarFn> {
    None
}

/// The current frame's value of `name` (new reference), or `None` when unbound.
///
/// # Safety
/// GIL held; `frame` is the running frame, `name` a str.
unsafe fn get_var(
    get: GetVarFn,
    frame: *mut ffi::PyFrameObject,
    name: *mut ffi::PyObject,
) -> Option<*mut ffi::PyObject> {
    let value = get(frame, name);
    if value.is_null() {
        ffi::PyErr_Clear();
        None
    } else {
        Some(value)
    }
}

/// Names a function body can bind, in the frame's own order: `co_varnames`, then the cell
/// variables that are not also parameters, then the free variables.
pub fn local_names(code: &Bound<'_, PyAny>) -> PyResult<Vec<Py<PyAny>>> {
    let mut names: Vec<Py<PyAny>> = Vec::new();
    for attr in ["co_varnames", "co_cellvars", "co_freevars"] {
        for item in code.getattr(attr)?.try_iter()? {
            let item = item?;
            if !names
                .iter()
                .any(|n| n.bind(code.py()).eq(&item).unwrap_or(false))
            {
                names.push(item.unbind());
            }
        }
    }
    Ok(names)
}

/// The running frame's variables, for reading a few names (a call's parameters).
pub enum FrameVars {
    /// The locals dict (borrowed values).
    Dict(*mut ffi::PyObject),
    /// The frame itself (values are new references).
    Frame(GetVarFn, *mut ffi::PyFrameObject),
}

impl FrameVars {
    /// # Safety
    /// GIL held, inside a monitoring callback of the frame to read.
    pub unsafe fn current(source: LocalsSource) -> Option<Self> {
        match source {
            LocalsSource::Dict => {
                let locals = ffi::PyEval_GetLocals();
                if locals.is_null() {
                    ffi::PyErr_Clear();
                    None
                } else {
                    Some(FrameVars::Dict(locals))
                }
            }
            LocalsSource::PerName(get) => {
                let frame = ffi::PyEval_GetFrame();
                (!frame.is_null()).then_some(FrameVars::Frame(get, frame))
            }
        }
    }

    /// The value of `name`, or NULL when unbound; hand it to [`FrameVars::release`] after use.
    ///
    /// # Safety
    /// GIL held; `name` is a str.
    pub unsafe fn get(&self, name: *mut ffi::PyObject) -> *mut ffi::PyObject {
        match self {
            FrameVars::Dict(locals) => ffi::PyDict_GetItem(*locals, name),
            FrameVars::Frame(get, frame) => {
                get_var(*get, *frame, name).unwrap_or(std::ptr::null_mut())
            }
        }
    }

    /// # Safety
    /// `value` came from [`FrameVars::get`] on this same reader.
    pub unsafe fn release(&self, value: *mut ffi::PyObject) {
        if let FrameVars::Frame(..) = self {
            if !value.is_null() {
                ffi::Py_DecRef(value);
            }
        }
    }
}
