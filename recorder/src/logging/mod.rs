//! Diagnostics: JSON-lines logger, run counters, and the `--json-errors` trailer.
//! Plain Rust (no PyO3), so they work while Python is failing too.

pub mod global;
pub mod logger;
pub mod metrics;
pub mod trailer;

pub use logger::{new_run_id, now_rfc3339, Level, Logger};
pub use metrics::{Counter, Metrics, MetricsSnapshot};
pub use trailer::ErrorTrailer;
