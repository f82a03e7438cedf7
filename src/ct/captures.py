"""``ct captures [DIR] [--json]``: the request and task captures in DIR (default
``$CODETRACER_CAPTURE_DIR``, else the current directory), oldest first: time, kind, route or
task (or the app's start-up), status or outcome, duration, number of dependency calls,
file. Written by the recorder's
``CodeTracerMiddleware`` and ``enable_celery``; read as JSON only (nothing in them is run)."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from ct.errors import TARGET, USAGE, CtError

FORMAT, VERSION = "codetracer-capture", 1


def summary(path: Path) -> dict | None:
    """One capture's listing fields, or ``None`` when the file is not a capture."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return None
    exc = data.get("exception") or {}
    row = {"file": str(path), "kind": data.get("kind"), "id": data.get("id"),
           "started_at": data.get("started_at"), "duration": data.get("duration"),
           "deps": len(data.get("deps") or []), "version": data.get("version"),
           "exception": exc.get("type", "").rpartition(":")[2] or None,
           "path": None, "status": None, "outcome": None}  # the same keys for every kind
    if data.get("kind") == "request":
        req = data.get("request") or {}
        resp = data.get("response") or {}
        row["target"] = f"{req.get('method', '?')} {req.get('route') or req.get('path', '?')}"
        row["path"] = req.get("path")
        status = resp.get("status") or (500 if exc else None)
        row["status"] = status
        row["result"] = str(status) if status is not None else "?"
    elif data.get("kind") == "startup":  # an app's start-up calls, answered in its replays
        row["target"] = "start-up"
        row["outcome"] = data.get("outcome")
        row["result"] = data.get("outcome") or "?"
    else:
        task = data.get("task") or {}
        row["target"] = task.get("name", "?")
        row["outcome"] = data.get("outcome")
        row["result"] = data.get("outcome") or "?"
    if row["exception"]:
        row["result"] += f" ({row['exception']})"
    return row


def run(argv: list[str]) -> int:
    import argparse

    class Parser(argparse.ArgumentParser):
        def error(self, message: str):  # type: ignore[override] - one line, status 2
            raise CtError(f"captures: {message}; usage: ct captures [DIR] [--json]", USAGE)

    p = Parser(prog="ct captures", description=__doc__.split("\n\n")[0], allow_abbrev=False)
    p.add_argument("dir", nargs="?", metavar="DIR", help="the capture directory")
    p.add_argument("--json", action="store_true", help="print a JSON array")
    a = p.parse_args(argv)
    directory = Path(a.dir or os.environ.get("CODETRACER_CAPTURE_DIR") or ".")
    if not directory.is_dir():
        raise CtError(f"captures: {directory} is not a directory; pass the folder the "
                      "middleware writes to (CODETRACER_CAPTURE_DIR)", TARGET)
    rows = [r for r in (summary(f) for f in sorted(directory.glob("*.json"))) if r]
    rows.sort(key=lambda r: (r.get("started_at") or 0, r["file"]))
    if a.json:
        json.dump(rows, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    if not rows:
        print(f"no captures in {directory}; set CODETRACER_CAPTURE_DIR for the app and serve "
              "some requests or tasks")
        return 0
    table = [("TIME", "KIND", "TARGET", "RESULT", "DURATION", "DEPS", "FILE")]
    for r in rows:
        started = r.get("started_at")
        when = (time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started))
                if isinstance(started, (int, float)) else "?")
        duration = r.get("duration")
        table.append((when, r.get("kind") or "?", r["target"], r["result"],
                      f"{duration * 1000:.1f} ms" if isinstance(duration, (int, float)) else "?",
                      str(r["deps"]), os.path.basename(r["file"])))
    widths = [min(max(len(row[i]) for row in table), 50) for i in range(len(table[0]) - 1)]
    for row in table:
        cells = [(v if len(v) <= w else v[:w - 3] + "...").ljust(w)
                 for v, w in zip(row[:-1], widths, strict=True)]
        print("  ".join([*cells, row[-1]]))
    return 0
