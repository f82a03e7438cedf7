"""``ct list``, ``ct show`` and ``ct index``: find recorded traces again."""

from __future__ import annotations

import json
import shlex
import sys
from datetime import datetime
from pathlib import Path

from ct import ctfs, importer, paths, summary
from ct.errors import TARGET, CtError
from ct.index import Index
from ct.index import rebuild as rebuild_index


def _local_time(iso: str | None) -> str:
    if not iso:
        return "?"
    try:
        dt = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return iso
    return dt.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _size(n: int | None) -> str:
    if n is None:
        return "?"
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return str(n)


def _num(value) -> str:
    return "?" if value is None else str(value)


def _command(row: dict) -> str:
    """The command line as it was run: a module run (stored as program ``-m NAME``) reads
    ``python -m NAME ARGS`` rather than quoting ``'-m NAME'`` as one word."""
    program = row.get("program") or "?"
    head = ["python", "-m", program[3:]] if program.startswith("-m ") else [program]
    return shlex.join([*head, *row.get("args", [])])


def cmd_list(as_json: bool, limit: int | None) -> int:
    with Index(paths.index_path()) as index:
        rows = index.list(limit)
    if as_json:
        json.dump(rows, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    if not rows:
        print("no recordings yet; record one with `ct record PROGRAM.py`")
        return 0
    table = [("ID", "RECORDED", "EXIT", "STEPS", "SIZE", "COMMAND")]
    for r in rows:
        exit_text = "?" if r.get("exit_status") is None else str(r["exit_status"])
        if r.get("partial"):
            exit_text += "*"
        table.append((
            str(r["id"]), _local_time(r.get("recorded_at")), exit_text,
            "?" if r.get("steps") is None else str(r["steps"]), _size(r.get("size_bytes")),
            _command(r),
        ))
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]) - 1)]
    for row in table:
        cells = [c.rjust(w) if i in (0, 2, 3, 4) else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=False))]
        print("  ".join([*cells, row[-1]]))
    return 0


def cmd_show(ref: str, as_json: bool, top: int = 10) -> int:
    with Index(paths.index_path()) as index:
        row = index.get(ref)
    trace_dir = Path(row["trace_dir"])
    present = trace_dir.is_dir()
    meta = importer.read_metadata(trace_dir) or {}
    container = _container_info(trace_dir) if present else None
    if container and "paths" in container:
        trace_paths = container["paths"]
    else:
        try:
            trace_paths = importer.read_json(trace_dir / importer.PATHS) if present else []
        except (OSError, ValueError):
            trace_paths = []
    info = {
        **row,
        "present": present,
        "top_functions": summary.top_functions(trace_dir, trace_paths, top) if present else [],
        "metadata": meta,
    }
    if container is not None:
        info["container"] = container
    if as_json:
        json.dump(info, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    lines = [
        ("id", str(row["id"])),
        ("command", _command(row)),
        ("workdir", row.get("workdir") or "?"),
        ("recorded", _local_time(row.get("recorded_at"))),
        ("duration", "?" if row.get("duration_s") is None else f"{row['duration_s']:.3f} s"),
        ("exit status", "?" if row.get("exit_status") is None else str(row["exit_status"])),
        ("interpreter", f"{row.get('interpreter') or '?'} (Python {row.get('python_version') or '?'})"),
        ("recorder", row.get("recorder_version") or "?"),
        ("steps", _num(row.get("steps"))), ("calls", _num(row.get("calls"))),
        ("events", _num(row.get("events"))), ("exceptions", _num(row.get("exceptions"))),
        ("size", _size(row.get("size_bytes"))),
        ("trace folder", str(trace_dir) + ("" if present else "  (MISSING)")),
    ]
    if container is not None:
        lines.append(("format", "CTFS trace.ct, opens in CodeTracer" if container["opens"]
                      else f"CTFS trace.ct, will NOT open in CodeTracer: {container['problem']}"))
    if row.get("partial"):
        lines.append(("partial", str(meta.get("partial_reason") or "yes")))
    if (trace_dir / "diff_index.json").is_file():
        try:
            d = json.loads((trace_dir / "diff_index.json").read_text(encoding="utf-8"))
            lines.append(("diff", f"{d.get('spec')}: {len(d.get('files', []))} file(s) changed"))
        except (OSError, ValueError):
            pass
    width = max(len(k) for k, _ in lines)
    for k, v in lines:
        print(f"{k.ljust(width)}  {v}")
    if info["top_functions"]:
        sampled = any(fn.get("estimated") for fn in info["top_functions"])
        print("\ntop functions by calls" + (" (estimated from a sample):" if sampled else ":"))
        for fn in info["top_functions"]:
            where = f"{fn['path']}:{fn['line']}" if fn.get("path") else ""
            calls = f"~{fn['calls']}" if fn.get("estimated") else str(fn["calls"])
            print(f"  {calls:>8}  {fn['name']}  {where}".rstrip())
    return 0


def _container_info(trace_dir: Path) -> dict | None:
    """What ``ct show`` says about a folder's ``trace.ct`` (None for a JSON trace): whether
    CodeTracer opens it, else why not; its recording id and source paths. Header and meta.dat
    only, so it costs the same on any trace size."""
    if summary.layout(trace_dir) != "ctfs":
        return None
    try:
        with ctfs.open_trace(trace_dir) as trace:
            return {"opens": True, "route": trace.route,
                    "recording_id": trace.meta.recording_id, "paths": trace.meta.paths}
    except ctfs.CtfsError as exc:
        return {"opens": False, "problem": str(exc)}


def import_folders(folders: list[Path], quiet: bool = False) -> int:
    """Import trace folders; report the ones that are not traces; status 20 if any failed."""
    status = 0
    with Index(paths.index_path()) as index:
        for folder in folders:
            try:
                row_id = index.add(importer.build_record(folder))
            except CtError as exc:
                print(f"ct: {exc.message}", file=sys.stderr)
                status = exc.status
                continue
            if not quiet:
                print(f"ct: indexed {Path(folder).absolute()} (id {row_id})", file=sys.stderr)
    return status


def cmd_index(import_dirs: list[str], rebuild: bool) -> int:
    if not import_dirs and not rebuild:
        raise CtError("index: nothing to do; use --import DIR or --rebuild", 2)
    status = 0
    if rebuild:
        status = rebuild_index(paths.index_path(), paths.traces_dir(),
                               say=lambda text: print(text, file=sys.stderr))
    if import_dirs:
        missing = [d for d in import_dirs if not Path(d).is_dir()]
        for d in missing:
            print(f"ct: index: {d} is not a directory; pass a trace folder", file=sys.stderr)
        status = import_folders([Path(d) for d in import_dirs if Path(d).is_dir()]) or status
        if missing:
            status = status or TARGET
    return status
