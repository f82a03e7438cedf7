"""Parity: stdout, stderr and exit status under the recorder equal plain Python's, byte for byte."""

from __future__ import annotations

import signal
import sys

import pytest
from rt_helpers import PARITY, record, requires_recorder, run

pytestmark = requires_recorder

SPACED = "dir with spaces ünï/spaced ünï.py"

CASES = {
    "option-like argv": dict(args=["argv_echo.py", "--format", "json", "-o", "x", "--trace-dir", "y"]),
    "non-zero exit": dict(args=["exit_status.py", "7"]),
    "exit message": dict(args=["exit_message.py"]),
    "uncaught exception": dict(args=["uncaught.py"]),
    "stdin": dict(args=["stdin_echo.py"], stdin=b"alpha\nbeta\n"),
    "env vars": dict(args=["env_vars.py"], env={"CT_PARITY_VAR": "v1"}),
    "threads": dict(args=["threads.py"]),
    "pickle __main__ class": dict(args=["pickle_main.py"]),
    "spaces and non-ascii path": dict(args=[SPACED, "ä", "b c"]),
    "syntax error": dict(args=["syntax_error.py"]),
    "20000 lines of output": dict(args=["many_lines.py"]),
    "recursion limit": dict(args=["recursion_limit.py"]),
    "recursion depth": dict(args=["recursion_depth.py"]),
    "-m recursion depth": dict(args=["-m", "recursion_depth"]),
    "missing script": dict(args=["no_such_script.py"]),
    "-m module": dict(args=["-m", "mod_target", "--flag", "x"]),
    "-m missing module": dict(args=["-m", "no_such_module_xyz"]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_output_and_status(name, tmp_path):
    case = CASES[name]
    kw = dict(cwd=PARITY, stdin=case.get("stdin"), env=case.get("env"))
    plain = run([sys.executable, *case["args"]], **kw)
    traced = record(tmp_path / "trace", case["args"], **kw)
    assert traced.stdout == plain.stdout
    assert traced.stderr == plain.stderr
    assert traced.returncode == plain.returncode


def test_sibling_import_from_another_cwd(tmp_path):
    script = str(PARITY / "sibling_import.py")
    plain = run([sys.executable, script], cwd=tmp_path)
    traced = record(tmp_path / "trace", [script], cwd=tmp_path)
    assert plain.returncode == 0, plain.stderr
    assert (traced.stdout, traced.stderr, traced.returncode) == (
        plain.stdout, plain.stderr, plain.returncode)


def test_keyboard_interrupt_ends_by_sigint_after_atexit(tmp_path):
    plain = run([sys.executable, "keyboard_interrupt.py"], cwd=PARITY)
    traced = record(tmp_path / "trace", ["keyboard_interrupt.py"], cwd=PARITY)
    assert plain.returncode == -signal.SIGINT
    assert (traced.stdout, traced.stderr, traced.returncode) == (
        plain.stdout, plain.stderr, plain.returncode)
    assert (tmp_path / "trace" / "trace.json").exists()


def test_trace_written_for_failing_program(tmp_path):
    traced = record(tmp_path / "trace", ["exit_status.py", "5"], cwd=PARITY)
    assert traced.returncode == 5
    import json

    meta = json.loads((tmp_path / "trace" / "trace_metadata.json").read_text())
    assert meta["exit_status"] == 5
    assert meta["args"] == ["5"]


def _run_in_pty(argv, cwd):
    """Runs argv with stdin/stdout/stderr on a pseudo-terminal and returns what it printed."""
    import os
    import pty

    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(cwd)
        os.execv(argv[0], argv)
    out = b""
    while True:
        try:
            chunk = os.read(fd, 1024)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.waitpid(pid, 0)
    return out


def test_a_tty_stays_a_tty(tmp_path):
    plain = _run_in_pty([sys.executable, "tty_check.py"], PARITY)
    traced = _run_in_pty(
        [sys.executable, "-m", "codetracer_python_recorder", "--trace-dir", str(tmp_path / "t"), "tty_check.py"],
        PARITY,
    )
    assert plain.strip() == b"True True True"
    assert traced == plain
