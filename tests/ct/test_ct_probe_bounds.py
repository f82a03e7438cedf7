"""The interpreter probe is bounded: an "interpreter" that prints forever or hangs gives a
one-line environment error, and nothing it started is left running."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from ct_helpers import ct_env_fixture, run_ct  # noqa: F401 (fixtures)

pytestmark = pytest.mark.skipif(os.name != "posix", reason="shell-script stand-ins")


def _fake(tmp_path: Path, body: str) -> Path:
    exe = tmp_path / "python3"
    exe.write_text("#!/bin/sh\n" + body)
    exe.chmod(0o755)
    return exe


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return True


def test_an_interpreter_that_prints_forever(ct_env, tmp_path):
    exe = _fake(tmp_path, "exec yes 'not json'\n")
    (tmp_path / "app.py").write_text("")
    env = {**ct_env, "CODETRACER_PYTHON_INTERPRETER": str(exe), "CODETRACER_PROBE_TIMEOUT": "120"}
    r = run_ct(["record", "app.py"], env=env, cwd=tmp_path, timeout=300)
    assert r.returncode == 10
    assert r.stderr.count("\n") == 1 and "wrote more than 64 KiB" in r.stderr, r.stderr
    assert str(exe) in r.stderr and "CODETRACER_PYTHON_INTERPRETER" in r.stderr


def test_an_interpreter_that_hangs_is_timed_out_with_its_children(ct_env, tmp_path):
    pidfile = tmp_path / "child.pid"
    exe = _fake(tmp_path, f"sleep 300 &\necho $! > {pidfile}\nwait\n")
    (tmp_path / "app.py").write_text("")
    env = {**ct_env, "CODETRACER_PYTHON_INTERPRETER": str(exe), "CODETRACER_PROBE_TIMEOUT": "2"}
    r = run_ct(["record", "app.py"], env=env, cwd=tmp_path, timeout=300)
    assert r.returncode == 10
    assert r.stderr.count("\n") == 1 and "did not answer within 2 s" in r.stderr, r.stderr
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 30
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "the hung interpreter's child was left running"
