//! The `--json-errors` trailer: one JSON object on one stderr line per recorder error.
//!
//! Wrappers such as `ct` parse it instead of scraping human text, so its shape is fixed:
//! `run_id`, `trace_id` (null if none), `error_code`, `error_kind`, `message`, `context`.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::{Map, Value};

/// One error, ready to print.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorTrailer {
    /// Run id shared with the logs.
    pub run_id: String,
    /// Trace id, once the trace folder is known.
    pub trace_id: Option<String>,
    /// Stable code, e.g. `ERR_TRACE_DIR_CONFLICT`.
    pub error_code: String,
    /// `usage`, `environment`, `target` or `internal` (as the error model names it).
    pub error_kind: String,
    /// Human message (newlines are escaped, so it stays one line).
    pub message: String,
    /// Extra facts (paths, values), an object.
    pub context: Map<String, Value>,
}

impl ErrorTrailer {
    /// A trailer with an empty context.
    pub fn new(
        run_id: impl Into<String>,
        trace_id: Option<String>,
        error_code: impl Into<String>,
        error_kind: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            run_id: run_id.into(),
            trace_id,
            error_code: error_code.into(),
            error_kind: error_kind.into(),
            message: message.into(),
            context: Map::new(),
        }
    }

    /// Adds one context entry.
    pub fn with_context(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.context.insert(key.into(), value.into());
        self
    }

    /// The JSON object, without newline.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| {
            // Unreachable (string keys only); keep the required keys anyway.
            format!(
                "{{\"run_id\":{:?},\"trace_id\":null,\"error_code\":{:?},\"error_kind\":{:?},\"message\":\"unserializable error\",\"context\":{{}}}}",
                self.run_id, self.error_code, self.error_kind
            )
        })
    }

    /// Writes the line plus `\n` in one call, so it does not interleave with other output.
    pub fn write_to(&self, w: &mut dyn Write) -> io::Result<()> {
        let mut line = self.to_line();
        line.push('\n');
        w.write_all(line.as_bytes())?;
        w.flush()
    }

    /// Writes to stderr, ignoring failures (there is nowhere left to report them).
    pub fn emit_stderr(&self) {
        let _ = self.write_to(&mut io::stderr().lock());
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
    use serde_json::json;

    #[test]
    fn shape_is_fixed() {
        let t = ErrorTrailer::new(
            "run1",
            None,
            "ERR_INVALID_POLICY_VALUE",
            "usage",
            "invalid value 'x'\nfor --on-recorder-error",
        )
        .with_context("flag", "--on-recorder-error")
        .with_context("allowed", json!(["abort", "disable"]));
        let line = t.to_line();
        assert!(!line.contains('\n'));
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            v,
            json!({
                "run_id": "run1",
                "trace_id": null,
                "error_code": "ERR_INVALID_POLICY_VALUE",
                "error_kind": "usage",
                "message": "invalid value 'x'\nfor --on-recorder-error",
                "context": {"flag": "--on-recorder-error", "allowed": ["abort", "disable"]}
            })
        );
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 6);
    }

    #[test]
    fn writes_one_line() {
        let t = ErrorTrailer::new("r", Some("t".into()), "ERR_IO", "environment", "disk full");
        let mut out = Vec::new();
        t.write_to(&mut out).unwrap();
        let s = String::from_utf8(out).unwrap();
        assert!(s.ends_with("}\n"));
        assert_eq!(s.matches('\n').count(), 1);
        assert!(s.contains("\"trace_id\":\"t\""));
    }
}
