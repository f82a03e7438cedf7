//! Recorder policy: failure handling and diagnostics switches (defaults < env < CLI).
//! `model` and `env` are plain Rust; `bindings` exposes the resolution to Python.

pub mod bindings;
pub mod env;
pub mod model;

pub use env::{cli_flag_is_boolean, overrides_from_env, CLI_FLAGS};
pub use model::{
    parse_bool, LogLevel, OnRecorderError, PolicyError, PolicyOverrides, RecorderPolicy,
};
