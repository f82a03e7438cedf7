//! Small helpers over CPython's C API that the whole crate uses: pinning an object, reading
//! a `str` without copying, naming a type. None of them runs user code.

use std::os::raw::c_char;

use pyo3::ffi;
use pyo3::prelude::*;

/// A new strong reference to `ptr`, used to pin objects whose address is a cache key.
///
/// # Safety
/// `ptr` must be a valid object pointer and the GIL held.
pub unsafe fn retain(ptr: *mut ffi::PyObject) -> Py<PyAny> {
    Bound::from_borrowed_ptr(Python::assume_attached(), ptr).unbind()
}

/// Reads a `str` object's UTF-8 text (borrowed from the object).
///
/// # Safety
/// `obj` must be a valid `str` object and the GIL held; the slice lives as long as `obj`.
pub unsafe fn str_utf8<'a>(obj: *mut ffi::PyObject) -> Option<&'a str> {
    let mut size: ffi::Py_ssize_t = 0;
    let data: *const c_char = ffi::PyUnicode_AsUTF8AndSize(obj, &mut size);
    if data.is_null() {
        ffi::PyErr_Clear();
        return None;
    }
    let bytes = std::slice::from_raw_parts(data as *const u8, size as usize);
    std::str::from_utf8(bytes).ok()
}

/// The qualified name of `obj`'s type, without calling user code.
///
/// # Safety
/// `obj` must be a valid object pointer and the GIL held.
pub unsafe fn type_qualname(obj: *mut ffi::PyObject) -> String {
    take_str(ffi::PyType_GetQualName(ffi::Py_TYPE(obj))).unwrap_or_else(|| "object".to_string())
}

/// Text of a new `str` reference (consumed); `None` for NULL (error cleared) or a non-str.
///
/// # Safety
/// `owned` must be NULL or a new reference, with the GIL held.
pub unsafe fn take_str(owned: *mut ffi::PyObject) -> Option<String> {
    if owned.is_null() {
        ffi::PyErr_Clear();
        return None;
    }
    let text = if ffi::PyUnicode_Check(owned) != 0 {
        str_utf8(owned).map(str::to_string)
    } else {
        None
    };
    ffi::Py_DecRef(owned);
    text
}
