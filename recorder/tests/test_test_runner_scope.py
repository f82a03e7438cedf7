"""`-m pytest` records the tests and the code under test, not pytest's own machinery.

Recording pytest's and pluggy's code made a small suite's trace hundreds of times larger
than the tests' own; ``--record-test-runner`` keeps the old behaviour for debugging pytest.
"""

from __future__ import annotations

import json

import pytest
from rt_helpers import record, requires_recorder

pytestmark = requires_recorder


@pytest.mark.parametrize(("module", "script", "expected"), [
    ("pytest", None, "pytest"),
    ("unittest", None, "unittest"),
    ("unittest.main", None, "unittest"),
    ("pytest_cov", None, None),
    ("app", None, None),
    (None, "/venv/bin/pytest", "pytest"),
    (None, "/venv/bin/py.test", "pytest"),
    (None, "C:\\venv\\Scripts\\pytest.exe", "pytest"),
    (None, "pytest_helpers.py", None),
    (None, "app.py", None),
])
def test_which_targets_are_test_runners(module, script, expected):
    from codetracer_python_recorder import scope

    assert scope.test_runner(module, script) == expected


def test_runner_dirs_are_found_without_importing(monkeypatch):
    import sys

    from codetracer_python_recorder import scope

    monkeypatch.delitem(sys.modules, "pluggy", raising=False)
    dirs = scope.test_runner_dirs("pytest")
    assert any(d.rstrip("/").endswith("_pytest") for d in dirs)
    assert any(d.rstrip("/").endswith("pluggy") for d in dirs)
    assert "pluggy" not in sys.modules
    assert scope.test_runner_dirs("unittest") == [] and scope.test_runner_dirs(None) == []


def _project(tmp_path):
    (tmp_path / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    (tmp_path / "test_calc.py").write_text(
        "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
    )


def _recorded(trace_dir):
    events = json.loads((trace_dir / "trace.json").read_text())
    paths = json.loads((trace_dir / "trace_paths.json").read_text())
    functions = [e["Function"] for e in events if "Function" in e]
    called = {functions[e["Call"]["function_id"]]["name"] for e in events if "Call" in e}
    return paths, called


def test_pytest_run_records_tests_not_pytest(tmp_path):
    _project(tmp_path)
    args = ["-m", "pytest", "-q", "-p", "no:cacheprovider", "test_calc.py"]
    proc = record(tmp_path / "t", args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr.decode()
    assert b"1 passed" in proc.stdout
    paths, called = _recorded(tmp_path / "t")
    assert {"test_add", "add"} <= called
    assert str(tmp_path / "calc.py") in paths and str(tmp_path / "test_calc.py") in paths
    runner = [p for p in paths if "/_pytest/" in p or "/pluggy/" in p]
    assert runner == []


def test_record_test_runner_flag_skips_nothing():
    """With the flag nothing extra is skipped: the recording is what it was before (a
    recorded run is not used here: recording pytest itself takes minutes, which is the
    point of skipping it)."""
    from codetracer_python_recorder import cli

    opts = cli.parse_args(["-m", "pytest", "-q"], environ={})
    assert any("_pytest" in d for d in cli._runner_dirs(opts, opts.target))
    opts = cli.parse_args(["--record-test-runner", "-m", "pytest", "-q"], environ={})
    assert cli._runner_dirs(opts, opts.target) == []
    assert opts.target.args == ["-q"]


def test_unittest_run_records_tests(tmp_path):
    (tmp_path / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    (tmp_path / "test_calc.py").write_text(
        "import unittest\nfrom calc import add\n\n\nclass T(unittest.TestCase):\n"
        "    def test_add(self):\n        self.assertEqual(add(2, 3), 5)\n"
    )
    proc = record(tmp_path / "t", ["-m", "unittest", "test_calc"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr.decode()
    _, called = _recorded(tmp_path / "t")
    assert {"T.test_add", "add"} <= called or {"test_add", "add"} <= called
