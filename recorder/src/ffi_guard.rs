//! Panic containment at the FFI boundary.
//!
//! A panic must never unwind into CPython. Every `#[pyfunction]` entry point and every
//! monitoring callback runs its body through [`guard`], which turns a panic into an
//! `InternalError` (code `ERR_PANIC`) and counts it, so the session can apply its
//! `--on-recorder-error` policy.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};

use pyo3::PyResult;

use crate::errors::{ErrorCode, RecorderError};

static CAUGHT_PANICS: AtomicU64 = AtomicU64::new(0);

/// Number of panics caught since the module was loaded.
pub fn caught_panics() -> u64 {
    CAUGHT_PANICS.load(Ordering::Relaxed)
}

/// Runs `body`, converting a panic into an `InternalError`.
pub fn guard<T>(body: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(result) => result,
        Err(payload) => {
            CAUGHT_PANICS.fetch_add(1, Ordering::Relaxed);
            let detail = if let Some(s) = payload.downcast_ref::<&str>() {
                (*s).to_string()
            } else if let Some(s) = payload.downcast_ref::<String>() {
                s.clone()
            } else {
                "unknown panic payload".to_string()
            };
            Err(RecorderError::new(ErrorCode::Panic, format!("recorder panicked: {detail}")).into())
        }
    }
}
