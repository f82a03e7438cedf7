"""A script in a directory whose name is not valid UTF-8 runs under ``ct record`` and the
recorder CLI exactly as under ``python`` (output, traceback, status) and is recorded; the trace
names the path as Python prints it (``\\udcff``), the native side taking UTF-8 text only."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from ct_helpers import ct_cmd, ct_env_fixture, recorder_py_fixture  # noqa: F401 (fixtures)

APP = """import sys
print('hi', repr(sys.argv[0]), repr(sys.path[0]), repr(__file__))
def f(x):
    return 1 / x
f(1)
if len(sys.argv) > 1:
    f(0)
sys.exit(3)
"""


@pytest.fixture
def odd_dir(tmp_path) -> bytes:
    folder = os.fsencode(tmp_path) + b"/caf\xe9-\xff"
    try:
        os.mkdir(folder)
    except OSError as exc:
        pytest.skip(f"this file system refuses non-UTF-8 names: {exc}")
    with open(folder + b"/app.py", "w") as fh:
        fh.write(APP)
    return folder


@pytest.mark.parametrize("args", [[], ["boom"]], ids=["exit-3", "traceback"])
def test_non_utf8_script_path_runs_as_python_and_records(ct_env, recorder_py, tmp_path, odd_dir,
                                                         args):
    script = odd_dir + b"/app.py"
    env = {**ct_env, "CODETRACER_PYTHON_INTERPRETER": recorder_py}
    plain = subprocess.run([recorder_py, script, *args], capture_output=True, env=env,
                           cwd=tmp_path)
    assert b"\\udcff" in plain.stdout  # Python's own view of the name
    cli = subprocess.run([recorder_py, "-m", "codetracer_python_recorder", "--trace-dir",
                          tmp_path / "t1", script, *args], capture_output=True, env=env,
                         cwd=tmp_path)
    rec = subprocess.run(ct_cmd("record", "-q", "-o", str(tmp_path / "t2"), script, *args),
                         capture_output=True, env=env, cwd=tmp_path)
    for run in (cli, rec):
        assert (run.returncode, run.stdout, run.stderr) == \
            (plain.returncode, plain.stdout, plain.stderr)
    for trace in (tmp_path / "t1", tmp_path / "t2"):
        meta = json.loads((trace / "trace_metadata.json").read_text())
        assert meta["exit_status"] == plain.returncode and not meta.get("partial")
        assert meta["stats"]["calls"] >= (3 if args else 2), meta["stats"]
    listed = subprocess.run(ct_cmd("show", "latest", "--json"), capture_output=True, text=True,
                            env=env, check=True)
    row = json.loads(listed.stdout)
    assert "\\udcff" in row["program"] and row["container"]["opens"]
    assert "f" in [fn["name"] for fn in row["top_functions"]]


def test_a_module_imported_from_a_non_utf8_folder_is_recorded(recorder_py, tmp_path, odd_dir):
    with open(odd_dir + b"/oddmod.py", "w") as fh:
        fh.write("def g(x):\n    y = x * 2\n    return y\n")
    main = tmp_path / "main.py"
    main.write_bytes(b"import sys\nsys.path.insert(0, " + repr(odd_dir).encode() + b".decode("
                     b"'utf-8', 'surrogateescape'))\nimport oddmod\nprint(oddmod.g(21))\n")
    run = subprocess.run([recorder_py, "-m", "codetracer_python_recorder", "--trace-dir",
                          tmp_path / "t", main], capture_output=True, cwd=tmp_path)
    assert (run.returncode, run.stdout) == (0, b"42\n"), run.stderr
    from ct.ctfs import open_trace

    with open_trace(tmp_path / "t") as trace:
        paths = trace.describe()["meta"]["paths"]
        calls = trace.function_calls()
    assert any(p.endswith("\\udcff/oddmod.py") for p in paths), paths
    assert calls["g"] == 1
