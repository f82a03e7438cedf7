"""``ct doctor``: explain what ``ct record`` would do here, and fail if it could not work."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

from ct import interpreter, launch, paths, recorder_locate
from ct.errors import ENVIRONMENT, CtError
from ct.index import Index, _translate, rebuild_hint


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
    index_path = paths.index_path()
    try:
        with Index(index_path) as index:
            n = index.db.execute("SELECT COUNT(*) FROM traces").fetchone()[0]
            damage = [r[0] for r in index.db.execute("PRAGMA integrity_check(5)").fetchall()]
        if damage != ["ok"]:
            text = " ".join(" ".join(damage).split()).removeprefix("*** in database main *** ")
            text = text if len(text) <= 120 else text[:117] + "..."
            line(False, "index", f"{index_path} is corrupt ({text}); {rebuild_hint(index_path)}")
        else:
            line(True, "index", f"{index_path} ({n} recording(s), integrity check passed)")
    except (CtError, sqlite3.Error) as exc:
        line(False, "index", getattr(exc, "message", None) or _translate(exc, index_path).message)

    leftovers = _leftovers(paths.traces_dir())
    if leftovers:
        shown = ", ".join(str(p) for p in leftovers[:3]) + (" ..." if len(leftovers) > 3 else "")
        line(None, "leftovers", f"{len(leftovers)} unfinished trace folder(s) of recordings that "
             f"were killed: {shown}; nothing in them is indexed, delete them when not needed")

    for name in ("ct", "ct-python-recorder"):
        found = shutil.which(name)
        line(None, "PATH shim", f"{name} -> {found}" if found else f"{name} not on PATH (run `ct install`)")

    if problems:
        print(f"ct doctor: {problems} problem(s) found")
        return ENVIRONMENT
    print("ct doctor: all good")
    return 0


def _leftovers(traces: Path) -> list[Path]:
    """Staging folders whose recorder is gone (killed: SIGKILL, a crash, libc's _exit), and empty
    trace folders ct made for recordings that never finished."""
    found: list[Path] = []
    try:
        entries = sorted(traces.iterdir())
    except OSError:
        return found
    recording = set()  # trace folders a live recorder is still writing
    for entry in entries:
        if ".staging-" in entry.name and entry.name.startswith("."):
            target, _, rest = entry.name[1:].partition(".staging-")
            pid = rest.split("-", 1)[0]
            if pid.isdigit() and _pid_alive(int(pid)):
                recording.add(target)
            else:
                found.append(entry)
    for entry in entries:
        if entry.name.startswith(".") or entry.name in recording or entry.is_symlink():
            continue
        try:
            if entry.is_dir() and not any(entry.iterdir()):
                found.append(entry)
        except OSError:
            continue
    return sorted(found)


def unfinished_staging(out: Path) -> list[Path]:
    """The staging folders a recorder left for the trace folder ``out`` and can no longer
    finish (its pid is gone): a kill, a crash or libc's ``_exit`` ended the process, so the
    recorder never closed the trace (``os._exit`` and ``os.exec*`` let it close first)."""
    prefix = f".{out.name}.staging-"
    try:
        entries = sorted(out.parent.iterdir())
    except OSError:
        return []
    found = []
    for entry in entries:
        pid = entry.name[len(prefix):].split("-", 1)[0] if entry.name.startswith(prefix) else ""
        if pid.isdigit() and entry.is_dir() and not _pid_alive(int(pid)):
            found.append(entry)
    return found




def _pid_alive(pid: int) -> bool:
    if os.name != "posix":
        return True  # cannot tell without risk: report nothing as left over
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True
