//! The trace writer: one small interface, two backends side by side.
//!
//! [`TraceEvent`] is the recorder's event model; the runtime emits events and asks for ids
//! (paths, functions, variable names, types) without knowing which format it feeds:
//! - [`ctfs`] (the default) streams a CTFS container, `trace.ct`, in the split-stream layout
//!   today's CodeTracer opens (steps, values, calls and events as chunked zstd streams);
//! - [`json`] streams the legacy runtime_tracing `trace.json`, for debugging and tests.
//!
//! Ids are allocated here, once, for both ([`interning`]): the n-th path is path n in either
//! format. Consecutive writes to one standard stream are also merged here, so both formats
//! show `print(a, b)` as one event. Values arrive encoded as runtime_tracing `ValueRecord`s
//! in the writer's [`ValueFormat`] (JSON, or the CBOR CodeTracer decodes from `trace.ct`).
//! Spans (requests served while recording) are opened and closed here too ([`spans`]).

pub mod ctfs;
mod interning;
pub mod json;
mod span_sidecar;
pub mod spans;

use std::path::Path;

use crate::encoder::ValueFormat;
use crate::errors::RecorderResult;
use interning::{Interned, Interner};
use spans::{OpenSpans, Span, SpanStatus};

/// runtime_tracing `EventLogKind` numbers used by this recorder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Write = 0,
    WriteOther = 2,
    Read = 3,
    /// A call to an external service (dependency capture).
    Socket = 9,
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

/// The trace formats a recording can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Ctfs,
    Json,
}

impl Format {
    pub const ALLOWED: &'static [&'static str] = &["ctfs", "json"];

    /// `binary` is upstream's name for its non-JSON format, which is CTFS today.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "ctfs" | "binary" => Some(Format::Ctfs),
            "json" => Some(Format::Json),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Ctfs => "ctfs",
            Format::Json => "json",
        }
    }
}

/// One record of the recorder's event model. Values arrive encoded in the writer's
/// [`TraceWriter::value_format`].
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
    /// A visible variable's value at the step just written.
    Value {
        variable_id: usize,
        value: &'a [u8],
    },
    /// The events that follow come from another thread.
    ThreadSwitch {
        ident: u64,
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

    fn len(&self) -> usize {
        self.spans.len()
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
    /// Time spent compressing (formats that compress), to tell it from encoding in benchmarks.
    pub compress_ns: u64,
}

/// What a backend must do with ids and events; the [`TraceWriter`] calls it.
trait Backend {
    fn path(&mut self, id: usize, path: &str) -> RecorderResult<()>;
    fn function(&mut self, id: usize, path_id: usize, line: i64, name: &str) -> RecorderResult<()>;
    fn variable(&mut self, id: usize, name: &str) -> RecorderResult<()>;
    fn type_record(
        &mut self,
        id: usize,
        kind: TypeKind,
        lang_type: &str,
        fields: Option<&[(&str, usize)]>,
    ) -> RecorderResult<()>;
    fn event(&mut self, event: &TraceEvent<'_>) -> RecorderResult<()>;
    /// Lends the buffer the open step's values are written to, with the head of variable
    /// `variable_id`'s record already in it, and where the value's bytes go; `None` when the
    /// backend has no such buffer (the value is then encoded apart and sent as a `Value`).
    fn value_sink(&mut self, _variable_id: usize) -> Option<(Vec<u8>, usize)> {
        None
    }
    /// Takes back the buffer lent by [`Backend::value_sink`]: with the value's bytes from
    /// `start` on (`encoded`), or to be cut back to where the record began.
    fn value_sunk(&mut self, _buf: Vec<u8>, _start: usize, _encoded: bool) -> RecorderResult<()> {
        Ok(())
    }
    /// Span `id` opened: a backend that binds spans to steps notes where it is.
    fn span_begin(&mut self, _id: u64) -> RecorderResult<()> {
        Ok(())
    }
    /// A span closed, or was still open when the recording ended.
    fn span(&mut self, span: &Span) -> RecorderResult<()>;
    /// Bytes written so far (approximate for compressed formats).
    fn bytes_written(&self) -> u64;
    /// Completes the trace; after this it is a valid file of its format.
    fn finish(&mut self, paths: &[String]) -> RecorderResult<()>;
    /// Lets go of the files without completing them (after `fork`, in the child).
    fn abandon(self: Box<Self>) {}
    /// Nanoseconds spent compressing so far.
    fn compress_ns(&self) -> u64 {
        0
    }
}

/// What the trace is about, for formats that store it inside the trace (CTFS `meta.dat`).
#[derive(Debug, Clone, Default)]
pub struct RecordingInfo {
    pub program: String,
    pub args: Vec<String>,
    pub workdir: String,
}

/// Consecutive reads or writes of one stream with nothing recorded in between (`print(a, b)`
/// writes four times) become one event; it is held until anything else is written, so it
/// still lands where the first of them happened.
const PENDING_IO_MAX: usize = 64 * 1024;

pub struct TraceWriter {
    backend: Box<dyn Backend + Send>,
    format: Format,
    ids: Interner,
    pending_io: Option<(EventKind, String)>,
    spans: OpenSpans,
    pub stats: WriterStats,
    /// Where values are encoded for backends that lend no buffer of their own.
    value_scratch: Vec<u8>,
}

impl TraceWriter {
    /// Creates the trace file(s) of `format` in `dir`.
    pub fn create(dir: &Path, format: Format, info: RecordingInfo) -> RecorderResult<Self> {
        let backend: Box<dyn Backend + Send> = match format {
            Format::Json => Box::new(json::JsonTrace::create(dir)?),
            Format::Ctfs => Box::new(ctfs::CtfsTrace::create(dir, info)?),
        };
        Ok(TraceWriter {
            backend,
            format,
            ids: Interner::default(),
            pending_io: None,
            spans: OpenSpans::default(),
            stats: WriterStats::default(),
            value_scratch: Vec::new(),
        })
    }

    /// The byte form values must be encoded in for this writer.
    pub fn value_format(&self) -> ValueFormat {
        match self.format {
            Format::Ctfs => ValueFormat::Cbor,
            Format::Json => ValueFormat::Json,
        }
    }

    fn write_pending_io(&mut self) -> RecorderResult<()> {
        if let Some((kind, text)) = self.pending_io.take() {
            self.count(&TraceEvent::Log {
                kind,
                metadata: "",
                content: "",
            });
            self.backend.event(&TraceEvent::Log {
                kind,
                metadata: "",
                content: &text,
            })?;
        }
        Ok(())
    }

    fn count(&mut self, event: &TraceEvent<'_>) {
        let stats = &mut self.stats;
        stats.events += 1;
        match event {
            TraceEvent::Step { .. } => stats.steps += 1,
            TraceEvent::Call { .. } => stats.calls += 1,
            TraceEvent::Return { .. } => stats.returns += 1,
            TraceEvent::Value { .. } => stats.values += 1,
            TraceEvent::ThreadSwitch { .. } => {}
            TraceEvent::Log { kind, .. } => match kind {
                EventKind::Error => stats.exceptions += 1,
                EventKind::TraceLogEvent => {}
                _ => stats.io_events += 1,
            },
        }
    }

    pub fn emit(&mut self, event: TraceEvent<'_>) -> RecorderResult<()> {
        if let TraceEvent::Log {
            kind,
            metadata: "",
            content,
        } = event
        {
            if kind.is_io() {
                if let Some((held, text)) = &mut self.pending_io {
                    if *held == kind && text.len() < PENDING_IO_MAX {
                        text.push_str(content);
                        return Ok(());
                    }
                }
                self.write_pending_io()?;
                self.pending_io = Some((kind, content.to_string()));
                return Ok(());
            }
        }
        self.write_pending_io()?;
        self.count(&event);
        self.backend.event(&event)
    }

    /// A `Value` event whose bytes `encode` appends to the buffer it is given (from the
    /// start position it is given), written straight into the backend's buffer when it has
    /// one: a step's snapshot is most of a trace's raw bytes, and encoding it elsewhere first
    /// meant copying all of it once more (objects(4000): 385 MB per recording). `encode` also
    /// gets the writer, for type ids.
    pub fn emit_value_with(
        &mut self,
        variable_id: usize,
        encode: impl FnOnce(&mut TraceWriter, &mut Vec<u8>, usize) -> RecorderResult<()>,
    ) -> RecorderResult<()> {
        self.write_pending_io()?;
        let Some((mut buf, start)) = self.backend.value_sink(variable_id) else {
            let mut buf = std::mem::take(&mut self.value_scratch);
            buf.clear();
            let result = encode(self, &mut buf, 0).and_then(|()| {
                self.emit(TraceEvent::Value {
                    variable_id,
                    value: &buf,
                })
            });
            self.value_scratch = buf;
            return result;
        };
        let result = encode(self, &mut buf, start);
        self.backend.value_sunk(buf, start, result.is_ok())?;
        if result.is_ok() {
            self.count(&TraceEvent::Value {
                variable_id,
                value: &[],
            });
        }
        result
    }

    /// Id of `path`, announcing it to the backend the first time it is seen.
    pub fn path_id(&mut self, path: &str) -> RecorderResult<usize> {
        match self.ids.path(path) {
            Interned::Known(id) => Ok(id),
            Interned::New(id) => {
                self.write_pending_io()?;
                self.backend.path(id, path)?;
                Ok(id)
            }
        }
    }

    /// Id of a function, announcing it to the backend the first time it is seen.
    pub fn function_id(&mut self, path_id: usize, line: i64, name: &str) -> RecorderResult<usize> {
        match self.ids.function(path_id, line, name) {
            Interned::Known(id) => Ok(id),
            Interned::New(id) => {
                self.write_pending_io()?;
                self.backend.function(id, path_id, line, name)?;
                Ok(id)
            }
        }
    }

    /// Id of a variable name, announcing it to the backend the first time it is seen.
    pub fn variable_id(&mut self, name: &str) -> RecorderResult<usize> {
        match self.ids.variable(name) {
            Interned::Known(id) => Ok(id),
            Interned::New(id) => {
                self.write_pending_io()?;
                self.backend.variable(id, name)?;
                Ok(id)
            }
        }
    }

    /// Id of a type, announcing it the first time `key` is seen. `fields` makes it a struct
    /// type (field names and their types' ids).
    pub fn type_id(
        &mut self,
        key: &str,
        kind: TypeKind,
        lang_type: &str,
        fields: Option<&[(&str, usize)]>,
    ) -> RecorderResult<usize> {
        match self.ids.type_key(key) {
            Interned::Known(id) => Ok(id),
            Interned::New(id) => {
                self.write_pending_io()?;
                self.backend.type_record(id, kind, lang_type, fields)?;
                Ok(id)
            }
        }
    }

    /// Opens a span (`span_type` "web-request" for a request) at the current step, on the
    /// thread that wrote last; returns its id.
    pub fn span_begin(
        &mut self,
        span_type: &str,
        label: &str,
        metadata: Vec<(String, String)>,
    ) -> RecorderResult<u64> {
        let id = self
            .spans
            .begin(span_type, label, metadata, spans::wall_ns());
        self.backend.span_begin(id)?;
        Ok(id)
    }

    /// Closes span `id` with its outcome and what is known at its end; `false` if it was not
    /// open.
    pub fn span_end(
        &mut self,
        id: u64,
        status: SpanStatus,
        metadata: Vec<(String, String)>,
    ) -> RecorderResult<bool> {
        match self.spans.end(id, status, metadata, spans::wall_ns()) {
            Some(span) => {
                self.backend.span(&span)?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    pub fn paths(&self) -> &[String] {
        self.ids.paths()
    }

    /// Bytes of the trace so far.
    pub fn bytes_written(&self) -> u64 {
        self.backend.bytes_written()
    }

    /// Releases the files without completing them (after `fork`, in the child).
    pub fn forget(self) {
        self.backend.abandon();
    }

    /// Completes the trace: after this it is a valid file of its format.
    pub fn finish(&mut self) -> RecorderResult<()> {
        self.write_pending_io()?;
        for span in self.spans.drain() {
            self.backend.span(&span)?;
        }
        let paths = self.ids.paths().to_vec();
        let finished = self.backend.finish(&paths);
        self.stats.compress_ns = self.backend.compress_ns();
        finished
    }
}
