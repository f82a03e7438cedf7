//! Streaming writer for the runtime_tracing JSON format.
//!
//! `trace.json` is a JSON array written one event per line as events happen, through a
//! buffered file writer: memory stays bounded by the interning tables (paths, functions,
//! variable names, types), never by the length of the run. Ids are implicit in the format
//! (the n-th `Path` event defines path id n), so interning doubles as id allocation.
//!
//! [`TraceEvent`] is the recorder's event model. New kinds of records (for instance external
//! calls — HTTP, databases, queues — captured for replay) are added as variants here and
//! serialised in [`TraceWriter::emit`]; the callbacks never write JSON by hand.

pub mod bindings;
pub mod json;

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::errors::{RecorderError, RecorderResult};
use bindings::Bindings;

/// runtime_tracing `EventLogKind` numbers used by this recorder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Write = 0,
    WriteOther = 2,
    Read = 3,
    Error = 11,
    TraceLogEvent = 12,
}

impl EventKind {
    fn is_io(self) -> bool {
        matches!(
            self,
            EventKind::Write | EventKind::WriteOther | EventKind::Read
        )
    }
}

/// runtime_tracing `TypeKind` numbers used by this recorder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeKind {
    Seq = 0,
    Set = 1,
    Struct = 6,
    Int = 7,
    Float = 8,
    String = 9,
    Bool = 12,
    Raw = 16,
    Error = 24,
    FunctionKind = 25,
    TypeValue = 26,
    Tuple = 27,
    None = 30,
}

/// One record of the recorder's event model. Values arrive pre-encoded as JSON bytes.
pub enum TraceEvent<'a> {
    Step {
        path_id: usize,
        line: i64,
    },
    Call {
        function_id: usize,
        args: &'a CallArgs,
    },
    Return {
        value: &'a [u8],
    },
    Value {
        variable_id: usize,
        value: &'a [u8],
    },
    /// Binds a variable of the current call to a place (`changes` mode).
    VariableCell {
        variable_id: usize,
        place: i64,
    },
    /// A place's value from this step on.
    CellValue {
        place: i64,
        value: &'a [u8],
    },
    /// Unbinds a variable of the current call from the next step on.
    DropVariable {
        variable_id: usize,
    },
    Log {
        kind: EventKind,
        metadata: &'a str,
        content: &'a str,
    },
}

/// A call's encoded arguments, back to back in one buffer that is reused from call to call
/// (a fresh buffer per argument was most of the recorder's allocations).
#[derive(Debug, Default)]
pub struct CallArgs {
    bytes: Vec<u8>,
    /// (variable id, start, end) into `bytes`.
    spans: Vec<(usize, usize, usize)>,
}

impl CallArgs {
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.spans.clear();
    }

    /// Encodes one argument with `encode`, which appends its value's JSON to the buffer.
    pub fn push<E>(
        &mut self,
        variable_id: usize,
        encode: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
    ) -> Result<(), E> {
        let start = self.bytes.len();
        match encode(&mut self.bytes) {
            Ok(()) => {
                self.spans.push((variable_id, start, self.bytes.len()));
                Ok(())
            }
            Err(e) => {
                self.bytes.truncate(start);
                Err(e)
            }
        }
    }

    fn iter(&self) -> impl Iterator<Item = (usize, &[u8])> {
        self.spans
            .iter()
            .map(|&(vid, start, end)| (vid, self.bytes.get(start..end).unwrap_or_default()))
    }
}

/// Counts of what was written; reported in `trace_metadata.json`.
#[derive(Debug, Default, Clone, Copy)]
pub struct WriterStats {
    pub events: u64,
    pub steps: u64,
    pub calls: u64,
    pub returns: u64,
    pub values: u64,
    pub io_events: u64,
    pub exceptions: u64,
}

pub struct TraceWriter {
    file: File,
    path: PathBuf,
    first: bool,
    /// Events not yet written to `file`; each event is encoded straight into it and it is
    /// written out once it holds `BUFFER_BYTES` (no per-event copy through a `BufWriter`).
    line: Vec<u8>,
    /// Bytes already written to `file`.
    flushed: u64,
    /// Consecutive reads or writes of one stream with nothing recorded in between
    /// (`print(a, b)` writes four times) become one event; it is held here until anything
    /// else is written, so it still lands where the first of them happened.
    pending_io: Option<(EventKind, String)>,
    paths: HashMap<String, usize>,
    path_list: Vec<String>,
    functions: HashMap<(usize, i64, String), usize>,
    variables: HashMap<String, usize>,
    types: HashMap<String, usize>,
    /// What the db-backend will consider bound at each call depth.
    pub bindings: Bindings,
    pub stats: WriterStats,
}

const BUFFER_BYTES: usize = 1 << 20;
/// A held I/O event is written once its text reaches this size.
const PENDING_IO_MAX: usize = 64 * 1024;

impl TraceWriter {
    /// Creates `trace.json` in `dir` and writes the array opening.
    pub fn create(dir: &Path) -> RecorderResult<Self> {
        let path = dir.join("trace.json");
        let file =
            File::create(&path).map_err(|e| RecorderError::io("cannot create", &path, &e))?;
        let mut writer = TraceWriter {
            file,
            path,
            first: true,
            line: Vec::with_capacity(BUFFER_BYTES + 64 * 1024),
            flushed: 0,
            pending_io: None,
            paths: HashMap::new(),
            path_list: Vec::new(),
            functions: HashMap::new(),
            variables: HashMap::new(),
            types: HashMap::new(),
            bindings: Bindings::default(),
            stats: WriterStats::default(),
        };
        writer.line.push(b'[');
        Ok(writer)
    }

    /// Starts an array element: the separator before every event but the first. A held I/O
    /// event goes first.
    fn begin_event(&mut self) {
        self.write_pending_io();
        self.write_separator();
    }

    fn write_pending_io(&mut self) {
        if let Some((kind, text)) = self.pending_io.take() {
            self.write_separator();
            self.write_log(kind, "", &text);
            self.stats.events += 1;
        }
    }

    fn write_separator(&mut self) {
        let sep: &[u8] = if self.first { b"\n" } else { b",\n" };
        self.first = false;
        self.line.extend_from_slice(sep);
    }

    fn write_log(&mut self, kind: EventKind, metadata: &str, content: &str) {
        match kind {
            EventKind::Error => self.stats.exceptions += 1,
            EventKind::TraceLogEvent => {}
            _ => self.stats.io_events += 1,
        }
        let buf = &mut self.line;
        buf.extend_from_slice(b"{\"Event\":{\"kind\":");
        json::push_usize(buf, kind as usize);
        buf.extend_from_slice(b",\"metadata\":");
        json::push_str(buf, metadata);
        buf.extend_from_slice(b",\"content\":");
        json::push_str(buf, content);
        buf.extend_from_slice(b"}}");
    }

    /// Appends to the held I/O event when it is the same stream (and not already large).
    fn hold_io(&mut self, kind: EventKind, content: &str) -> RecorderResult<()> {
        if let Some((held, text)) = &mut self.pending_io {
            if *held == kind && text.len() < PENDING_IO_MAX {
                text.push_str(content);
                return Ok(());
            }
        }
        self.write_pending_io();
        self.pending_io = Some((kind, content.to_string()));
        if self.line.len() >= BUFFER_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    /// Ends the event just appended to `self.line`; writes the buffer out once it is full.
    fn end_event(&mut self) -> RecorderResult<()> {
        self.stats.events += 1;
        if self.line.len() >= BUFFER_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    pub fn emit(&mut self, event: TraceEvent<'_>) -> RecorderResult<()> {
        if let TraceEvent::Log {
            kind,
            metadata: "",
            content,
        } = event
        {
            if kind.is_io() {
                return self.hold_io(kind, content);
            }
        }
        self.begin_event();
        let buf = &mut self.line;
        match event {
            TraceEvent::Step { path_id, line } => {
                self.stats.steps += 1;
                buf.extend_from_slice(b"{\"Step\":{\"path_id\":");
                json::push_usize(buf, path_id);
                buf.extend_from_slice(b",\"line\":");
                json::push_i64(buf, line);
                buf.extend_from_slice(b"}}");
            }
            TraceEvent::Call { function_id, args } => {
                self.stats.calls += 1;
                self.bindings.on_call();
                buf.extend_from_slice(b"{\"Call\":{\"function_id\":");
                json::push_usize(buf, function_id);
                buf.extend_from_slice(b",\"args\":[");
                for (i, (variable_id, value)) in args.iter().enumerate() {
                    if i > 0 {
                        buf.push(b',');
                    }
                    buf.extend_from_slice(b"{\"variable_id\":");
                    json::push_usize(buf, variable_id);
                    buf.extend_from_slice(b",\"value\":");
                    buf.extend_from_slice(value);
                    buf.push(b'}');
                }
                buf.extend_from_slice(b"]}}");
            }
            TraceEvent::Return { value } => {
                self.stats.returns += 1;
                self.bindings.on_return();
                buf.extend_from_slice(b"{\"Return\":{\"return_value\":");
                buf.extend_from_slice(value);
                buf.extend_from_slice(b"}}");
            }
            TraceEvent::Value { variable_id, value } => {
                self.stats.values += 1;
                buf.extend_from_slice(b"{\"Value\":{\"variable_id\":");
                json::push_usize(buf, variable_id);
                buf.extend_from_slice(b",\"value\":");
                buf.extend_from_slice(value);
                buf.extend_from_slice(b"}}");
            }
            TraceEvent::VariableCell { variable_id, place } => {
                self.bindings.bind(variable_id, place);
                buf.extend_from_slice(b"{\"VariableCell\":{\"variable_id\":");
                json::push_usize(buf, variable_id);
                buf.extend_from_slice(b",\"place\":");
                json::push_i64(buf, place);
                buf.extend_from_slice(b"}}");
            }
            TraceEvent::CellValue { place, value } => {
                self.stats.values += 1;
                buf.extend_from_slice(b"{\"CellValue\":{\"place\":");
                json::push_i64(buf, place);
                buf.extend_from_slice(b",\"value\":");
                buf.extend_from_slice(value);
                buf.extend_from_slice(b"}}");
            }
            TraceEvent::DropVariable { variable_id } => {
                self.bindings.unbind(variable_id);
                buf.extend_from_slice(b"{\"DropVariable\":");
                json::push_usize(buf, variable_id);
                buf.push(b'}');
            }
            TraceEvent::Log {
                kind,
                metadata,
                content,
            } => self.write_log(kind, metadata, content),
        }
        self.end_event()
    }

    /// Id of `path`, writing a `Path` event the first time it is seen.
    pub fn path_id(&mut self, path: &str) -> RecorderResult<usize> {
        if let Some(&id) = self.paths.get(path) {
            return Ok(id);
        }
        let id = self.path_list.len();
        self.paths.insert(path.to_string(), id);
        self.path_list.push(path.to_string());
        self.begin_event();
        self.line.extend_from_slice(b"{\"Path\":");
        json::push_str(&mut self.line, path);
        self.line.push(b'}');
        self.end_event()?;
        Ok(id)
    }

    /// Id of a function, writing a `Function` event the first time it is seen.
    pub fn function_id(&mut self, path_id: usize, line: i64, name: &str) -> RecorderResult<usize> {
        let key = (path_id, line, name.to_string());
        if let Some(&id) = self.functions.get(&key) {
            return Ok(id);
        }
        let id = self.functions.len();
        self.functions.insert(key, id);
        self.begin_event();
        self.line.extend_from_slice(b"{\"Function\":{\"path_id\":");
        json::push_usize(&mut self.line, path_id);
        self.line.extend_from_slice(b",\"line\":");
        json::push_i64(&mut self.line, line);
        self.line.extend_from_slice(b",\"name\":");
        json::push_str(&mut self.line, name);
        self.line.extend_from_slice(b"}}");
        self.end_event()?;
        Ok(id)
    }

    /// Id of a variable name, writing a `VariableName` event the first time it is seen.
    pub fn variable_id(&mut self, name: &str) -> RecorderResult<usize> {
        if let Some(&id) = self.variables.get(name) {
            return Ok(id);
        }
        let id = self.variables.len();
        self.variables.insert(name.to_string(), id);
        self.begin_event();
        self.line.extend_from_slice(b"{\"VariableName\":");
        json::push_str(&mut self.line, name);
        self.line.push(b'}');
        self.end_event()?;
        Ok(id)
    }

    /// Id of a type, writing a `Type` event the first time `key` is seen.
    /// `fields` makes it a struct type (`specific_info.kind == "Struct"`).
    pub fn type_id(
        &mut self,
        key: &str,
        kind: TypeKind,
        lang_type: &str,
        fields: Option<&[(&str, usize)]>,
    ) -> RecorderResult<usize> {
        if let Some(&id) = self.types.get(key) {
            return Ok(id);
        }
        let id = self.types.len();
        self.types.insert(key.to_string(), id);
        self.begin_event();
        let buf = &mut self.line;
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
        self.end_event()?;
        Ok(id)
    }

    pub fn paths(&self) -> &[String] {
        &self.path_list
    }

    /// Bytes of `trace.json` so far, written out or still buffered.
    pub fn bytes_written(&self) -> u64 {
        self.flushed + self.line.len() as u64
    }

    /// Releases the file without writing the buffer (after `fork`, in the child).
    pub fn forget(self) {
        drop(self.file);
    }

    /// Writes the buffered events to the file.
    pub fn flush(&mut self) -> RecorderResult<()> {
        self.file
            .write_all(&self.line)
            .map_err(|e| RecorderError::io("cannot write", &self.path, &e))?;
        self.flushed += self.line.len() as u64;
        self.line.clear();
        Ok(())
    }

    /// Closes the JSON array and flushes. After this the trace is valid JSON. (No fsync: the
    /// staging-folder rename already keeps incomplete traces out of sight, and an fsync of a
    /// large trace costs more than the rest of a short recording.)
    pub fn finish(&mut self) -> RecorderResult<()> {
        self.write_pending_io();
        self.line.extend_from_slice(b"\n]\n");
        self.flush()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_valid_json_array_with_implicit_ids() {
        let dir = std::env::temp_dir().join(format!("ctw-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut w = TraceWriter::create(&dir).unwrap();
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
        let events: Vec<runtime_tracing::TraceLowLevelEvent> = serde_json::from_str(&text).unwrap();
        assert_eq!(events.len(), 8);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn consecutive_io_on_one_stream_is_one_event_in_place() {
        let dir = std::env::temp_dir().join(format!("ctw-io-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut w = TraceWriter::create(&dir).unwrap();
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
        assert_eq!(w.stats.events, 5);
    }
}
