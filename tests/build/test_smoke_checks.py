"""The smoke harness's own checks, on synthetic trace folders and list output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smoke.checks import CheckFailed, check_listed, check_trace_folder
from smoke.runners import BundleDirRunner, runner_for

SCRIPT = Path("/work/examples/python_script.py")


def write_trace(folder: Path, events: list, args=("a",)) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "trace.json").write_text(json.dumps(events))
    (folder / "trace_paths.json").write_text(json.dumps([str(SCRIPT)]))
    (folder / "trace_metadata.json").write_text(
        json.dumps({"workdir": "/w", "program": str(SCRIPT), "args": list(args)}))
    return folder


def functions(*names):
    return [{"Function": {"path_id": 0, "line": 1, "name": n}} for n in names]


GOOD = ([{"Path": str(SCRIPT)}] + functions("<module>", "main", "fib", "Account.deposit",
                                            "Account.withdraw")
        + [{"Step": {"path_id": 0, "line": 1}}, {"Call": {"function_id": 1, "args": []}},
           {"Return": {"return_value": {"kind": "None", "type_id": 0}}}])


def test_valid_trace_passes(tmp_path):
    meta = check_trace_folder(write_trace(tmp_path / "t", GOOD), SCRIPT, ["a"])
    assert meta["args"] == ["a"]


@pytest.mark.parametrize("events, message", [
    (GOOD + [{"Call": {"function_id": 1, "args": []}}], "unbalanced"),
    ([e for e in GOOD if "Step" not in e], "no Step"),
    (GOOD + [{"Step": {}, "Call": {}}], "single-key"),
    ([e for e in GOOD if e.get("Function", {}).get("name") != "fib"], "fib"),
])
def test_broken_traces_fail(tmp_path, events, message):
    with pytest.raises(CheckFailed, match=message):
        check_trace_folder(write_trace(tmp_path / "t", events), SCRIPT, ["a"])


def test_missing_files_and_wrong_args_fail(tmp_path):
    folder = write_trace(tmp_path / "t", GOOD)
    with pytest.raises(CheckFailed, match="args"):
        check_trace_folder(folder, SCRIPT, ["b"])
    (folder / "trace_paths.json").unlink()
    with pytest.raises(CheckFailed, match="trace_paths.json"):
        check_trace_folder(folder, SCRIPT, ["a"])


def test_listed(tmp_path):
    trace = tmp_path / "traces" / "by-var"
    check_listed(json.dumps([{"id": 1, "trace_dir": str(trace), "args": ["a"]}]), trace)
    with pytest.raises(CheckFailed, match="not in ct list"):
        check_listed(json.dumps([{"id": 1, "trace_dir": "/elsewhere"}]), trace)
    with pytest.raises(CheckFailed, match="not JSON"):
        check_listed("ct: oops", trace)


def test_runner_selection(tmp_path):
    appdir = tmp_path / "AppDir"
    (appdir / "usr" / "bin").mkdir(parents=True)
    (appdir / "usr" / "bin" / "ct").touch()
    (appdir / "bin").mkdir()
    (appdir / "bin" / "ct-python-recorder").touch()
    runner = runner_for(appdir, tmp_path)
    assert isinstance(runner, BundleDirRunner)
    assert runner.ct("--version") == [str(appdir / "usr/bin/ct"), "--version"]
    assert runner.shim("x.py")[0].endswith("bin/ct-python-recorder")
    with pytest.raises(SystemExit):
        runner_for(tmp_path / "CodeTracer.dmg", tmp_path)
