//! The legacy runtime_tracing JSON backend: `trace.json`, for debugging and tests.
//!
//! A JSON array written one event per line as events happen: memory stays bounded by one
//! buffer, never by the length of the run. Ids are implicit in the format (the n-th `Path`
//! event defines path id n), which is how [`super::interning`] allocates them.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::span_sidecar::SpanSidecar;
use super::spans::Span;
use super::{Backend, EventKind, TraceEvent, TypeKind};
use crate::errors::{RecorderError, RecorderResult};
use crate::json_text as json;

const BUFFER_BYTES: usize = 1 << 20;

pub struct JsonTrace {
    file: File,
    path: PathBuf,
    first: bool,
    /// Events not yet written to `file`; each event is encoded straight into it and it is
    /// written out once it holds `BUFFER_BYTES` (no per-event copy through a `BufWriter`).
    line: Vec<u8>,
    /// Bytes already written to `file`.
    flushed: u64,
    spans: SpanSidecar,
}

impl JsonTrace {
    /// Creates `trace.json` in `dir` and writes the array opening.
    pub fn create(dir: &Path) -> RecorderResult<Self> {
        let path = dir.join("trace.json");
        let file =
            File::create(&path).map_err(|e| RecorderError::io("cannot create", &path, &e))?;
        let mut line = Vec::with_capacity(BUFFER_BYTES + 64 * 1024);
        line.push(b'[');
        Ok(JsonTrace {
            file,
            path,
            first: true,
            line,
            flushed: 0,
            spans: SpanSidecar::new(dir),
        })
    }

    /// Starts an array element: the separator before every event but the first.
    fn begin(&mut self) -> &mut Vec<u8> {
        let sep: &[u8] = if self.first { b"\n" } else { b",\n" };
        self.first = false;
        self.line.extend_from_slice(sep);
        &mut self.line
    }

    /// Ends the event just appended; writes the buffer out once it is full.
    fn end(&mut self) -> RecorderResult<()> {
        if self.line.len() >= BUFFER_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> RecorderResult<()> {
        self.file
            .write_all(&self.line)
            .map_err(|e| RecorderError::io("cannot write", &self.path, &e))?;
        self.flushed += self.line.len() as u64;
        self.line.clear();
        Ok(())
    }

    fn write_log(buf: &mut Vec<u8>, kind: EventKind, metadata: &str, content: &str) {
        buf.extend_from_slice(b"{\"Event\":{\"kind\":");
        json::push_usize(buf, kind as usize);
        buf.extend_from_slice(b",\"metadata\":");
        json::push_str(buf, metadata);
        buf.extend_from_slice(b",\"content\":");
        json::push_str(buf, content);
        buf.extend_from_slice(b"}}");
    }

    /// `{"<key>":{"<field>":<id>,"value":<value>}}`, the shape of `Value` and call arguments.
    fn write_id_value(buf: &mut Vec<u8>, head: &[u8], id: usize, value: &[u8]) {
        buf.extend_from_slice(head);
        json::push_usize(buf, id);
        buf.extend_from_slice(b",\"value\":");
        buf.extend_from_slice(value);
        buf.push(b'}');
    }
}

impl Backend for JsonTrace {
    fn path(&mut self, _id: usize, path: &str) -> RecorderResult<()> {
        let buf = self.begin();
        buf.extend_from_slice(b"{\"Path\":");
        json::push_str(buf, path);
        buf.push(b'}');
        self.end()
    }

    fn function(
        &mut self,
        _id: usize,
        path_id: usize,
        line: i64,
        name: &str,
    ) -> RecorderResult<()> {
        let buf = self.begin();
        buf.extend_from_slice(b"{\"Function\":{\"path_id\":");
        json::push_usize(buf, path_id);
        buf.extend_from_slice(b",\"line\":");
        json::push_i64(buf, line);
        buf.extend_from_slice(b",\"name\":");
        json::push_str(buf, name);
        buf.extend_from_slice(b"}}");
        self.end()
    }

    fn variable(&mut self, _id: usize, name: &str) -> RecorderResult<()> {
        let buf = self.begin();
        buf.extend_from_slice(b"{\"VariableName\":");
        json::push_str(buf, name);
        buf.push(b'}');
        self.end()
    }

    fn type_record(
        &mut self,
        _id: usize,
        kind: TypeKind,
        lang_type: &str,
        fields: Option<&[(&str, usize)]>,
    ) -> RecorderResult<()> {
        let buf = self.begin();
        buf.extend_from_slice(b"{\"Type\":{\"kind\":");
        json::push_usize(buf, kind as usize);
        buf.extend_from_slice(b",\"lang_type\":");
        json::push_str(buf, lang_type);
        match fields {
            None => buf.extend_from_slice(b",\"specific_info\":{\"kind\":\"None\"}}}"),
            Some(fields) => {
                buf.extend_from_slice(b",\"specific_info\":{\"kind\":\"Struct\",\"fields\":[");
                for (i, (name, type_id)) in fields.iter().enumerate() {
                    if i > 0 {
                        buf.push(b',');
                    }
                    buf.extend_from_slice(b"{\"name\":");
                    json::push_str(buf, name);
                    buf.extend_from_slice(b",\"type_id\":");
                    json::push_usize(buf, *type_id);
                    buf.push(b'}');
                }
                buf.extend_from_slice(b"]}}}");
            }
        }
        self.end()
    }

    fn event(&mut self, event: &TraceEvent<'_>) -> RecorderResult<()> {
        let buf = self.begin();
        match *event {
            TraceEvent::Step { path_id, line } => {
                buf.extend_from_slice(b"{\"Step\":{\"path_id\":");
                json::push_usize(buf, path_id);
                buf.extend_from_slice(b",\"line\":");
                json::push_i64(buf, line);
                buf.extend_from_slice(b"}}");
            }
            TraceEvent::Call { function_id, args } => {
                buf.extend_from_slice(b"{\"Call\":{\"function_id\":");
                json::push_usize(buf, function_id);
                buf.extend_from_slice(b",\"args\":[");
                for (i, (variable_id, value)) in args.iter().enumerate() {
                    if i > 0 {
                        buf.push(b',');
                    }
                    Self::write_id_value(buf, b"{\"variable_id\":", variable_id, value);
                }
                buf.extend_from_slice(b"]}}");
            }
            TraceEvent::Return { value } => {
                buf.extend_from_slice(b"{\"Return\":{\"return_value\":");
                buf.extend_from_slice(value);
                buf.extend_from_slice(b"}}");
            }
            TraceEvent::Value { variable_id, value } => {
                Self::write_id_value(buf, b"{\"Value\":{\"variable_id\":", variable_id, value);
                buf.push(b'}');
            }
            TraceEvent::ThreadSwitch { ident } => {
                // runtime_tracing has no thread events: a marker the reader can recognise
                Self::write_log(buf, EventKind::TraceLogEvent, "thread", &ident.to_string());
            }
            TraceEvent::Log {
                kind,
                metadata,
                content,
            } => Self::write_log(buf, kind, metadata, content),
        }
        self.end()
    }

    fn bytes_written(&self) -> u64 {
        self.flushed + self.line.len() as u64
    }

    fn span(&mut self, span: &Span) -> RecorderResult<()> {
        self.spans.write(span)
    }

    /// Closes the JSON array and flushes. (No fsync: the staging-folder rename already keeps
    /// incomplete traces out of sight, and an fsync of a large trace costs more than the rest
    /// of a short recording.)
    fn finish(&mut self, _paths: &[String]) -> RecorderResult<()> {
        self.line.extend_from_slice(b"\n]\n");
        self.flush()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::{CallArgs, Format, RecordingInfo, TraceWriter};
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ctw-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn writes_a_json_array_with_implicit_ids() {
        let dir = temp_dir("json");
        let mut w = TraceWriter::create(&dir, Format::Json, RecordingInfo::default()).unwrap();
        let p = w.path_id("/x/a.py").unwrap();
        assert_eq!(w.path_id("/x/a.py").unwrap(), p);
        let f = w.function_id(p, 1, "<toplevel>").unwrap();
        let t = w.type_id("int", TypeKind::Int, "int", None).unwrap();
        let v = format!("{{\"kind\":\"Int\",\"i\":3,\"type_id\":{t}}}").into_bytes();
        w.emit(TraceEvent::Call {
            function_id: f,
            args: &CallArgs::default(),
        })
        .unwrap();
        w.emit(TraceEvent::Step {
            path_id: p,
            line: 2,
        })
        .unwrap();
        let x = w.variable_id("x").unwrap();
        w.emit(TraceEvent::Value {
            variable_id: x,
            value: &v,
        })
        .unwrap();
        w.emit(TraceEvent::Return { value: &v }).unwrap();
        w.finish().unwrap();
        let text = std::fs::read_to_string(dir.join("trace.json")).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let events: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
        let keys: Vec<&str> = events
            .iter()
            .map(|e| e.as_object().unwrap().keys().next().unwrap().as_str())
            .collect();
        assert_eq!(
            keys,
            [
                "Path",
                "Function",
                "Type",
                "Call",
                "Step",
                "VariableName",
                "Value",
                "Return"
            ]
        );
    }

    #[test]
    fn consecutive_io_on_one_stream_is_one_event_in_place() {
        let dir = temp_dir("json-io");
        let mut w = TraceWriter::create(&dir, Format::Json, RecordingInfo::default()).unwrap();
        let p = w.path_id("/x/a.py").unwrap();
        let io = |w: &mut TraceWriter, kind, content| {
            w.emit(TraceEvent::Log {
                kind,
                metadata: "",
                content,
            })
            .unwrap()
        };
        io(&mut w, EventKind::Write, "a");
        io(&mut w, EventKind::Write, " ");
        io(&mut w, EventKind::Write, "b\n");
        io(&mut w, EventKind::WriteOther, "oops");
        w.emit(TraceEvent::Step {
            path_id: p,
            line: 3,
        })
        .unwrap();
        io(&mut w, EventKind::Write, "c");
        w.finish().unwrap();
        let text = std::fs::read_to_string(dir.join("trace.json")).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let events: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
        let shown: Vec<String> = events
            .iter()
            .map(|e| match e.get("Event") {
                Some(ev) => format!("{}:{}", ev["kind"], ev["content"].as_str().unwrap()),
                None => e.as_object().unwrap().keys().next().unwrap().clone(),
            })
            .collect();
        assert_eq!(shown, ["Path", "0:a b\n", "2:oops", "Step", "0:c"]);
        assert_eq!(w.stats.io_events, 3);
        assert_eq!(w.stats.events, 4);
    }
}
