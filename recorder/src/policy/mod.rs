//! Recorder policy: failure handling and diagnostics switches (defaults < env < CLI).
//! The Python bindings live with the PyO3 code; this part is plain Rust.

pub mod env;
pub mod model;

pub use env::{cli_flag_is_boolean, overrides_from_env, CLI_FLAGS};
pub use model::{
    parse_bool, LogLevel, OnRecorderError, PolicyError, PolicyOverrides, RecorderPolicy,
};
