"""A program that leaves through ``os._exit`` or replaces itself with ``os.exec*`` ends the
process without unwinding: the recorder finishes and publishes the trace first, up to the
call, and the program's output and exit status are those of plain Python."""

from __future__ import annotations

import sys

import pytest
from ctfs_view import CtfsView
from rt_helpers import load_meta, record, requires_recorder, run

pytestmark = requires_recorder

OS_EXIT = """\
import os
def leave(code):
    note = "leaving"
    print("before", flush=True)
    os._exit(code)
leave(3)
print("never")
"""


def _last_line(trace_dir) -> int:
    views = CtfsView(trace_dir).step_views()
    return views[-1][0][1]


def _plain(tmp_path, name):
    return run([sys.executable, name], cwd=tmp_path)


def test_os_exit_publishes_the_trace_up_to_the_call(tmp_path):
    (tmp_path / "app.py").write_text(OS_EXIT)
    r = record(tmp_path / "t", ["app.py"], format=None, cwd=tmp_path)
    plain = _plain(tmp_path, "app.py")
    assert (r.returncode, r.stdout) == (plain.returncode, plain.stdout) == (3, b"before\n")
    assert r.stderr == b""
    meta = load_meta(tmp_path / "t")
    assert (meta["exit_status"], meta["ended_by"], meta["partial"]) == (3, "os._exit", False)
    views = CtfsView(tmp_path / "t").step_views()
    (path, line), values = views[-1]
    assert (path.endswith("app.py"), line) == (True, 5)
    assert values.get("note") is not None  # the frame's locals at the os._exit line


def test_os_exit_from_a_thread(tmp_path):
    (tmp_path / "app.py").write_text(
        "import os, threading, time\n"
        "def worker():\n"
        "    os._exit(7)\n"
        "threading.Thread(target=worker).start()\n"
        "time.sleep(30)\n"
    )
    r = record(tmp_path / "t", ["app.py"], format=None, cwd=tmp_path, timeout=60)
    assert r.returncode == 7, r.stderr
    meta = load_meta(tmp_path / "t")
    assert (meta["exit_status"], meta["ended_by"]) == (7, "os._exit")
    assert CtfsView(tmp_path / "t").step_views()  # a container that opens


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX exec")
def test_execv_publishes_the_trace_before_the_new_program_runs(tmp_path):
    (tmp_path / "app.py").write_text(
        "import os\nprint('before', flush=True)\nos.execv('/bin/sh', ['sh', '-c', 'echo execd; exit 4'])\n"
    )
    r = record(tmp_path / "t", ["app.py"], format=None, cwd=tmp_path)
    assert (r.returncode, r.stdout) == (4, b"before\nexecd\n"), r.stderr
    meta = load_meta(tmp_path / "t")
    assert (meta["exit_status"], meta["ended_by"], meta["partial"]) == (None, "os.execv", False)
    assert _last_line(tmp_path / "t") == 3


def test_an_exec_that_fails_is_not_the_end(tmp_path):
    """No such executable: the program gets its OSError, as under plain Python, and
    everything after it is recorded."""
    (tmp_path / "app.py").write_text(
        "import os\n"
        "try:\n"
        "    os.execvp('no-such-program-ct', ['x'])\n"
        "except OSError as exc:\n"
        "    print(type(exc).__name__)\n"
        "after = 1\n"
    )
    r = record(tmp_path / "t", ["app.py"], format=None, cwd=tmp_path)
    plain = _plain(tmp_path, "app.py")
    assert (r.returncode, r.stdout) == (plain.returncode, plain.stdout) == (0, b"FileNotFoundError\n")
    meta = load_meta(tmp_path / "t")
    assert "ended_by" not in meta and meta["exit_status"] == 0
    assert _last_line(tmp_path / "t") == 6


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_a_forked_child_leaving_by_os_exit_leaves_the_parents_trace_alone(tmp_path):
    (tmp_path / "app.py").write_text(
        "import os\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    os._exit(9)\n"
        "_, status = os.waitpid(pid, 0)\n"
        "print(os.waitstatus_to_exitcode(status))\n"
    )
    r = record(tmp_path / "t", ["app.py"], format=None, cwd=tmp_path)
    assert (r.returncode, r.stdout) == (0, b"9\n"), r.stderr
    meta = load_meta(tmp_path / "t")
    assert "ended_by" not in meta and meta["exit_status"] == 0
    assert _last_line(tmp_path / "t") == 6
