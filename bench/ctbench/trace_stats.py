"""Size and event counts of a trace folder: `trace.ct` (ours by default) or `trace.json`.

A `trace.ct`'s counts come from the recorder's `trace_metadata.json`, which records them.

trace.json can be gigabytes (upstream), so events are counted by streaming the file through a
regex for the variant keys (`{"Step":` ...) instead of json.load. A user string containing such
text is escaped (`{\\"Step\\"`) and cannot match.
"""
from __future__ import annotations

import re
from pathlib import Path

VARIANTS = (
    "Path", "Function", "Step", "Call", "Return", "VariableName", "Value", "Type", "Event",
    "Asm", "BindVariable", "Assignment", "DropVariables", "CompoundValue", "CellValue",
    "AssignCompoundItem", "AssignCell", "VariableCell", "DropVariable", "DropLastStep",
    "ThreadStart", "ThreadExit", "ThreadSwitch",
)
_EVENT = re.compile(rb'\{\s{0,8}"(' + b"|".join(v.encode() for v in VARIANTS) + rb')"\s{0,8}:')
_OVERLAP = 64
_CHUNK = 8 << 20


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def count_events(trace_json: Path) -> dict[str, int]:
    """Occurrences of each event variant in `trace_json`, streamed in chunks."""
    counts: dict[str, int] = {}
    tail = b""
    with trace_json.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            buf = tail + chunk
            for m in _EVENT.finditer(buf):
                if m.end() > len(tail):  # matches ending inside `tail` were counted already
                    key = m.group(1).decode()
                    counts[key] = counts.get(key, 0) + 1
            tail = buf[-_OVERLAP:]
    return counts


def trace_stats(folder: Path) -> dict:
    """Bytes of the folder and of its trace file, steps and total events; partial when absent."""
    container = folder / "trace.ct"
    if container.exists():
        import json

        stats = {}
        try:
            meta = json.loads((folder / "trace_metadata.json").read_text(encoding="utf-8"))
            stats = meta.get("stats") or {}
        except (OSError, ValueError):
            pass
        return {"folder_bytes": folder_bytes(folder), "trace_bytes": container.stat().st_size,
                "steps": stats.get("steps"), "events": stats.get("events"), "format": "ctfs"}
    trace_json = folder / "trace.json"
    if not trace_json.exists():
        return {"folder_bytes": folder_bytes(folder) if folder.exists() else 0,
                "trace_bytes": None, "steps": None, "events": None}
    counts = count_events(trace_json)
    return {
        "folder_bytes": folder_bytes(folder),
        "trace_bytes": trace_json.stat().st_size,
        "steps": counts.get("Step", 0),
        "events": sum(counts.values()),
        "event_counts": counts,
    }
