"""Turn a finished trace folder into an index row (the seed design's ``importDbTrace`` step).

Reads ``trace_metadata.json`` and ``trace_paths.json``, takes counts from the metadata's
``stats`` (or counts ``trace.json`` when a writer left them out), sizes the folder, and copies
every recorded source file into ``files/`` (mirroring its absolute path) so the trace stays
readable after the sources change or move.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

from ct.errors import TARGET, CtError
from ct.summary import summarize

METADATA = "trace_metadata.json"
PATHS = "trace_paths.json"
EVENTS = "trace.json"
MAX_SOURCE_BYTES = 64 * 1024 * 1024


def read_json(path: Path):
    with path.open(encoding="utf-8") as fh:
        return json.load(fh)


def read_metadata(trace_dir: Path) -> dict | None:
    """The folder's metadata, or None if absent/unreadable (no complete trace)."""
    try:
        meta = read_json(Path(trace_dir) / METADATA)
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def is_complete(trace_dir: Path, meta: dict | None = None) -> bool:
    """A trace is complete when metadata names the program, the event file exists and the
    recorder did not flag it partial. (How ``ct record`` tells a recorder failure from a program
    that exits 2/10/20/70 itself: the recorder writes this metadata only for a recording that
    got as far as running the program and finishing the trace.)"""
    meta = read_metadata(trace_dir) if meta is None else meta
    return bool(
        meta and "program" in meta and (Path(trace_dir) / EVENTS).is_file() and not meta.get("partial")
    )


def _iso_utc(value) -> str | None:
    """Normalise a timestamp (ISO text or epoch seconds) to sortable ``...Z`` UTC text."""
    dt = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        dt = datetime.fromtimestamp(float(value), tz=UTC)
    elif isinstance(value, str) and value:
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if dt.tzinfo is None:
            dt = dt.astimezone()  # naive: the recorder's local time
    if dt is None:
        return None
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def folder_size(trace_dir: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(trace_dir):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def copy_sources(trace_dir: Path, paths: list, workdir: str = "") -> int:
    """Copy recorded sources into ``files/<absolute path>``; returns how many were copied.
    Relative paths are taken relative to the recording's workdir."""
    dest_root = Path(trace_dir) / "files"
    copied = 0
    for entry in paths:
        if not isinstance(entry, str) or not entry or entry.startswith("<"):
            continue  # "<string>", "<frozen ...>" and friends have no file
        if not os.path.isabs(entry):
            if not workdir:
                continue
            entry = os.path.join(workdir, entry)
        src = Path(os.path.normpath(entry))
        try:
            if not src.is_file() or src.stat().st_size > MAX_SOURCE_BYTES:
                continue
        except OSError:
            continue
        rel = Path(*src.parts[1:]) if not src.drive else Path(src.drive.strip(":\\/"), *src.parts[1:])
        dest = dest_root / rel
        if dest.exists():
            continue
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest)
            copied += 1
        except OSError:
            continue  # a source we cannot read stays unreadable; the trace itself is intact
    return copied


def build_record(trace_dir: Path, extra: dict | None = None) -> dict:
    """Read a trace folder into an index row; raise if it is not a trace folder."""
    trace_dir = Path(trace_dir).absolute()
    meta = read_metadata(trace_dir)
    if meta is None or "program" not in meta:
        raise CtError(
            f"{trace_dir} is not a trace folder ({METADATA} missing or unreadable); "
            "pass the folder `ct record` printed",
            TARGET,
        )
    try:
        paths = read_json(trace_dir / PATHS)
    except (OSError, ValueError):
        paths = []
    if not isinstance(paths, list):
        paths = []
    copy_sources(trace_dir, paths, str(meta.get("workdir") or ""))

    stats = meta.get("stats") if isinstance(meta.get("stats"), dict) else {}
    if not all(isinstance(stats.get(k), int) for k in ("steps", "calls", "events")):
        stats = {**summarize(trace_dir).stats(), **{k: v for k, v in stats.items() if v is not None}}
    python = meta.get("python") if isinstance(meta.get("python"), dict) else {}
    recorder = meta.get("recorder") if isinstance(meta.get("recorder"), dict) else {}
    args = meta.get("args")
    if isinstance(args, str):  # tolerate writers that joined them
        args = [args] if args else []
    program = str(meta.get("program"))
    if meta.get("run_as") == "module":  # shown and listed the way it was run: -m MODULE
        program = f"-m {program}"
    record = {
        "program": program,
        "args": [str(a) for a in (args or [])],
        "workdir": str(meta.get("workdir") or ""),
        "language": "python",
        "interpreter": python.get("executable"),
        "python_version": python.get("version"),
        "trace_dir": str(trace_dir),
        "recorded_at": _iso_utc(meta.get("started_at"))
        or _iso_utc((trace_dir / METADATA).stat().st_mtime),
        "duration_s": meta.get("duration_s"),
        "exit_status": meta.get("exit_status"),
        "recorder_version": recorder.get("version"),
        "steps": stats.get("steps"),
        "calls": stats.get("calls"),
        "events": stats.get("events"),
        "exceptions": stats.get("exceptions"),
        "partial": bool(meta.get("partial")),
    }
    if extra:
        record.update({k: v for k, v in extra.items() if v is not None})
    record["size_bytes"] = folder_size(trace_dir)
    return record
