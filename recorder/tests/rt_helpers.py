"""Shared helpers: run a script with plain Python and under the recorder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
PARITY = HERE / "parity"
PROGRAMS = HERE / "programs"


def _recorder_available() -> bool:
    if sys.version_info < (3, 12):
        return False
    try:
        import codetracer_python_recorder  # noqa: F401
    except Exception:  # noqa: BLE001
        return False
    return True


requires_recorder = pytest.mark.skipif(
    not _recorder_available(),
    reason="codetracer_python_recorder is not installed in this interpreter (pip install ./recorder)",
)


def run(argv, *, cwd=None, stdin=None, env=None, timeout=120):
    merged = dict(os.environ)
    merged.pop("PYTHONPATH", None)
    merged.update(env or {})
    return subprocess.run(
        argv, cwd=cwd, input=stdin, capture_output=True, env=merged, timeout=timeout
    )


def record(trace_dir, target_args, *, format="json", **kw):
    """Records with the recorder CLI; in `format` (json: the event list `Trace` reads;
    None: the recorder's default, CODETRACER_FORMAT or trace.ct)."""
    argv = [sys.executable, "-m", "codetracer_python_recorder", "--trace-dir", str(trace_dir)]
    if format is not None:
        argv += ["--format", format]
    return run(argv + list(target_args), **kw)


def load_meta(trace_dir: Path) -> dict:
    return json.loads((trace_dir / "trace_metadata.json").read_text(encoding="utf-8"))


def load_trace(trace_dir: Path):
    events = json.loads((trace_dir / "trace.json").read_text(encoding="utf-8"))
    meta = json.loads((trace_dir / "trace_metadata.json").read_text(encoding="utf-8"))
    return events, meta


class Trace:
    """Resolves the implicit ids of a runtime_tracing event list for assertions."""

    def __init__(self, events):
        self.events = events
        self.paths, self.functions, self.variables, self.types = [], [], [], []
        for e in events:
            (kind, body), = e.items()
            if kind == "Path":
                self.paths.append(body)
            elif kind == "Function":
                self.functions.append(body)
            elif kind == "VariableName":
                self.variables.append(body)
            elif kind == "Type":
                self.types.append(body)

    def calls(self, name):
        return [
            e["Call"] for e in self.events
            if "Call" in e and self.functions[e["Call"]["function_id"]]["name"] == name
        ]

    def call_args(self, name):
        return [
            {self.variables[a["variable_id"]]: a["value"] for a in c["args"]} for c in self.calls(name)
        ]

    def returns_of(self, name):
        """Return values of calls to ``name`` (matching calls and returns by depth)."""
        out, stack = [], []
        for e in self.events:
            if "Call" in e:
                stack.append(self.functions[e["Call"]["function_id"]]["name"])
            elif "Return" in e:
                if stack.pop() == name:
                    out.append(e["Return"]["return_value"])
        return out

    def named(self, value):
        """`value` with type ids replaced by type names (ids follow first-encounter order)."""
        if isinstance(value, dict):
            return {k: (self.types[v]["lang_type"] if k == "type_id" else self.named(v))
                    for k, v in value.items()}
        if isinstance(value, list):
            return [self.named(v) for v in value]
        return value

    def shown(self):
        """Everything the db-backend shows: each step's variables (`step_views`) and every
        other event but the variable cells, with type names for type ids."""
        cells = ("VariableCell", "CellValue", "DropVariable", "Step", "Value", "Type")
        steps = [(step, self.named(view)) for step, view in self.step_views()]
        others = [self.named(e) for e in self.events if next(iter(e)) not in cells]
        # thread switches name the thread's ident, which differs from run to run (and a
        # finished thread's ident can come back for the next one): compare where they are
        for e in others:
            body = e.get("Event")
            if body and body.get("metadata") == "thread":
                body["content"] = "<thread ident>"
        return steps, others

    def step_views(self):
        """(step, {name: value}) per Step: what CodeTracer's db-backend shows at each step.

        Models its reading of both step-value modes: `Value` events after a step (full), and
        variable cells (changes), where each call depth keeps its bindings from step to step,
        a `Call` clears the depth it enters, `DropVariable` unbinds from the next step on, and
        a bound place shows its latest `CellValue` up to that step.
        """
        views, levels, cells = [], [], {}
        depth, current = 0, None

        def close():
            if current is not None:
                step, values, binds = current
                view = dict(values)
                for vid, place in binds.items():
                    view[self.variables[vid]] = cells.get(place)
                views.append((step, view))

        for e in self.events:
            (kind, body), = e.items()
            if kind == "Step":
                close()
                current = (body, {}, dict(levels[depth - 1]) if depth else {})
            elif kind == "Call":
                depth += 1
                levels[depth - 1:] = [{}]
            elif kind == "Return":
                depth -= 1
            elif kind == "Value" and current is not None:
                current[1][self.variables[body["variable_id"]]] = body["value"]
            elif kind == "VariableCell":
                levels[depth - 1][body["variable_id"]] = body["place"]
                if current is not None:
                    current[2][body["variable_id"]] = body["place"]
            elif kind == "DropVariable":
                levels[depth - 1].pop(body, None)
            elif kind == "CellValue":
                cells[body["place"]] = body["value"]
        close()
        return views

    def locals_at(self, line):
        """Variables shown at each Step at ``line`` (one dict per visit)."""
        return [view for step, view in self.step_views() if step["line"] == line]

    def log_events(self, kind):
        return [e["Event"] for e in self.events if "Event" in e and e["Event"]["kind"] == kind]

    def type_name(self, value):
        return self.types[value["type_id"]]["lang_type"]
