//! One error type for the whole crate.
//!
//! Every failure carries a [`ErrorKind`] (which decides the process exit status and the Python
//! exception class) and a stable [`ErrorCode`] (which users and tools can match on). The table
//! of codes is documented in `recorder/README.md`; keep the two in step.

use std::fmt;

use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// Broad classes of failure; each maps to one exit status and one Python exception class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The caller asked for something invalid (bad flag, bad filter file, conflicting paths).
    Usage,
    /// The machine or environment cannot support the recording (disk, permissions, Python).
    Environment,
    /// The traced program itself could not be started (missing script, bad module).
    Target,
    /// A bug in the recorder.
    Internal,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 4] = [
        ErrorKind::Usage,
        ErrorKind::Environment,
        ErrorKind::Target,
        ErrorKind::Internal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Usage => "usage",
            ErrorKind::Environment => "environment",
            ErrorKind::Target => "target",
            ErrorKind::Internal => "internal",
        }
    }

    /// Documented process exit status used when the recorder (not the program) fails.
    /// `ct` and the bundle bootstrap read the same numbers from `src/ct/contract.py`;
    /// `tests/ct/test_contract.py` checks the two against `_native.EXIT_STATUS`.
    pub fn exit_status(self) -> i32 {
        match self {
            ErrorKind::Usage => 2,
            ErrorKind::Environment => 10,
            ErrorKind::Target => 20,
            ErrorKind::Internal => 70,
        }
    }
}

macro_rules! error_codes {
    ($($variant:ident => $text:literal, $kind:ident;)*) => {
        /// Stable error codes. The string form never changes once released.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum ErrorCode { $($variant,)* }

        impl ErrorCode {
            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $text,)* }
            }
            /// The kind a code belongs to by default.
            pub fn kind(self) -> ErrorKind {
                match self { $(ErrorCode::$variant => ErrorKind::$kind,)* }
            }
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];
        }
    };
}

error_codes! {
    AlreadyTracing => "ERR_ALREADY_TRACING", Usage;
    NotTracing => "ERR_NOT_TRACING", Usage;
    TraceDirConflict => "ERR_TRACE_DIR_CONFLICT", Usage;
    InvalidPolicyValue => "ERR_INVALID_POLICY_VALUE", Usage;
    InvalidFilter => "ERR_INVALID_FILTER", Usage;
    InvalidArgument => "ERR_INVALID_ARGUMENT", Usage;
    Io => "ERR_IO", Environment;
    NoToolId => "ERR_NO_TOOL_ID", Environment;
    TraceIncomplete => "ERR_TRACE_INCOMPLETE", Environment;
    Panic => "ERR_PANIC", Internal;
    Python => "ERR_PYTHON", Internal;
    Internal => "ERR_INTERNAL", Internal;
}

/// The crate's error: kind + stable code + message + structured context.
#[derive(Debug, Clone)]
pub struct RecorderError {
    pub kind: ErrorKind,
    pub code: ErrorCode,
    pub message: String,
    pub context: Vec<(String, String)>,
}

pub type RecorderResult<T> = Result<T, RecorderError>;

impl RecorderError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        RecorderError {
            kind: code.kind(),
            code,
            message: message.into(),
            context: Vec::new(),
        }
    }

    pub fn with_context(mut self, key: &str, value: impl fmt::Display) -> Self {
        self.context.push((key.to_string(), value.to_string()));
        self
    }

    /// An I/O failure on `path`, classified as an environment error.
    pub fn io(what: &str, path: &std::path::Path, err: &std::io::Error) -> Self {
        RecorderError::new(ErrorCode::Io, format!("{what} {}: {err}", path.display()))
            .with_context("path", path.display())
    }

    pub fn internal(message: impl Into<String>) -> Self {
        RecorderError::new(ErrorCode::Internal, message)
    }

    /// A Python call the recorder made itself failed (say `sys.monitoring.register_callback`):
    /// an internal error with the exception's type and text, so the CLI reports it in one
    /// line with status 70 instead of letting it escape as a traceback.
    pub fn python(what: &str, err: &PyErr) -> Self {
        let detail = Python::attach(|py| {
            let name = err
                .get_type(py)
                .qualname()
                .map(|n| n.to_string())
                .unwrap_or_else(|_| "Exception".to_owned());
            format!("{name}: {}", err.value(py))
        });
        RecorderError::new(ErrorCode::Python, format!("{what}: {detail}"))
            .with_context("python_error", detail)
    }
}

impl fmt::Display for RecorderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for RecorderError {}

pyo3::create_exception!(
    codetracer_python_recorder,
    RecorderError_,
    PyException,
    "Base class of every error the recorder raises."
);
pyo3::create_exception!(codetracer_python_recorder, UsageError, RecorderError_);
pyo3::create_exception!(
    codetracer_python_recorder,
    RecorderEnvironmentError,
    RecorderError_
);
pyo3::create_exception!(codetracer_python_recorder, TargetError, RecorderError_);
pyo3::create_exception!(codetracer_python_recorder, InternalError, RecorderError_);

/// Registers the exception classes on the native module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("RecorderError", py.get_type::<RecorderError_>())?;
    m.add("UsageError", py.get_type::<UsageError>())?;
    m.add(
        "RecorderEnvironmentError",
        py.get_type::<RecorderEnvironmentError>(),
    )?;
    m.add("TargetError", py.get_type::<TargetError>())?;
    m.add("InternalError", py.get_type::<InternalError>())?;
    let codes = PyDict::new(py);
    for code in ErrorCode::ALL {
        codes.set_item(code.as_str(), code.kind().as_str())?;
    }
    m.add("ERROR_CODES", codes)?;
    let statuses = PyDict::new(py);
    for kind in ErrorKind::ALL {
        statuses.set_item(kind.as_str(), kind.exit_status())?;
    }
    m.add("EXIT_STATUS", statuses)?;
    Ok(())
}

impl From<crate::trace_filter::FilterError> for RecorderError {
    fn from(err: crate::trace_filter::FilterError) -> Self {
        RecorderError::new(
            ErrorCode::InvalidFilter,
            format!("{err}; fix or remove that filter file"),
        )
        .with_context("path", err.path.display())
    }
}

impl From<crate::policy::PolicyError> for RecorderError {
    fn from(err: crate::policy::PolicyError) -> Self {
        RecorderError::new(ErrorCode::InvalidPolicyValue, err.to_string())
            .with_context("source", &err.source)
    }
}

impl From<RecorderError> for PyErr {
    fn from(err: RecorderError) -> PyErr {
        let message = err.message.clone();
        let pyerr = match err.kind {
            ErrorKind::Usage => UsageError::new_err(message),
            ErrorKind::Environment => RecorderEnvironmentError::new_err(message),
            ErrorKind::Target => TargetError::new_err(message),
            ErrorKind::Internal => InternalError::new_err(message),
        };
        Python::attach(|py| {
            let value = pyerr.value(py);
            let context = PyDict::new(py);
            for (k, v) in &err.context {
                let _ = context.set_item(k, v);
            }
            let _ = value.setattr("code", err.code.as_str());
            let _ = value.setattr("kind", err.kind.as_str());
            let _ = value.setattr("context", context);
        });
        pyerr
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_prefixed() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            assert!(code.as_str().starts_with("ERR_"));
            assert!(seen.insert(code.as_str()), "duplicate {}", code.as_str());
        }
    }

    #[test]
    fn kinds_have_distinct_exit_statuses() {
        let statuses: std::collections::HashSet<i32> =
            ErrorKind::ALL.iter().map(|k| k.exit_status()).collect();
        assert_eq!(statuses.len(), 4);
        assert_eq!(ErrorKind::Usage.exit_status(), 2);
        assert_eq!(ErrorKind::Internal.exit_status(), 70);
    }
}
