"""The artifact smoke test's trace check on ``trace.ct`` folders (``smoke/checks.py``): the
recorder's ``format`` decides the layout it requires, and a ctfs recording must open with
ct's reader, have steps and show the example's program, args and functions."""

from __future__ import annotations

import json
from pathlib import Path

import ctfs_builder as cb
import pytest

from smoke.checks import CheckFailed, check_trace_folder

SCRIPT = Path("/work/examples/python_script.py")
FUNCS = ["<module>", "main", "fib", "Account.deposit", "Account.withdraw"]


def folder_with(tmp_path: Path, fmt: str | None, container: bytes | None, args=("a",)) -> Path:
    folder = tmp_path / "t"
    folder.mkdir()
    meta = {"exit_status": 0, "partial": False}
    if fmt:
        meta["format"] = fmt
    (folder / "trace_metadata.json").write_text(json.dumps(meta))
    if container is not None:
        (folder / "trace.ct").write_bytes(container)
    return folder


def good(**kw) -> bytes:
    meta = cb.meta_dat(program=str(SCRIPT), args=["a"], paths=[str(SCRIPT)])
    return cb.split_trace(**{"steps": 40, "calls": [0, 1, 2, 2, 3, 4], "funcs": FUNCS,
                             "meta": meta, **kw})


def test_ctfs_recording_passes(tmp_path):
    meta = check_trace_folder(folder_with(tmp_path, "ctfs", good()), SCRIPT, ["a"])
    assert meta["format"] == "ctfs"


@pytest.mark.parametrize("container, message", [
    (None, "has no trace.ct"),
    (good(drop=("meta.dat",)), "would not open in CodeTracer: no meta.dat"),
    (good(steps=0), "0 steps"),
    (good(calls=[0, 1, 2, 3]), "withdraw not recorded"),
    (cb.split_trace(steps=3, calls=[0], funcs=FUNCS), "meta.dat program"),
    (good(content_size=False), "content size"),
])
def test_broken_ctfs_recordings_fail(tmp_path, container, message):
    with pytest.raises(CheckFailed, match=message):
        check_trace_folder(folder_with(tmp_path, "ctfs", container), SCRIPT, ["a"])


def test_wrong_args_fail(tmp_path):
    with pytest.raises(CheckFailed, match="meta.dat args"):
        check_trace_folder(folder_with(tmp_path, "ctfs", good()), SCRIPT, ["b"])


def test_json_format_still_needs_trace_json(tmp_path):
    """Until the recorder says ctfs, the JSON layout is what is checked (a trace.ct alone
    does not pass for a recorder that claims json or says nothing)."""
    for fmt in (None, "json"):
        base = tmp_path / (fmt or "none")
        base.mkdir()
        folder = folder_with(base, fmt, good())
        with pytest.raises(CheckFailed, match="missing trace.json"):
            check_trace_folder(folder, SCRIPT, ["a"])
