"""``ct index --import``, ``ct list``, ``ct show`` and ``ct record`` on ``trace.ct`` folders,
through the real ``ct`` command."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import ctfs_builder as cb
import pytest
from ct_helpers import (
    ct_env_fixture,  # noqa: F401 (pytest fixtures)
    recorder_py_fixture,  # noqa: F401
    run_ct,
)

from ct import ctfs

FIXTURES = Path(__file__).resolve().parent / "fixtures"
UPSTREAM = FIXTURES / "upstream-python-recorder_flask_serve.ct"
SPEC = FIXTURES / "spec_minimal_trace.ct"


def _json(env, *args):
    r = run_ct(args, env=env)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_upstream_folder_without_sidecar_imports_lists_and_shows(ct_env, tmp_path):
    folder = tmp_path / "flask"
    folder.mkdir()
    shutil.copy(UPSTREAM, folder / "trace.ct")
    r = run_ct(["index", "--import", str(folder)], env=ct_env)
    assert r.returncode == 0, r.stderr
    [row] = _json(ct_env, "list", "--json")
    assert row["program"].endswith("/web/serve.py")
    assert row["args"][:2] == ["--framework", "flask"]
    assert (row["steps"], row["calls"], row["events"], row["exceptions"]) == (84, 22, 15, 0)
    assert row["exit_status"] is None and row["partial"] is False
    assert row["size_bytes"] == UPSTREAM.stat().st_size  # the sources are not on this machine
    info = _json(ct_env, "show", "latest", "--json")
    assert info["top_functions"][0] == {"name": "build_flask_app.<locals>.publish_route",
                                        "path": None, "line": None, "calls": 8}
    assert info["container"]["opens"] is True
    assert info["container"]["recording_id"] == "019fb12a-cac7-78f3-96e7-fd23eb9da98b"
    text = run_ct(["show", "latest"], env=ct_env)
    assert "opens in CodeTracer" in text.stdout and "publish_route" in text.stdout
    assert "?" in run_ct(["list"], env=ct_env).stdout.splitlines()[1]  # exit status unknown


def test_our_layout_takes_counts_from_the_sidecar_and_copies_sources(ct_env, tmp_path):
    src = tmp_path / "src" / "app.py"
    src.parent.mkdir()
    src.write_text("print('hi')\n")
    folder = tmp_path / "rec"
    folder.mkdir()
    meta = cb.meta_dat(program=str(src), args=["a b", "-m"], workdir=str(tmp_path),
                       paths=[str(src), "<frozen os>"])
    (folder / "trace.ct").write_bytes(cb.split_trace(steps=7, calls=[0, 0], funcs=["<module>"],
                                                     meta=meta))
    (folder / "trace_metadata.json").write_text(json.dumps({
        "format": "ctfs", "exit_status": 3, "partial": False, "started_at": 1796042101.5,
        "duration_s": 0.25, "python": {"version": "3.12.1", "executable": "/usr/bin/python3"},
        "recorder": {"name": "codetracer-python-recorder", "version": "9.9"},
        "stats": {"steps": 70, "calls": 20, "events": 5, "exceptions": 1},
    }))
    assert run_ct(["index", "--import", str(folder)], env=ct_env).returncode == 0
    [row] = _json(ct_env, "list", "--json")
    assert (row["program"], row["args"], row["workdir"]) == (str(src), ["a b", "-m"], str(tmp_path))
    # the sidecar's stats win over the container's (it counts what the recorder saw)
    assert (row["steps"], row["calls"], row["exceptions"], row["exit_status"]) == (70, 20, 1, 3)
    assert (row["recorder_version"], row["python_version"]) == ("9.9", "3.12.1")
    assert row["recorded_at"].startswith("2026-11-30T")
    assert (folder / "files" / str(src).lstrip("/")).read_text() == "print('hi')\n"
    info = _json(ct_env, "show", "latest", "--json")
    assert info["top_functions"] == [{"name": "<module>", "path": None, "line": None, "calls": 2}]
    assert info["metadata"]["exit_status"] == 3


def test_sidecar_without_stats_counts_from_the_container(ct_env, tmp_path):
    folder = tmp_path / "rec"
    folder.mkdir()
    (folder / "trace.ct").write_bytes(cb.split_trace(steps=5000, calls=[0] * 300,
                                                     event_kinds=[0, 11, 11]))
    (folder / "trace_metadata.json").write_text(json.dumps({"format": "ctfs", "exit_status": 0}))
    assert run_ct(["index", "--import", str(folder)], env=ct_env).returncode == 0
    [row] = _json(ct_env, "list", "--json")
    assert (row["steps"], row["calls"], row["events"], row["exceptions"]) == (5000, 300, 3, 2)
    assert row["exit_status"] == 0 and row["program"] == "/w/app.py"


def test_folder_holding_no_trace_is_refused_in_one_line(ct_env, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("nothing here")
    r = run_ct(["index", "--import", str(empty)], env=ct_env)
    assert r.returncode == 20
    assert r.stderr.count("\n") == 1 and "not a trace folder" in r.stderr
    assert "Traceback" not in r.stderr


def test_container_codetracer_refuses_is_not_indexed(ct_env, tmp_path):
    folder = tmp_path / "spec"
    folder.mkdir()
    shutil.copy(SPEC, folder / "trace.ct")
    r = run_ct(["index", "--import", str(folder)], env=ct_env)
    assert r.returncode == 20 and r.stderr.count("\n") == 1
    assert "will not open in CodeTracer: no meta.dat" in r.stderr
    assert _json(ct_env, "list", "--json") == []


def test_rebuild_finds_trace_ct_folders(ct_env, tmp_path):
    folder = Path(ct_env["CODETRACER_DATA_DIR"]) / "traces" / "upstream"
    folder.mkdir(parents=True)
    shutil.copy(UPSTREAM, folder / "trace.ct")
    r = run_ct(["index", "--rebuild"], env=ct_env)
    assert r.returncode == 0, r.stderr
    [row] = _json(ct_env, "list", "--json")
    assert row["trace_dir"] == str(folder.absolute()) and row["steps"] == 84


def test_importer_is_complete_for_either_layout(tmp_path):
    from ct import importer

    folder = tmp_path / "t"
    folder.mkdir()
    (folder / "trace.ct").write_bytes(cb.split_trace())
    assert not importer.is_complete(folder)  # no sidecar: not a finished recording of ours
    (folder / "trace_metadata.json").write_text(json.dumps({"format": "ctfs", "partial": False}))
    meta = importer.read_metadata(folder)
    assert meta["program"] == "/w/app.py"  # from meta.dat
    assert importer.is_complete(folder, meta)
    (folder / "trace.ct").write_bytes(cb.split_trace(drop=("meta.dat",)))
    assert not importer.is_complete(folder)


def test_ct_record_writes_a_trace_ct_that_opens(ct_env, tmp_path, recorder_py):
    prog = tmp_path / "prog.py"
    prog.write_text("def f(x):\n    return x * 2\n\nfor i in range(5):\n    print(f(i))\n"
                    "try:\n    1 / 0\nexcept ZeroDivisionError:\n    pass\n")
    env = dict(ct_env, CODETRACER_PYTHON_INTERPRETER=recorder_py)
    out = tmp_path / "out"
    r = run_ct(["record", "-o", str(out), str(prog), "x"], env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    if not (out / "trace.ct").is_file():
        pytest.skip(f"the installed recorder still writes {sorted(p.name for p in out.iterdir())}"
                    ", not trace.ct")
    with ctfs.open_trace(out) as trace:
        assert trace.meta.program == str(prog) and trace.meta.args == ["x"]
        assert str(prog) in trace.meta.paths
        steps, calls = trace.steps(), trace.calls()
        assert steps > 0 and calls >= 5
        assert trace.function_calls()["f"] == 5
    meta = json.loads((out / "trace_metadata.json").read_text())
    assert meta.get("format") == "ctfs"
    [row] = _json(ct_env, "list", "--json")
    assert row["program"] == str(prog) and row["args"] == ["x"] and row["exit_status"] == 0
    assert row["steps"] and row["calls"] >= 5
    assert (out / "files" / str(prog).lstrip("/")).is_file()
    info = _json(ct_env, "show", "latest", "--json")
    assert info["container"]["opens"] is True
    assert any(f["name"] == "f" and f["calls"] == 5 for f in info["top_functions"])
    if Path("/work/shared/tools/ctfs_read.py").is_file():  # the independent reader agrees
        doc = json.loads(subprocess.run(
            [sys.executable, "/work/shared/tools/ctfs_read.py", str(out / "trace.ct"), "--json"],
            capture_output=True, text=True, check=True).stdout)
        assert doc["db_backend"]["opens"] is True
        assert len(doc["split_streams"]["steps"]["records"]) == steps


def test_json_block_scan_agrees_and_show_caches_the_ranking(tmp_path, monkeypatch):
    """The block scan over the recorder's compact trace.json agrees with a full decode, and
    the ranking of a big trace is kept in ct_summary.json until the trace changes."""
    from ct import summary

    folder = tmp_path / "j"
    folder.mkdir()
    events = [{"Path": "/w/a.py"}] + [
        {"Function": {"path_id": 0, "line": i, "name": f"f{i}"}} for i in range(200)]
    for i in range(3000):
        events += [{"Call": {"function_id": (i * 7) % 200 if i % 3 else 150, "args": []}},
                   {"Step": {"path_id": 0, "line": 1}},
                   {"Value": {"variable_id": 0, "value": {"kind": "String", "text": "x\ny"}}},
                   {"Return": {"return_value": {"kind": "None", "type_id": 0}}}]
    text = "[\n" + ",\n".join(json.dumps(e, separators=(",", ":")) for e in events) + "\n]\n"
    (folder / "trace.json").write_text(text)
    monkeypatch.setattr(summary, "SMALL_TRACE_BYTES", 0)
    monkeypatch.setattr(summary, "BLOCK_BYTES", 4096)  # many blocks, lines cut across them
    fast = summary.Summary()
    assert summary._scan_blocks(folder / "trace.json", fast)
    whole = summary.Summary()
    for e in events:
        whole.add(e)
    assert fast.stats() == whole.stats()
    assert fast.top_functions(["/w/a.py"], 5) == whole.top_functions(["/w/a.py"], 5)
    # a spaced layout is not the compact one: the block scan declines, nothing half-counted
    spaced = folder / "spaced.json"
    spaced.write_text("[\n" + ",\n".join(json.dumps(e) for e in events) + "\n]\n")
    declined = summary.Summary()
    assert not summary._scan_blocks(spaced, declined) and not declined.calls

    top = summary.top_functions(folder, ["/w/a.py"], 3)
    assert top == whole.top_functions(["/w/a.py"], 3) and top[0]["name"] == "f150"
    cached = json.loads((folder / summary.CACHE).read_text())
    assert cached["top_functions"] == top
    cached["top_functions"][0]["calls"] = -1  # served from the cache while the trace is the same
    (folder / summary.CACHE).write_text(json.dumps(cached))
    assert summary.top_functions(folder, ["/w/a.py"], 3)[0]["calls"] == -1
    with (folder / "trace.json").open("a") as fh:
        fh.write("\n")  # the trace changed: scanned again
    assert summary.top_functions(folder, ["/w/a.py"], 3) == top
