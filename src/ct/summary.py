"""Count a trace's events and rank its functions by calls, for either layout, cheaply.

* ``trace.ct`` (CTFS): counts come from the container's streams (``ct.ctfs``), which decode
  only what they must: the last chunk for step and call counts, the calls stream for the
  function ranking (one varint per call; past ``SAMPLE_CHUNKS`` chunks, an even sample scaled
  to the whole, marked ``estimated``).
* ``trace.json``: the recorder writes one compact event per line, so a large file is scanned
  in big blocks with byte searches (``Call`` function ids by regex, ``Function`` lines decoded);
  a file laid out otherwise falls back to a line-by-line scan, small files to ``json.load``.
  The ranking is cached in ``ct_summary.json`` beside the trace (keyed on the file's size and
  mtime), so only the first ``ct show`` of a multi-GB JSON trace pays for the scan.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path

from ct import ctfs

SMALL_TRACE_BYTES = 8 * 1024 * 1024
#: calls.dat chunks (256 calls each) ranked at most; a longer stream is sampled evenly
SAMPLE_CHUNKS = 2000
BLOCK_BYTES = 32 * 1024 * 1024
CACHE = "ct_summary.json"
METADATA = "trace_metadata.json"
JSON_EVENTS = "trace.json"
CALL_ID = re.compile(rb'\n\{"Call":\{"function_id":(\d+)')
FUNCTION_LINE = re.compile(rb'\n(\{"Function":\{[^\n]*\})')


def layout(trace_dir: Path, meta: dict | None = None) -> str | None:
    """``"ctfs"``, ``"json"`` or None: which event data the folder holds. When both are
    there the recorder's ``format`` in ``trace_metadata.json`` decides, else ``trace.ct``."""
    folder = Path(trace_dir)
    has_json = (folder / JSON_EVENTS).is_file()
    has_ct = ctfs.find_container(folder) is not None
    if has_json and has_ct:
        if meta is None:
            try:
                meta = json.loads((folder / METADATA).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                meta = {}
        return "json" if isinstance(meta, dict) and meta.get("format") == "json" else "ctfs"
    return "ctfs" if has_ct else "json" if has_json else None


class Summary:
    def __init__(self) -> None:
        self.functions: list[dict] = []  # id -> {"name", "path_id", "line"}
        self.calls: Counter[int] = Counter()
        self.counts: Counter[str] = Counter()  # event kind -> number
        self.estimated = False  # call counts scaled up from a sample of the calls stream

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
            out.append({"name": fn.get("name", f"#{fid}"), "path": path, "line": fn.get("line"),
                        "calls": n})
            if self.estimated:
                out[-1]["estimated"] = True
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


def _scan_blocks(path: Path, summary: Summary) -> bool:
    """Block pass over the recorder's compact layout (``[`` then one ``{"Kind":...}`` per line);
    returns False, having counted nothing, when the file is laid out any other way."""
    counts: Counter[str] = Counter()
    calls: Counter[int] = Counter()
    functions: list[dict] = []
    total = 0

    def take(data: bytes) -> bool:  # complete lines, each preceded by its newline
        nonlocal total
        ids = CALL_ID.findall(data)
        if data.count(b'\n{"Call"') != len(ids):
            return False  # Call events not in the compact form this pass reads
        calls.update(map(int, ids))
        for raw in FUNCTION_LINE.findall(data):
            try:
                functions.append(json.loads(raw)["Function"])
            except (ValueError, KeyError):
                return False
        total += data.count(b"\n{")
        counts["Call"] += len(ids)
        for kind in ("Function", "Step", "Return"):
            counts[kind] += data.count(b'\n{"' + kind.encode() + b'"')
        return True

    with path.open("rb") as fh:
        if fh.read(2) != b"[\n":
            return False
        pending = b"\n"
        while block := fh.read(BLOCK_BYTES):
            cut = block.rfind(b"\n")
            if cut < 0:
                pending += block
                continue
            if not take(pending + block[:cut]):
                return False
            pending = block[cut:]
        if not take(pending) or pending.strip() not in (b"]", b""):
            return False
    if len(functions) != counts["Function"]:
        return False
    counts["other"] = total - sum(counts.values())
    summary.counts, summary.calls, summary.functions = counts, calls, functions
    return True


def summarize_json(path: Path) -> Summary:
    """Summarise a ``trace.json`` (empty summary when the file is missing or unreadable)."""
    summary = Summary()
    if not path.is_file():
        return summary
    if path.stat().st_size > SMALL_TRACE_BYTES:
        if _scan_blocks(path, summary):
            return summary
        summary = Summary()
        if _scan_lines(path, summary):
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


def summarize_ctfs(path: Path) -> Summary:
    """Summarise a ``trace.ct``: names from funcs.dat, counts from the streams."""
    summary = Summary()
    with ctfs.open_trace(path) as trace:
        ranked = trace.function_calls(max_chunks=SAMPLE_CHUNKS)
        summary.estimated = trace.sampled
        summary.functions = [{"name": name} for name in ranked]
        summary.calls = Counter({i: n for i, n in enumerate(ranked.values())})
        summary.counts.update({"Step": trace.steps() or 0, "Call": trace.calls() or 0})
    return summary


def summarize(trace_dir: Path) -> Summary:
    """Summarise the folder's event data, whichever layout (empty when there is none)."""
    folder = Path(trace_dir)
    kind = layout(folder)
    if kind == "ctfs":
        try:
            return summarize_ctfs(ctfs.find_container(folder))
        except ctfs.CtfsError:
            return Summary()
    return summarize_json(folder / JSON_EVENTS)


def top_functions(trace_dir: Path, paths: list[str], limit: int = 10) -> list[dict]:
    """The ranking ``ct show`` prints, from ``ct_summary.json`` when it matches the trace."""
    folder = Path(trace_dir)
    kind = layout(folder)
    if kind is None:
        return []
    source = ctfs.find_container(folder) if kind == "ctfs" else folder / JSON_EVENTS
    try:
        st = os.stat(source)
    except OSError:
        return []
    key = {"file": source.name, "size": st.st_size, "mtime_ns": st.st_mtime_ns, "limit": limit}
    try:
        cached = json.loads((folder / CACHE).read_text(encoding="utf-8"))
        if cached.get("key") == key:
            return cached["top_functions"]
    except (OSError, ValueError, AttributeError, KeyError):
        pass
    top = summarize(folder).top_functions(paths, limit)
    if st.st_size > SMALL_TRACE_BYTES:  # only worth a file when the scan was slow
        try:
            (folder / CACHE).write_text(json.dumps({"key": key, "top_functions": top}),
                                        encoding="utf-8")
        except OSError:
            pass  # a read-only trace folder: just scan again next time
    return top
