//! The callback table: one small `#[pyfunction]` per `sys.monitoring` event.
//!
//! Each callback only unpacks its arguments and hands them to the active
//! [`RuntimeTracer`](crate::runtime::RuntimeTracer) through [`crate::runtime::dispatch`], which
//! contains panics and applies the error policy. A callback never raises into user code.

use pyo3::prelude::*;
use pyo3::types::PyCFunction;
use pyo3::wrap_pyfunction;

use crate::runtime::{dispatch, Exit};

#[pyfunction]
fn py_start(py: Python<'_>, code: &Bound<'_, PyAny>, _offset: i64) -> PyResult<Py<PyAny>> {
    dispatch(py, |t| t.on_start(code, false))
}

#[pyfunction]
fn py_resume(py: Python<'_>, code: &Bound<'_, PyAny>, _offset: i64) -> PyResult<Py<PyAny>> {
    dispatch(py, |t| t.on_start(code, true))
}

#[pyfunction]
fn py_throw(
    py: Python<'_>,
    code: &Bound<'_, PyAny>,
    _offset: i64,
    _exc: &Bound<'_, PyAny>,
) -> PyResult<Py<PyAny>> {
    dispatch(py, |t| t.on_start(code, true))
}

#[pyfunction]
fn py_return(
    py: Python<'_>,
    code: &Bound<'_, PyAny>,
    _offset: i64,
    value: &Bound<'_, PyAny>,
) -> PyResult<Py<PyAny>> {
    dispatch(py, |t| t.on_exit(code, Exit::Return(value)))
}

#[pyfunction]
fn py_yield(
    py: Python<'_>,
    code: &Bound<'_, PyAny>,
    _offset: i64,
    value: &Bound<'_, PyAny>,
) -> PyResult<Py<PyAny>> {
    dispatch(py, |t| t.on_exit(code, Exit::Yield(value)))
}

#[pyfunction]
fn py_unwind(
    py: Python<'_>,
    code: &Bound<'_, PyAny>,
    _offset: i64,
    exc: &Bound<'_, PyAny>,
) -> PyResult<Py<PyAny>> {
    dispatch(py, |t| t.on_exit(code, Exit::Unwind(exc)))
}

#[pyfunction]
fn line(py: Python<'_>, code: &Bound<'_, PyAny>, line: i64) -> PyResult<Py<PyAny>> {
    dispatch(py, |t| t.on_line(code, line))
}

#[pyfunction]
fn raise(
    py: Python<'_>,
    code: &Bound<'_, PyAny>,
    _offset: i64,
    exc: &Bound<'_, PyAny>,
) -> PyResult<Py<PyAny>> {
    dispatch(py, |t| t.on_exception(code, "raise", exc))
}

#[pyfunction]
fn reraise(
    py: Python<'_>,
    code: &Bound<'_, PyAny>,
    _offset: i64,
    exc: &Bound<'_, PyAny>,
) -> PyResult<Py<PyAny>> {
    dispatch(py, |t| t.on_exception(code, "reraise", exc))
}

#[pyfunction]
fn exception_handled(
    py: Python<'_>,
    code: &Bound<'_, PyAny>,
    _offset: i64,
    exc: &Bound<'_, PyAny>,
) -> PyResult<Py<PyAny>> {
    dispatch(py, |t| t.on_exception(code, "handled", exc))
}

macro_rules! constructors {
    ($($name:ident => $f:ident;)*) => {
        $(pub fn $name(py: Python<'_>) -> PyResult<Bound<'_, PyCFunction>> {
            wrap_pyfunction!($f, py)
        })*
    };
}

constructors! {
    py_start_fn => py_start;
    py_resume_fn => py_resume;
    py_throw_fn => py_throw;
    py_return_fn => py_return;
    py_yield_fn => py_yield;
    py_unwind_fn => py_unwind;
    line_fn => line;
    raise_fn => raise;
    reraise_fn => reraise;
    exception_handled_fn => exception_handled;
}
