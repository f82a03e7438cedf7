"""``ct doctor``: explain what ``ct record`` would do here, and fail if it could not work."""

from __future__ import annotations

import os
import shutil
import sqlite3

from ct import interpreter, launch, paths, recorder_locate
from ct.errors import ENVIRONMENT, CtError
from ct.index import Index


def run() -> int:
    problems = 0

    def line(ok: bool | None, label: str, text: str) -> None:
        nonlocal problems
        mark = {True: "ok  ", False: "FAIL", None: "note"}[ok]
        if ok is False:
            problems += 1
        print(f"[{mark}] {label}: {text}")

    env = launch.child_env()
    interp = None
    try:
        path, source = interpreter.find(env)
        interp = interpreter.probe(path, source, env)
        try:
            interpreter.check_version(interp)
            line(True, "interpreter", f"{interp.path} (from {source}), Python {interp.version_str}")
        except CtError as exc:
            line(False, "interpreter", exc.message)
            interp = None
    except CtError as exc:
        line(False, "interpreter", exc.line().removeprefix("ct: ") + " (set CODETRACER_PYTHON_INTERPRETER or put python3 on PATH)")

    try:
        resources = recorder_locate.find_resources()
        line(None, "bundle", str(resources) if resources else "none (not running from a bundle)")
    except CtError as exc:
        line(False, "bundle", exc.message)
    if interp is not None:
        try:
            rec = recorder_locate.locate(interp)
            line(True, "recorder", f"{rec.source} {rec.version or '?'} at {rec.location}")
        except CtError as exc:
            line(False, "recorder", exc.message)

    root = paths.data_dir()
    try:
        root.mkdir(parents=True, exist_ok=True)
        ok = os.access(root, os.W_OK)
        line(ok, "data dir", f"{root} ({'writable' if ok else 'NOT writable: set CODETRACER_DATA_DIR'})")
    except OSError as exc:
        line(False, "data dir", f"{root} cannot be created ({exc.strerror or exc}); set CODETRACER_DATA_DIR")
    try:
        with Index(paths.index_path()) as index:
            n = index.db.execute("SELECT COUNT(*) FROM traces").fetchone()[0]
        line(True, "index", f"{paths.index_path()} ({n} recording(s))")
    except (CtError, sqlite3.Error) as exc:
        line(False, "index", getattr(exc, "message", str(exc)))

    for name in ("ct", "ct-python-recorder"):
        found = shutil.which(name)
        line(None, "PATH shim", f"{name} -> {found}" if found else f"{name} not on PATH (run `ct install`)")

    if problems:
        print(f"ct doctor: {problems} problem(s) found")
        return ENVIRONMENT
    print("ct doctor: all good")
    return 0
