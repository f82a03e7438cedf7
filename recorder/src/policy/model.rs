//! Recorder policy: how the recorder behaves when it fails, and how it reports.
//!
//! Sources layer as defaults < environment < CLI; each source yields a
//! [`PolicyOverrides`] so precedence is one `merge` call, testable without a process.

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

/// What to do when the recorder itself fails mid-run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OnRecorderError {
    /// Stop the program with the recorder's error status.
    Abort,
    /// Detach and let the program finish untouched; metadata says why recording stopped.
    /// The default: a recorder must not break the program it observes.
    #[default]
    Disable,
}

impl OnRecorderError {
    /// Accepted spellings, for error messages.
    pub const ALLOWED: &'static [&'static str] = &["abort", "disable"];

    /// Parses case-insensitively.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "abort" => Some(Self::Abort),
            "disable" => Some(Self::Disable),
            _ => None,
        }
    }

    /// Canonical spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Abort => "abort",
            Self::Disable => "disable",
        }
    }
}

/// Log verbosity, most severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Errors only.
    Error,
    /// Errors and warnings (default: quiet unless something is wrong).
    #[default]
    Warn,
    /// Lifecycle messages.
    Info,
    /// Details for bug reports.
    Debug,
    /// Everything.
    Trace,
}

impl LogLevel {
    /// Accepted spellings, for error messages.
    pub const ALLOWED: &'static [&'static str] = &["error", "warn", "info", "debug", "trace"];

    /// Parses case-insensitively; `warning` is accepted for Python users.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "error" => Some(Self::Error),
            "warn" | "warning" => Some(Self::Warn),
            "info" => Some(Self::Info),
            "debug" => Some(Self::Debug),
            "trace" => Some(Self::Trace),
            _ => None,
        }
    }

    /// Canonical spelling (also what `logging::logger::Level` parses).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warn => "warn",
            Self::Info => "info",
            Self::Debug => "debug",
            Self::Trace => "trace",
        }
    }
}

/// The effective policy of one recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecorderPolicy {
    /// `--on-recorder-error` / `CODETRACER_ON_RECORDER_ERROR`.
    pub on_recorder_error: OnRecorderError,
    /// `--require-trace`: fail when no trace was produced.
    pub require_trace: bool,
    /// `--keep-partial-trace`: keep a failed trace, marked `"partial": true`.
    pub keep_partial_trace: bool,
    /// `--log-level`.
    pub log_level: LogLevel,
    /// `--log-file`; `None` logs to stderr.
    pub log_file: Option<PathBuf>,
    /// `--json-errors`: one JSON trailer line on stderr per error.
    pub json_errors: bool,
}

impl Default for RecorderPolicy {
    fn default() -> Self {
        Self {
            on_recorder_error: OnRecorderError::Disable,
            require_trace: false,
            keep_partial_trace: false,
            log_level: LogLevel::Warn,
            log_file: None,
            json_errors: false,
        }
    }
}

impl RecorderPolicy {
    /// This policy with every field `o` sets replaced.
    pub fn merged(&self, o: &PolicyOverrides) -> Self {
        Self {
            on_recorder_error: o.on_recorder_error.unwrap_or(self.on_recorder_error),
            require_trace: o.require_trace.unwrap_or(self.require_trace),
            keep_partial_trace: o.keep_partial_trace.unwrap_or(self.keep_partial_trace),
            log_level: o.log_level.unwrap_or(self.log_level),
            log_file: match &o.log_file {
                Some(f) => f.clone(),
                None => self.log_file.clone(),
            },
            json_errors: o.json_errors.unwrap_or(self.json_errors),
        }
    }

    /// Defaults < env < CLI.
    pub fn resolve(env: &PolicyOverrides, cli: &PolicyOverrides) -> Self {
        Self::default().merged(env).merged(cli)
    }
}

/// Fields one source sets; `None` leaves the lower layer's value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyOverrides {
    /// See [`RecorderPolicy::on_recorder_error`].
    pub on_recorder_error: Option<OnRecorderError>,
    /// See [`RecorderPolicy::require_trace`].
    pub require_trace: Option<bool>,
    /// See [`RecorderPolicy::keep_partial_trace`].
    pub keep_partial_trace: Option<bool>,
    /// See [`RecorderPolicy::log_level`].
    pub log_level: Option<LogLevel>,
    /// `Some(None)` explicitly resets to stderr (an empty value).
    pub log_file: Option<Option<PathBuf>>,
    /// See [`RecorderPolicy::json_errors`].
    pub json_errors: Option<bool>,
}

/// An invalid policy value; maps to `ERR_INVALID_POLICY_VALUE` (a usage error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// The flag or variable, e.g. `--on-recorder-error` or `CODETRACER_ON_RECORDER_ERROR`.
    pub source: String,
    /// The rejected value as given.
    pub value: String,
    /// What would have been accepted.
    pub allowed: &'static [&'static str],
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid value '{}' for {} (allowed: {})",
            self.value,
            self.source,
            self.allowed.join(", ")
        )
    }
}

impl std::error::Error for PolicyError {}

/// Accepted boolean spellings, for error messages.
pub const BOOL_ALLOWED: &[&str] = &["1", "0", "true", "false", "yes", "no", "on", "off"];

/// Parses a boolean case-insensitively (1/0, true/false, yes/no, on/off).
pub fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let p = RecorderPolicy::default();
        assert_eq!(p.on_recorder_error, OnRecorderError::Disable);
        assert!(!p.require_trace && !p.keep_partial_trace && !p.json_errors);
        assert_eq!(p.log_level, LogLevel::Warn);
        assert_eq!(p.log_file, None);
    }

    #[test]
    fn precedence_defaults_env_cli() {
        let env = PolicyOverrides {
            on_recorder_error: Some(OnRecorderError::Abort),
            log_level: Some(LogLevel::Debug),
            log_file: Some(Some(PathBuf::from("/tmp/env.log"))),
            ..Default::default()
        };
        let cli = PolicyOverrides {
            log_level: Some(LogLevel::Error),
            log_file: Some(None),
            json_errors: Some(true),
            ..Default::default()
        };
        let p = RecorderPolicy::resolve(&env, &cli);
        assert_eq!(p.on_recorder_error, OnRecorderError::Abort);
        assert_eq!(p.log_level, LogLevel::Error);
        assert_eq!(p.log_file, None);
        assert!(p.json_errors);
        assert!(!p.require_trace);
    }

    #[test]
    fn parsers() {
        assert_eq!(
            OnRecorderError::parse("DISABLE"),
            Some(OnRecorderError::Disable)
        );
        assert_eq!(OnRecorderError::parse("stop"), None);
        assert_eq!(LogLevel::parse("Warning"), Some(LogLevel::Warn));
        assert_eq!(LogLevel::parse("verbose"), None);
        assert!(LogLevel::Error < LogLevel::Trace);
        for t in ["1", "TRUE", "Yes", "on"] {
            assert_eq!(parse_bool(t), Some(true), "{t}");
        }
        for f in ["0", "false", "NO", "Off"] {
            assert_eq!(parse_bool(f), Some(false), "{f}");
        }
        assert_eq!(parse_bool("2"), None);
        assert_eq!(parse_bool(""), None);
    }

    #[test]
    fn error_display() {
        let e = PolicyError {
            source: "CODETRACER_ON_RECORDER_ERROR".into(),
            value: "x".into(),
            allowed: OnRecorderError::ALLOWED,
        };
        assert_eq!(
            e.to_string(),
            "invalid value 'x' for CODETRACER_ON_RECORDER_ERROR (allowed: abort, disable)"
        );
    }

    #[test]
    fn serializes_for_metadata() {
        let v = serde_json::to_value(RecorderPolicy::default()).unwrap();
        assert_eq!(v["on_recorder_error"], "disable");
        assert_eq!(v["log_level"], "warn");
        assert_eq!(v["log_file"], serde_json::Value::Null);
    }
}
