"""``ct captures`` on a folder of hand-written captures of each kind: the order, the columns,
``--json`` rows with the same keys for every kind, files that are not captures, and its
one-line errors."""

from __future__ import annotations

import json

from integrations_support import app_env, run_ct


def _capture(kind: str, started_at: float, **fields) -> dict:
    return {"format": "codetracer-capture", "version": 1, "kind": kind, "id": f"{kind}1",
            "started_at": started_at, "duration": 0.0125, "exception": None, "deps": [],
            **fields}


def _write(folder, name: str, data) -> None:
    (folder / name).write_text(data if isinstance(data, str) else json.dumps(data))


def test_lists_every_kind_oldest_first(tmp_path):
    _write(tmp_path, "b.json", _capture(
        "request", 200.0, request={"method": "GET", "path": "/items/3", "route": "/items/{id}"},
        response={"status": 500}, deps=[{"seq": 1}, {"seq": 2}],
        exception={"type": "builtins:ValueError", "message": "x", "traceback": ""}))
    _write(tmp_path, "a.json", _capture("startup", 100.0, outcome="success", deps=[{"seq": 1}]))
    _write(tmp_path, "c.json", _capture("task", 300.0, task={"name": "tasks.total"},
                                        outcome="failure"))
    _write(tmp_path, "notes.json", {"not": "a capture"})
    _write(tmp_path, "broken.json", "{")
    done = run_ct(["captures", str(tmp_path), "--json"], env=app_env(), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [r["kind"] for r in rows] == ["startup", "request", "task"]
    assert len({tuple(sorted(r)) for r in rows}) == 1  # the same keys in every row
    startup, request, task = rows
    assert (startup["target"], startup["result"], startup["deps"]) == ("start-up", "success", 1)
    assert (request["target"], request["status"], request["path"], request["deps"]) == (
        "GET /items/{id}", 500, "/items/3", 2)
    assert request["result"] == "500 (ValueError)" and request["outcome"] is None
    assert (task["target"], task["outcome"], task["status"]) == ("tasks.total", "failure", None)
    table = run_ct(["captures", str(tmp_path)], env=app_env(), cwd=tmp_path).stdout.splitlines()
    assert table[0].split() == ["TIME", "KIND", "TARGET", "RESULT", "DURATION", "DEPS", "FILE"]
    assert [line.split()[2] for line in table[1:]] == ["startup", "request", "task"]
    assert "12.5 ms" in table[2] and table[2].endswith("b.json")


def test_an_empty_folder_and_the_environment_default(tmp_path):
    done = run_ct(["captures"], env=app_env(CODETRACER_CAPTURE_DIR=tmp_path), cwd=tmp_path.parent)
    assert done.returncode == 0 and done.stdout.startswith(f"no captures in {tmp_path}")
    done = run_ct(["captures", "--json"], env=app_env(CODETRACER_CAPTURE_DIR=tmp_path))
    assert done.returncode == 0 and json.loads(done.stdout) == []


def test_one_line_errors(tmp_path):
    done = run_ct(["captures", str(tmp_path / "missing")], env=app_env())
    assert done.returncode == 20
    assert done.stderr.strip().splitlines() == [
        f"ct: captures: {tmp_path / 'missing'} is not a directory; pass the folder the "
        "middleware writes to (CODETRACER_CAPTURE_DIR)"]
    done = run_ct(["captures", "--bogus"], env=app_env())
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "ct: captures: unrecognized arguments: --bogus; usage: ct captures [DIR] [--json]"]
