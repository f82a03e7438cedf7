//! The `sys.monitoring` side: claiming a tool id, the event set, installing and removing the
//! callback table. Nothing here knows about traces; see `runtime` for what callbacks do.

pub mod callbacks;

use pyo3::prelude::*;
use pyo3::types::PyCFunction;

use crate::errors::{ErrorCode, RecorderError};

/// The tool name shown by `sys.monitoring.get_tool(id)`.
pub const TOOL_NAME: &str = "codetracer";

/// Ids tried in order: the unnamed ones first, then the named slots the program is least
/// likely to want for itself (optimizer, profiler, coverage), the debugger's last, so a
/// program that starts its own debugger, cProfile or coverage still can.
const PREFERRED_TOOL_IDS: [u8; 6] = [3, 4, 5, 2, 1, 0];

/// `sys.monitoring.events` bits this recorder subscribes to.
#[derive(Debug, Clone, Copy)]
pub struct EventSet {
    pub py_start: i32,
    pub py_resume: i32,
    pub py_return: i32,
    pub py_yield: i32,
    pub py_throw: i32,
    pub py_unwind: i32,
    pub line: i32,
    pub raise: i32,
    pub reraise: i32,
    pub exception_handled: i32,
}

impl EventSet {
    fn load(events: &Bound<'_, PyAny>) -> PyResult<Self> {
        let get = |name: &str| -> PyResult<i32> { events.getattr(name)?.extract() };
        Ok(EventSet {
            py_start: get("PY_START")?,
            py_resume: get("PY_RESUME")?,
            py_return: get("PY_RETURN")?,
            py_yield: get("PY_YIELD")?,
            py_throw: get("PY_THROW")?,
            py_unwind: get("PY_UNWIND")?,
            line: get("LINE")?,
            raise: get("RAISE")?,
            reraise: get("RERAISE")?,
            exception_handled: get("EXCEPTION_HANDLED")?,
        })
    }

    /// Events on for all code: starts (to find the code to record) and the events that
    /// `sys.monitoring` cannot switch on per code object.
    pub fn global_mask(&self) -> i32 {
        self.py_start
            | self.py_throw
            | self.py_unwind
            | self.raise
            | self.reraise
            | self.exception_handled
    }

    /// Events on only for recorded code, so other code is never instrumented for them: a
    /// LINE event costs CPython a line-table scan even when the callback returns DISABLE,
    /// which made importing a large module quadratic in its length.
    pub fn local_mask(&self) -> i32 {
        self.py_resume | self.py_return | self.py_yield | self.line
    }
}

/// A claimed tool id with the callback table installed.
pub struct Installation {
    pub tool_id: u8,
    pub events: EventSet,
    pub disable: Py<PyAny>,
    monitoring: Py<PyAny>,
}

/// Claims a free tool id, registers the Rust callbacks and enables the events. A failing
/// `sys.monitoring` call is a [`RecorderError`] (`ERR_PYTHON`), never a bare `PyErr`.
pub fn install(py: Python<'_>) -> Result<Installation, RecorderError> {
    install_callbacks(py).map_err(|err| match err {
        Installing::Recorder(err) => err,
        Installing::Python(err) => {
            RecorderError::python("cannot install the sys.monitoring callbacks", &err)
        }
    })
}

/// Why [`install_callbacks`] stopped: our own error, or a Python call that raised.
enum Installing {
    Recorder(RecorderError),
    Python(PyErr),
}

impl From<PyErr> for Installing {
    fn from(err: PyErr) -> Self {
        Installing::Python(err)
    }
}

impl From<RecorderError> for Installing {
    fn from(err: RecorderError) -> Self {
        Installing::Recorder(err)
    }
}

fn install_callbacks(py: Python<'_>) -> Result<Installation, Installing> {
    let sys = py.import("sys")?;
    let monitoring = sys.getattr("monitoring")?;
    let events = EventSet::load(&monitoring.getattr("events")?)?;
    let mut claimed = None;
    for id in PREFERRED_TOOL_IDS {
        if monitoring.call_method1("get_tool", (id,))?.is_none()
            && monitoring
                .call_method1("use_tool_id", (id, TOOL_NAME))
                .is_ok()
        {
            claimed = Some(id);
            break;
        }
    }
    let tool_id = claimed.ok_or_else(|| {
        RecorderError::new(
            ErrorCode::NoToolId,
            "every sys.monitoring tool id (0-5) is taken by other tools; stop a debugger, profiler or coverage tool and retry",
        )
    })?;
    let disable = match monitoring.getattr("DISABLE") {
        Ok(disable) => disable.unbind(),
        Err(err) => {
            let _ = monitoring.call_method1("free_tool_id", (tool_id,));
            return Err(err.into());
        }
    };
    let installation = Installation {
        tool_id,
        events,
        disable,
        monitoring: monitoring.clone().unbind(),
    };
    match register_all(py, &monitoring, tool_id, events) {
        Ok(()) => Ok(installation),
        Err(err) => {
            // give the tool id back with nothing of ours left registered, so a later start
            // (or another tool) finds sys.monitoring as it was
            let _ = installation.uninstall(py, std::iter::empty());
            Err(err.into())
        }
    }
}

fn register_all(
    py: Python<'_>,
    monitoring: &Bound<'_, PyAny>,
    tool_id: u8,
    events: EventSet,
) -> PyResult<()> {
    let table: [(i32, Bound<'_, PyCFunction>); 10] = [
        (events.py_start, callbacks::py_start_fn(py)?),
        (events.py_resume, callbacks::py_resume_fn(py)?),
        (events.py_return, callbacks::py_return_fn(py)?),
        (events.py_yield, callbacks::py_yield_fn(py)?),
        (events.py_throw, callbacks::py_throw_fn(py)?),
        (events.py_unwind, callbacks::py_unwind_fn(py)?),
        (events.line, callbacks::line_fn(py)?),
        (events.raise, callbacks::raise_fn(py)?),
        (events.reraise, callbacks::reraise_fn(py)?),
        (
            events.exception_handled,
            callbacks::exception_handled_fn(py)?,
        ),
    ];
    for (event, func) in table {
        monitoring.call_method1("register_callback", (tool_id, event, func))?;
    }
    monitoring.call_method1("set_events", (tool_id, events.global_mask()))?;
    Ok(())
}

impl Installation {
    /// Turns the per-code events on for `code`, which is to be recorded.
    pub fn watch(&self, code: &Bound<'_, PyAny>) -> PyResult<()> {
        self.monitoring.bind(code.py()).call_method1(
            "set_local_events",
            (self.tool_id, code, self.events.local_mask()),
        )?;
        Ok(())
    }

    /// Turns every event off (also on the `watched` code objects), unregisters the callbacks
    /// and frees the tool id.
    pub fn uninstall<'a>(
        &self,
        py: Python<'_>,
        watched: impl Iterator<Item = &'a Py<PyAny>>,
    ) -> PyResult<()> {
        let monitoring = self.monitoring.bind(py);
        // One code object that cannot be reset must not keep the callbacks installed.
        let mut first_error = None;
        for code in watched {
            let reset =
                monitoring.call_method1("set_local_events", (self.tool_id, code.bind(py), 0));
            if let Err(err) = reset {
                first_error.get_or_insert(err);
            }
        }
        monitoring.call_method1("set_events", (self.tool_id, 0))?;
        let events = self.events;
        for event in [
            events.py_start,
            events.py_resume,
            events.py_return,
            events.py_yield,
            events.py_throw,
            events.py_unwind,
            events.line,
            events.raise,
            events.reraise,
            events.exception_handled,
        ] {
            monitoring.call_method1("register_callback", (self.tool_id, event, py.None()))?;
        }
        // Locations disabled with DISABLE stay disabled for the tool until restarted.
        monitoring.call_method0("restart_events")?;
        monitoring.call_method1("free_tool_id", (self.tool_id,))?;
        first_error.map_or(Ok(()), Err)
    }
}
