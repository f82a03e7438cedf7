//! Python binding of the policy: `_native.resolve_policy(env, cli)`, used by the CLI so flag
//! and variable parsing (and their error messages) exist once, here in Rust.

use std::collections::HashMap;

use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::{overrides_from_env, PolicyOverrides, RecorderPolicy};
use crate::errors::{ErrorCode, RecorderError};
use crate::ffi_guard::guard;

/// Resolves the recorder policy: defaults < `env` (the `CODETRACER_*` variables) < `cli`
/// (`(flag, value)` pairs, `"true"` for bare boolean flags). Invalid values raise `UsageError`
/// naming the flag or variable and the allowed values.
#[pyfunction]
pub fn resolve_policy(
    py: Python<'_>,
    env: HashMap<String, String>,
    cli: Vec<(String, String)>,
) -> PyResult<Py<PyDict>> {
    guard(|| {
        let env = overrides_from_env(env).map_err(RecorderError::from)?;
        let mut cli_overrides = PolicyOverrides::default();
        for (flag, value) in &cli {
            if !cli_overrides
                .apply_cli(flag, value)
                .map_err(RecorderError::from)?
            {
                return Err(RecorderError::new(
                    ErrorCode::InvalidArgument,
                    format!("{flag} is not a policy flag"),
                )
                .into());
            }
        }
        let policy = RecorderPolicy::resolve(&env, &cli_overrides);
        let d = PyDict::new(py);
        d.set_item("on_recorder_error", policy.on_recorder_error.as_str())?;
        d.set_item("require_trace", policy.require_trace)?;
        d.set_item("keep_partial_trace", policy.keep_partial_trace)?;
        d.set_item("log_level", policy.log_level.as_str())?;
        d.set_item(
            "log_file",
            policy.log_file.map(|p| p.to_string_lossy().into_owned()),
        )?;
        d.set_item("json_errors", policy.json_errors)?;
        Ok(d.unbind())
    })
}
