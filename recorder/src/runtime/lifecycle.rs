//! Starting, failing, finishing and abandoning a recording.

use pyo3::prelude::*;
use std::sync::atomic::Ordering;

use super::frames::ThreadStacks;
use super::{Finished, RuntimeTracer, TracerConfig, CALLBACKS, DROPPED_EVENTS};
use crate::encoder::ValueEncoder;
use crate::errors::{RecorderError, RecorderResult};
use crate::fast_hash::FastMap;
use crate::logging::{Counter, Metrics};
use crate::monitoring;
use crate::trace_writer::{CallArgs, EventKind, TraceEvent, TraceWriter};

impl RuntimeTracer {
    pub fn start(
        py: Python<'_>,
        writer: TraceWriter,
        config: TracerConfig,
        program: &str,
    ) -> PyResult<Self> {
        let encoder = ValueEncoder::new(py, config.caps, writer.value_format())?;
        let mut writer = writer;
        // The starting thread is the first current one, named to the writer so it can tell
        // this thread's calls from those of threads that start later.
        let mut stacks = ThreadStacks::default();
        let ident = unsafe { pyo3::ffi::PyThread_get_thread_ident() } as u64;
        stacks.switch_to(ident);
        writer.emit(TraceEvent::ThreadSwitch { ident })?;
        let path_id = writer.path_id(program)?;
        let toplevel_function = writer.function_id(path_id, 1, "<toplevel>")?;
        writer.emit(TraceEvent::Call {
            function_id: toplevel_function,
            args: &CallArgs::default(),
        })?;
        let activated = config.activation_path.is_none();
        let filter_summary = config.filters.summary();
        let install = monitoring::install(py)?;
        Ok(RuntimeTracer {
            install,
            writer,
            encoder,
            config,
            codes: FastMap::default(),
            stacks,
            activated,
            names: FastMap::default(),
            value_cache: Vec::new(),
            name_actions: FastMap::default(),
            filter_summary,
            locals: super::locals::LocalsSource::for_interpreter(py),
            step_vars: Vec::new(),
            name_scratch: Vec::new(),
            param_scratch: Vec::new(),
            call_args: CallArgs::default(),
            scratch: Vec::with_capacity(4096),
            metrics: Metrics::new(),
            failure: None,
        })
    }

    /// Turns every event off, including the per-code ones on recorded code.
    fn uninstall(&self, py: Python<'_>) -> PyResult<()> {
        let watched = self.codes.values().filter(|e| e.traced).map(|e| &e.code);
        self.install.uninstall(py, watched)
    }

    /// Detaches after an error; the error is returned so `abort` can raise it.
    pub(super) fn fail(&mut self, py: Python<'_>, err: RecorderError) -> PyErr {
        self.metrics.incr(Counter::Detaches);
        crate::logging::global::log(
            crate::logging::Level::Error,
            Some(err.code.as_str()),
            &format!("recorder detached: {}", err.message),
        );
        let _ = self.uninstall(py);
        self.failure = Some(err.clone());
        err.into()
    }

    /// Detaches from `sys.monitoring`, balances every open call, returns `<toplevel>` with
    /// `exit_status` and closes the trace. Returns the writer's stats and the recorded paths.
    pub fn finish(mut self, py: Python<'_>, exit_status: i64) -> RecorderResult<Finished> {
        if self.failure.is_none() {
            let _ = self.uninstall(py);
        }
        for _ in 0..self.stacks.open_frames() {
            self.scratch.clear();
            self.encoder
                .encode_none(&mut self.writer, &mut self.scratch)?;
            self.writer.emit(TraceEvent::Return {
                value: &self.scratch,
            })?;
        }
        self.scratch.clear();
        self.encoder
            .encode_i64(&mut self.writer, exit_status, &mut self.scratch)?;
        self.writer.emit(TraceEvent::Return {
            value: &self.scratch,
        })?;
        if let Some(failure) = &self.failure {
            // a trace kept with --keep-partial-trace says so itself, not only in its sidecar
            let content = format!("partial trace: {}", failure.message);
            self.writer.emit(TraceEvent::Log {
                kind: EventKind::Error,
                metadata: failure.code.as_str(),
                content: &content,
            })?;
        }
        self.writer.finish()?;
        let (redactions, drops) = self.encoder.take_attr_counts();
        self.filter_summary.redactions += redactions;
        self.filter_summary.drops += drops;
        Ok(Finished {
            stats: self.writer.stats,
            paths: self.writer.paths().to_vec(),
            diagnostics: {
                self.metrics.add(
                    Counter::DroppedEvents,
                    DROPPED_EVENTS.swap(0, Ordering::Relaxed),
                );
                self.metrics
                    .add(Counter::CaughtPanics, crate::ffi_guard::caught_panics());
                self.metrics.snapshot()
            },
            callbacks: CALLBACKS.swap(0, Ordering::Relaxed),
            truncated_values: self.encoder.truncations(),
            filters: self.filter_summary,
        })
    }

    /// Detaches without flushing: the buffered events are the parent process's to write.
    pub fn abandon(self, py: Python<'_>) {
        if self.failure.is_none() {
            let _ = self.uninstall(py);
        }
        self.writer.forget();
    }
}
