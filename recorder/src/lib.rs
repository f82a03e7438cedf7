//! CodeTracer's Python recorder, native part.
//!
//! `sys.monitoring` callbacks implemented in Rust stream a CTFS trace (`trace.ct`, or runtime_tracing
//! JSON on request) to disk.
//! Layout: [`monitoring`] claims a tool id and owns the callback table, [`runtime`] turns
//! events into trace records, [`encoder`] turns Python values into value-record JSON without running user
//! code, [`trace_writer`] streams the records, [`errors`] and [`ffi_guard`] keep every failure
//! typed and every panic on the Rust side of the boundary.

pub mod api;
pub mod capture_io;
pub mod encoder;
pub mod errors;
pub mod fast_hash;
pub mod ffi_guard;
pub mod json_text;
pub mod logging;
pub mod monitoring;
pub mod policy;
pub mod pyffi;
pub mod runtime;
pub mod trace_filter;
pub mod trace_writer;

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // Panics are caught at the boundary and reported as InternalError (see ffi_guard); the
    // default hook would also print a backtrace into the user's stderr.
    std::panic::set_hook(Box::new(|_| {}));
    errors::register(m)?;
    m.add_function(wrap_pyfunction!(api::start, m)?)?;
    m.add_function(wrap_pyfunction!(api::stop, m)?)?;
    m.add_function(wrap_pyfunction!(api::is_tracing, m)?)?;
    m.add_function(wrap_pyfunction!(api::abandon, m)?)?;
    m.add_function(wrap_pyfunction!(api::record_io, m)?)?;
    m.add_function(wrap_pyfunction!(api::record_event, m)?)?;
    m.add_function(wrap_pyfunction!(api::deps_settings, m)?)?;
    m.add_function(wrap_pyfunction!(api::span_begin, m)?)?;
    m.add_function(wrap_pyfunction!(api::span_end, m)?)?;
    m.add_function(wrap_pyfunction!(policy::bindings::resolve_policy, m)?)?;
    m.add_function(wrap_pyfunction!(capture_io::json::dumps, m)?)?;
    m.add_class::<capture_io::sink::LineSink>()?;
    m.add_class::<capture_io::sink::FileSink>()?;
    m.add_function(wrap_pyfunction!(api::configure_logging, m)?)?;
    m.add_function(wrap_pyfunction!(api::log, m)?)?;
    m.add_function(wrap_pyfunction!(api::error_trailer, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("FAULT_INJECTION", cfg!(feature = "fault-injection"))?;
    Ok(())
}
