//! The filter summary written into `trace_metadata.json`.
//!
//! It lets a reader of a trace know which filters shaped it (by content hash, since files
//! change) and how much was hidden, so a missing value is never mistaken for a recorder bug.

use serde::Serialize;

use super::model::{ExecAction, ValueAction};

/// One filter file of the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppliedFilter {
    /// Path as loaded (absolute when the loader could canonicalize it).
    pub path: String,
    /// Lowercase hex SHA-256 of the file's bytes.
    pub sha256: String,
    /// `meta.name`, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `meta.version`, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// Serializable summary; the recorder bumps the counters as it applies decisions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FilterSummary {
    /// The builtin default (stdlib/recorder skip, secret redaction) is always first.
    pub builtin_default: bool,
    /// Filter files in chain order (later wins).
    pub filters: Vec<AppliedFilter>,
    /// Effective `default_exec` after the chain.
    pub default_exec: ExecAction,
    /// Effective `default_value_action` after the chain.
    pub default_value_action: ValueAction,
    /// Code objects whose decision was `skip`.
    pub skipped_scopes: u64,
    /// Values recorded as `<redacted>`.
    pub redactions: u64,
    /// Values omitted.
    pub drops: u64,
}

impl FilterSummary {
    /// Counts one scope decision.
    pub fn record_scope(&mut self, exec: ExecAction) {
        if exec == ExecAction::Skip {
            self.skipped_scopes = self.skipped_scopes.saturating_add(1);
        }
    }

    /// Counts one value decision.
    pub fn record_value(&mut self, action: ValueAction) {
        match action {
            ValueAction::Allow => {}
            ValueAction::Redact => self.redactions = self.redactions.saturating_add(1),
            ValueAction::Drop => self.drops = self.drops.saturating_add(1),
        }
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
    fn serializes_with_counters() {
        let mut s = FilterSummary {
            builtin_default: true,
            filters: vec![AppliedFilter {
                path: "/p/.codetracer/trace-filter.toml".into(),
                sha256: "ab".repeat(32),
                name: Some("proj".into()),
                version: None,
            }],
            default_exec: ExecAction::Trace,
            default_value_action: ValueAction::Allow,
            skipped_scopes: 0,
            redactions: 0,
            drops: 0,
        };
        s.record_scope(ExecAction::Skip);
        s.record_scope(ExecAction::Trace);
        s.record_value(ValueAction::Redact);
        s.record_value(ValueAction::Drop);
        s.record_value(ValueAction::Drop);
        s.record_value(ValueAction::Allow);
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "builtin_default": true,
                "filters": [{"path": "/p/.codetracer/trace-filter.toml", "sha256": "ab".repeat(32), "name": "proj"}],
                "default_exec": "trace",
                "default_value_action": "allow",
                "skipped_scopes": 1,
                "redactions": 1,
                "drops": 2
            })
        );
    }
}
