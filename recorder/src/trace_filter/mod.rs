//! Trace filters: which code is recorded and which values are hidden.
//!
//! Chain (later wins): builtin default (skip the stdlib, frozen modules and the recorder;
//! redact secret names), the nearest `.codetracer/trace-filter.toml` above the script,
//! `CODETRACER_TRACE_FILTER` (an OS path list like `PATH`: `:`-separated on POSIX, `;` on
//! Windows), then each `--trace-filter` in order.
//!
//! ```toml
//! [meta]
//! name = "my-project"
//! version = 1
//!
//! [scope]
//! default_exec = "trace"          # trace | skip
//! default_value_action = "allow"  # allow | redact | drop
//!
//! [[scope.rules]]
//! selector = "pkg:regex:^app\\.vendor"   # pkg: | file: | obj:
//! exec = "skip"
//! reason = "third-party code"
//!
//! [[scope.rules]]
//! selector = "file:src/payments/**"
//! value_default = "redact"
//! [[scope.rules.value_patterns]]
//! selector = "local:literal:amount"      # local: | global: | arg: | ret: | attr:
//! action = "allow"
//!
//! [deps]                                 # dependency capture (--deps), see model::DepsSettings
//! mask_headers = ["X-Internal-Token"]    # more headers whose values are masked
//! mask_words = ["pin", "card_number"]    # more secret words of keys (one or two words)
//! side_file_bytes = 65536                # longer bodies go to deps-bodies/ side files
//! ```
//!
//! Matching: after the kind comes an optional `glob:` (default), `regex:` (unanchored search)
//! or `literal:` (exact). `pkg:` globs and literals also match submodules; `*` does not cross
//! `.` in `pkg:`/`obj:` nor `/` in `file:`, `**` crosses anything. Relative `file:` globs
//! and literals match at any directory boundary; paths are compared with `/`. `obj:` matches
//! `module.qualname` or the bare qualname; `ret:` matches the returning function's qualname.
//! Within a scope, the newest matching value pattern decides, else the newest
//! `value_default`, else `default_value_action`. The builtin secret rule (for `ret:`, on the
//! function name's last component) is the oldest pattern,
//! so an explicit `allow` overrides it while a `value_default` does not.

pub mod engine;
pub mod loader;
pub mod matcher;
pub mod model;
pub mod secrets;
pub mod summary;

pub use engine::{Engine, ScopeDecision, ValueRules, RECORDER_PACKAGE};
pub use loader::{
    discover_project_filter, load_filter_chain, load_filter_file, merge_deps_settings,
    parse_filter_env, parse_filter_str, resolve_filter_chain, FilterError, FILTER_ENV_VAR,
    PROJECT_FILTER_RELATIVE,
};
pub use model::{CodeScope, DepsSettings, ExecAction, FilterFile, ValueAction, ValueKind};
pub use secrets::is_secret_name;
pub use summary::{AppliedFilter, FilterSummary};
