//! Spans of a `--format json` recording: `codetracer_spans.jsonl` beside `trace.json`.
//!
//! A JSON trace has no span stream; for a trace folder without a CTFS container, CodeTracer's
//! request panel reads this sidecar instead, one line per request:
//! `{"span_type", "label", "status", "metadata": {...}}` (db-backend `request_spans.rs`,
//! `load_legacy_jsonl_spans`). The sidecar has no step binding, so the panel lists the
//! requests but cannot jump to a request's first step (`docs/spans.md`). The file is created
//! with the first span; a recording without spans has none.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::spans::Span;
use crate::errors::{RecorderError, RecorderResult};
use crate::json_text as json;

pub const FILE_NAME: &str = "codetracer_spans.jsonl";

pub struct SpanSidecar {
    path: PathBuf,
    file: Option<File>,
    line: Vec<u8>,
}

impl SpanSidecar {
    pub fn new(dir: &Path) -> Self {
        SpanSidecar {
            path: dir.join(FILE_NAME),
            file: None,
            line: Vec::new(),
        }
    }

    /// Appends one line for `span`. A span still open at the end of the recording is left
    /// out: the sidecar cannot say "in flight".
    pub fn write(&mut self, span: &Span) -> RecorderResult<()> {
        if span.open {
            return Ok(());
        }
        let line = &mut self.line;
        line.clear();
        line.extend_from_slice(b"{\"span_type\":");
        json::push_str(line, &span.span_type);
        line.extend_from_slice(b",\"label\":");
        json::push_str(line, &span.label);
        line.extend_from_slice(b",\"status\":");
        json::push_str(line, span.status.as_str());
        line.extend_from_slice(b",\"metadata\":{");
        for (i, (key, value)) in span.metadata.iter().enumerate() {
            if i > 0 {
                line.push(b',');
            }
            json::push_str(line, key);
            line.push(b':');
            json::push_str(line, value);
        }
        line.extend_from_slice(b"}}\n");
        if self.file.is_none() {
            let file = File::create(&self.path)
                .map_err(|e| RecorderError::io("cannot create", &self.path, &e))?;
            self.file = Some(file);
        }
        if let Some(file) = self.file.as_mut() {
            file.write_all(&self.line)
                .map_err(|e| RecorderError::io("cannot write", &self.path, &e))?;
        }
        Ok(())
    }
}
