"""Turn a finished trace folder into an index row (the seed design's ``importDbTrace`` step).

Two layouts. ``trace.ct`` (CTFS): program, args, workdir and source paths come from the
container's ``meta.dat`` (what CodeTracer itself reads), the rest from our
``trace_metadata.json`` sidecar when there is one; a container from another recorder, with no
sidecar, is imported too (exit status unknown). ``trace.json``: everything from
``trace_metadata.json`` and ``trace_paths.json``. Counts come from the sidecar's ``stats``,
else from the trace itself. The folder is sized, and every recorded source file is copied into
``files/`` (mirroring its absolute path) so the trace stays readable after the sources change.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

from ct import ctfs
from ct.errors import ENVIRONMENT, TARGET, CtError
from ct.summary import layout, summarize

METADATA = "trace_metadata.json"
PATHS = "trace_paths.json"
EVENTS = "trace.json"
CONTAINER = "trace.ct"
MAX_SOURCE_BYTES = 64 * 1024 * 1024


def read_json(path: Path):
    with path.open(encoding="utf-8") as fh:
        return json.load(fh)


def _sidecar(trace_dir: Path) -> dict | None:
    try:
        meta = read_json(Path(trace_dir) / METADATA)
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def read_metadata(trace_dir: Path) -> dict | None:
    """The recorder's ``trace_metadata.json``, or None if absent/unreadable (no finished
    recording). For a ``trace.ct`` folder, program/args/workdir it lacks come from meta.dat."""
    meta = _sidecar(trace_dir)
    if meta is not None and layout(trace_dir, meta) == "ctfs" and not all(
            k in meta for k in ("program", "args", "workdir")):
        try:
            with ctfs.open_trace(trace_dir) as trace:
                found = trace.meta
            meta = {"program": found.program, "args": found.args, "workdir": found.workdir,
                    **meta}
        except ctfs.CtfsError:
            pass  # is_complete and build_record say why
    return meta


def is_trace_folder(trace_dir: Path) -> bool:
    """Whether ``trace_dir`` looks like a recording of either layout (for ``--rebuild``)."""
    folder = Path(trace_dir)
    return (folder / METADATA).is_file() or ctfs.find_container(folder) is not None


def is_complete(trace_dir: Path, meta: dict | None = None) -> bool:
    """A trace is complete when metadata names the program, the event data is there (a
    ``trace.ct`` that CodeTracer would open, or ``trace.json``) and the recorder did not flag
    it partial. (How ``ct record`` tells a recorder failure from a program that exits
    2/10/20/70 itself: the recorder writes this metadata only for a recording that got as far
    as running the program and finishing the trace.)"""
    meta = read_metadata(trace_dir) if meta is None else meta
    if not meta or "program" not in meta or meta.get("partial"):
        return False
    kind = layout(trace_dir, meta)
    if kind == "ctfs":
        try:
            ctfs.open_trace(trace_dir).close()
        except ctfs.CtfsError:
            return False
        return True
    return kind == "json"


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
    Relative paths are taken relative to the recording's workdir. A source that cannot be
    read is skipped (the trace itself is intact); one that cannot be written (disk full) is
    an error: each copy goes to a temporary name and is renamed into place only once
    complete, so ``files/`` never holds a cut-short copy."""
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
            reader = src.open("rb")
        except OSError:
            continue  # a source we cannot read stays unreadable; the trace itself is intact
        rel = Path(*src.parts[1:]) if not src.drive else Path(src.drive.strip(":\\/"), *src.parts[1:])
        dest = dest_root / rel
        with reader:
            if dest.exists():
                continue
            tmp = dest.with_name(f".{dest.name}.copy-{os.getpid()}")
            try:
                dest.parent.mkdir(parents=True, exist_ok=True)
                with tmp.open("wb") as writer:
                    shutil.copyfileobj(reader, writer, 1024 * 1024)
                shutil.copystat(src, tmp)
                os.replace(tmp, dest)
            except OSError as exc:
                with contextlib.suppress(OSError):
                    tmp.unlink()
                _prune_empty(dest.parent, Path(trace_dir))
                raise CtError(
                    f"cannot copy the source {src} into {dest_root} ({exc.strerror or exc}); "
                    "free space on that disk and import the trace folder again",
                    ENVIRONMENT,
                ) from None
        copied += 1
    return copied


def _prune_empty(folder: Path, stop: Path) -> None:
    """Remove the empty folders a failed copy made, up to (not including) ``stop``."""
    while folder != stop and stop in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def build_record(trace_dir: Path, extra: dict | None = None) -> dict:
    """Read a trace folder of either layout into an index row; raise if it holds no trace."""
    trace_dir = Path(trace_dir).absolute()
    meta = _sidecar(trace_dir)
    kind = layout(trace_dir, meta)
    if kind == "ctfs":
        meta, paths, counts = _from_container(trace_dir, meta)
    elif kind == "json" and meta is not None and "program" in meta:
        paths, counts = _json_paths(trace_dir), None
    else:
        what = f"{METADATA} missing or unreadable" if kind == "json" else \
            f"no {CONTAINER} or {EVENTS}"
        raise CtError(f"{trace_dir} is not a trace folder ({what}); "
                      "pass the folder `ct record` printed", TARGET)
    copy_sources(trace_dir, paths, str(meta.get("workdir") or ""))

    stats = meta.get("stats") if isinstance(meta.get("stats"), dict) else {}
    if not all(isinstance(stats.get(k), int) for k in ("steps", "calls", "events")):
        found = counts() if counts else summarize(trace_dir).stats()
        stats = {**found, **{k: v for k, v in stats.items() if v is not None}}
    elif counts and not isinstance(stats.get("exceptions"), int):
        stats = {**stats, "exceptions": counts().get("exceptions")}
    python = meta.get("python") if isinstance(meta.get("python"), dict) else {}
    recorder = meta.get("recorder") if isinstance(meta.get("recorder"), dict) else {}
    args = meta.get("args")
    if isinstance(args, str):  # tolerate writers that joined them
        args = [args] if args else []
    program = str(meta.get("program"))
    if meta.get("run_as") == "module":  # shown and listed the way it was run: -m MODULE
        program = f"-m {program}"
    stamp = trace_dir / (METADATA if (trace_dir / METADATA).is_file() else CONTAINER)
    record = {
        "program": program,
        "args": [str(a) for a in (args or [])],
        "workdir": str(meta.get("workdir") or ""),
        "language": "python",
        "interpreter": python.get("executable"),
        "python_version": python.get("version"),
        "trace_dir": str(trace_dir),
        "recorded_at": _iso_utc(meta.get("started_at")) or _iso_utc(_mtime(stamp)),
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


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def _json_paths(trace_dir: Path) -> list:
    try:
        paths = read_json(trace_dir / PATHS)
    except (OSError, ValueError):
        return []
    return paths if isinstance(paths, list) else []


def _from_container(trace_dir: Path, sidecar: dict | None):
    """(metadata, source paths, lazy counts) of a ``trace.ct`` folder. meta.dat gives program,
    args, workdir and paths; the sidecar the rest. A container CodeTracer would refuse is
    refused here too, naming the reason, unless the recorder kept it as a partial trace."""
    container = ctfs.find_container(trace_dir)
    try:
        trace = ctfs.open_trace(container)
    except ctfs.CtfsError as exc:
        if sidecar and sidecar.get("partial") and "program" in sidecar:
            return sidecar, _json_paths(trace_dir), None
        raise CtError(f"{container} will not open in CodeTracer: {exc}", TARGET) from None
    with trace:
        found = trace.meta
    meta = {**(sidecar or {}), "program": found.program, "args": found.args,
            "workdir": found.workdir or (sidecar or {}).get("workdir") or ""}
    if sidecar and sidecar.get("run_as") == "module" and sidecar.get("program"):
        meta["program"] = sidecar["program"]  # the module name, shown as `-m NAME`
    paths = found.paths or _json_paths(trace_dir)

    def counts() -> dict:
        try:
            with ctfs.open_trace(container) as again:
                return again.stats()
        except ctfs.CtfsError:
            return {}

    return meta, paths, counts
