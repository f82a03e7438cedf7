//! Trace filters: which code is recorded and which values are hidden.
//!
//! Chain (later wins): builtin default (skip stdlib and the recorder, redact secret names),
//! the nearest `.codetracer/trace-filter.toml` above the script, `CODETRACER_TRACE_FILTER`
//! (an OS path list: `:`-separated on POSIX, `;` on Windows), then each `--trace-filter`.

pub mod engine;
pub mod loader;
pub mod matcher;
pub mod model;
pub mod secrets;
pub mod summary;

pub use engine::{Engine, ScopeDecision, ValueRules, RECORDER_PACKAGE};
pub use loader::{
    discover_project_filter, load_filter_chain, load_filter_file, parse_filter_env,
    parse_filter_str, resolve_filter_chain, FilterError, FILTER_ENV_VAR, PROJECT_FILTER_RELATIVE,
};
pub use model::{CodeScope, ExecAction, FilterFile, ValueAction, ValueKind};
pub use secrets::is_secret_name;
pub use summary::{AppliedFilter, FilterSummary};
