"""Stream over ``trace.json`` to count events and rank functions by calls.

The recorder writes one event per line inside a JSON array, so for large traces a line-by-line
scan keeps memory flat (only ``Function`` and ``Call`` lines are decoded). Small traces, or a
file not laid out one event per line, are decoded whole with ``json.load``.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

SMALL_TRACE_BYTES = 8 * 1024 * 1024


class Summary:
    def __init__(self) -> None:
        self.functions: list[dict] = []  # id -> {"name", "path_id", "line"}
        self.calls: Counter[int] = Counter()
        self.counts: Counter[str] = Counter()  # event kind -> number

    def add(self, event: dict) -> None:
        kind = next(iter(event), "")
        self.counts[kind] += 1
        if kind == "Function":
            self.functions.append(event[kind])
        elif kind == "Call":
            self.calls[int(event[kind].get("function_id", -1))] += 1

    def top_functions(self, paths: list[str], limit: int = 10) -> list[dict]:
        out = []
        for fid, n in self.calls.most_common(limit):
            fn = self.functions[fid] if 0 <= fid < len(self.functions) else {}
            pid = fn.get("path_id")
            path = paths[pid] if isinstance(pid, int) and 0 <= pid < len(paths) else None
            out.append({"name": fn.get("name", f"#{fid}"), "path": path, "line": fn.get("line"), "calls": n})
        return out

    def stats(self) -> dict:
        c = self.counts
        return {
            "steps": c["Step"], "calls": c["Call"], "returns": c["Return"],
            "events": sum(c.values()),
        }


def _scan_lines(path: Path, summary: Summary) -> bool:
    """Line-oriented pass; returns False if a line is not one whole event."""
    with path.open("rb") as fh:
        for raw in fh:
            line = raw.strip()
            if line.startswith(b"["):  # array opening, maybe with the first event
                line = line[1:].lstrip()
            if line.endswith(b","):
                line = line[:-1].rstrip()
            if line.endswith(b"]"):  # an event is an object, so "]" closes the array
                line = line[:-1].rstrip()
            if not line:
                continue
            if not (line.startswith(b'{"') and line.endswith(b"}")):
                return False
            if line.startswith((b'{"Function"', b'{"Call"')):
                try:
                    summary.add(json.loads(line))
                except ValueError:
                    return False
            else:
                # Only the variant name is needed: {"Kind": ...}
                end = line.find(b'"', 2)
                if line[1:2] != b'"' or end < 0:
                    return False
                summary.counts[line[2:end].decode("utf-8", "replace")] += 1
    return True


def summarize(trace_dir: Path) -> Summary:
    """Summarise ``trace_dir/trace.json`` (empty summary when the file is missing)."""
    path = Path(trace_dir) / "trace.json"
    summary = Summary()
    if not path.is_file():
        return summary
    # Small files: decode whole (robust to any layout). Large ones: stream line by line.
    if path.stat().st_size > SMALL_TRACE_BYTES and _scan_lines(path, summary):
        return summary
    summary = Summary()
    with path.open("rb") as fh:
        try:
            events = json.load(fh)
        except ValueError:
            return summary
    for event in events if isinstance(events, list) else []:
        if isinstance(event, dict) and event:
            summary.add(event)
    return summary
