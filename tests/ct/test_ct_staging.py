"""A program that leaves without letting the recorder finish (libc's ``_exit``, a crash, a
kill) leaves the recorder's staging folder behind. ``ct record`` removes it and says
why there is no trace in one line (never "see the message above" with nothing above); with
``--keep-partial-trace`` it keeps the folder, names it, and ``ct doctor`` lists it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ct_helpers import ct_env_fixture, recorder_py_fixture, run_ct  # noqa: F401 (fixtures)

PROGRAMS = {
    "libc_exit": ("import ctypes\nprint('before', flush=True)\nctypes.CDLL(None)._exit(3)\n",
                  3, "before\n"),
    "crash": ("import ctypes\nprint('before', flush=True)\nctypes.string_at(0)\n", -11,
              "before\n"),
    "sigkill": ("import os, signal\nprint('before', flush=True)\n"
                "os.kill(os.getpid(), signal.SIGKILL)\n", -9, "before\n"),
}


def _env(ct_env, recorder_py):
    return {**ct_env, "CODETRACER_PYTHON_INTERPRETER": recorder_py}


def _traces(ct_env) -> list[str]:
    folder = Path(ct_env["CODETRACER_DATA_DIR"]) / "traces"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def _listed(ct_env) -> list:
    r = run_ct(["list", "--json"], env=ct_env)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.mark.parametrize("kind", sorted(PROGRAMS))
def test_unfinished_recording_is_cleaned_up_and_explained(ct_env, recorder_py, tmp_path, kind):
    code, status, out = PROGRAMS[kind]
    (tmp_path / "app.py").write_text(code)
    r = run_ct(["record", "app.py"], env=_env(ct_env, recorder_py), cwd=tmp_path)
    assert (r.returncode, r.stdout) == (status, out), r.stderr
    lines = r.stderr.splitlines()
    assert lines and lines[-1].startswith("ct: no trace: "), r.stderr
    assert "see the message above" not in r.stderr
    if status >= 0:
        assert "ended the process before the recorder could close the trace" in lines[-1]
    assert _traces(ct_env) == []  # neither a staging folder nor an empty trace folder
    assert _listed(ct_env) == []


def test_quiet_unfinished_recording_prints_nothing_of_ours(ct_env, recorder_py, tmp_path):
    (tmp_path / "app.py").write_text(PROGRAMS["libc_exit"][0])
    r = run_ct(["record", "-q", "app.py"], env=_env(ct_env, recorder_py), cwd=tmp_path)
    assert (r.returncode, r.stdout, r.stderr) == (3, "before\n", "")
    assert _traces(ct_env) == []


def test_keep_partial_trace_keeps_and_reports_the_staging_folder(ct_env, recorder_py, tmp_path):
    (tmp_path / "app.py").write_text(PROGRAMS["libc_exit"][0])
    env = _env(ct_env, recorder_py)
    r = run_ct(["record", "-q", "--keep-partial-trace", "app.py"], env=env, cwd=tmp_path)
    assert (r.returncode, r.stdout) == (3, "before\n"), r.stderr
    kept = [n for n in _traces(ct_env) if ".staging-" in n]
    assert len(kept) == 1, _traces(ct_env)
    assert r.stderr.count("\n") == 1 and "not indexed) is kept in" in r.stderr
    assert r.stderr.rstrip().endswith(kept[0])
    assert _listed(ct_env) == []
    doctor = run_ct(["doctor"], env=env)
    line = [x for x in doctor.stdout.splitlines() if "leftovers" in x][0]
    assert "1 unfinished trace folder(s)" in line and kept[0] in line


@pytest.mark.parametrize("call, status, out", [
    ("os._exit(3)", 3, "before\n"),
    ("os.execv('/bin/sh', ['sh', '-c', 'echo execd; exit 4'])", 4, "before\nexecd\n"),
])
def test_os_exit_and_exec_leave_a_listed_trace(ct_env, recorder_py, tmp_path, call, status, out):
    """``os._exit`` and ``os.exec*`` skip the recorder's close; it finishes the trace first."""
    (tmp_path / "app.py").write_text(f"import os\nprint('before', flush=True)\n{call}\n")
    r = run_ct(["record", "app.py"], env=_env(ct_env, recorder_py), cwd=tmp_path)
    assert (r.returncode, r.stdout) == (status, out), r.stderr
    assert "trace saved to" in r.stderr and "partial" not in r.stderr
    (row,) = _listed(ct_env)
    assert row["exit_status"] == status
    assert not any(".staging-" in n for n in _traces(ct_env))
