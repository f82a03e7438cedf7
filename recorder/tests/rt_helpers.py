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


def record(trace_dir, target_args, **kw):
    argv = [sys.executable, "-m", "codetracer_python_recorder", "--trace-dir", str(trace_dir)]
    return run(argv + list(target_args), **kw)


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

    def locals_at(self, line):
        """Variables listed after each Step at ``line`` (one dict per visit)."""
        visits, current = [], None
        for e in self.events:
            if "Step" in e:
                current = {} if e["Step"]["line"] == line else None
                if current is not None:
                    visits.append(current)
            elif "Value" in e and current is not None:
                current[self.variables[e["Value"]["variable_id"]]] = e["Value"]["value"]
        return visits

    def log_events(self, kind):
        return [e["Event"] for e in self.events if "Event" in e and e["Event"]["kind"] == kind]

    def type_name(self, value):
        return self.types[value["type_id"]]["lang_type"]
