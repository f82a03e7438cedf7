"""The sqlite index through the real ``ct`` command: import, list, show, concurrency,
migration and corruption handling. Trace folders are made by ``make_trace`` (no recorder)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

from ct_helpers import (
    ct_cmd,
    ct_env_fixture,  # noqa: F401 (pytest fixtures)
    make_trace,
    run_ct,
)

from ct.index import MIGRATIONS, SCHEMA_VERSION

ODD_ARGS = ["--format", "json", "-o", "x y", "", "ünïcödé", '"quoted"', "a,b", "[1]", "--", "-m"]


def _list(env) -> list[dict]:
    r = run_ct(["list", "--json"], env=env)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_import_list_show_args_round_trip(ct_env, tmp_path):
    src = tmp_path / "app.py"
    src.write_text("def helper():\n    pass\n")
    folder = make_trace(tmp_path / "t1", program=str(src), args=ODD_ARGS, source=src,
                        calls={"<module>": 1, "helper": 5, "other": 2})
    r = run_ct(["index", "--import", str(folder)], env=ct_env)
    assert r.returncode == 0, r.stderr
    rows = _list(ct_env)
    assert len(rows) == 1
    row = rows[0]
    assert row["args"] == ODD_ARGS
    assert row["program"] == str(src)
    assert (row["steps"], row["calls"], row["exit_status"]) == (8, 8, 0)
    assert row["size_bytes"] > 0 and isinstance(row["id"], int)
    # The source was copied into files/ so the trace survives source edits.
    copied = folder / "files" / str(src).lstrip("/")
    assert copied.read_text() == src.read_text()

    r = run_ct(["show", "latest", "--json"], env=ct_env)
    info = json.loads(r.stdout)
    assert info["id"] == row["id"]
    assert [(f["name"], f["calls"]) for f in info["top_functions"]] == [("helper", 5), ("other", 2), ("<module>", 1)]
    assert info["exceptions"] == 1
    r = run_ct(["show", str(row["id"])], env=ct_env)
    assert r.returncode == 0 and "helper" in r.stdout and "exit status" in r.stdout
    r = run_ct(["list"], env=ct_env)
    assert "--format json -o 'x y'" in r.stdout


def test_counts_computed_when_metadata_has_no_stats(ct_env, tmp_path):
    folder = make_trace(tmp_path / "t", with_stats=False, calls={"f": 4})
    assert run_ct(["index", "--import", str(folder)], env=ct_env).returncode == 0
    row = _list(ct_env)[0]
    assert (row["steps"], row["calls"]) == (4, 4)
    assert row["events"] == 1 + 1 + 1 + 4 * 3


def test_newest_first_and_reimport_does_not_duplicate(ct_env, tmp_path):
    a = make_trace(tmp_path / "a", program="/x/a.py", started_at="2026-01-01T00:00:00Z")
    b = make_trace(tmp_path / "b", program="/x/b.py", started_at="2026-06-01T00:00:00Z")
    assert run_ct(["index", "--import", str(a), str(b)], env=ct_env).returncode == 0
    assert run_ct(["index", "--import", str(a)], env=ct_env).returncode == 0
    assert [r["program"] for r in _list(ct_env)] == ["/x/b.py", "/x/a.py"]


def test_not_a_trace_folder(ct_env, tmp_path):
    (tmp_path / "empty").mkdir()
    r = run_ct(["index", "--import", str(tmp_path / "empty")], env=ct_env)
    assert r.returncode == 20 and "not a trace folder" in r.stderr


def test_eight_concurrent_imports_all_land(ct_env, tmp_path):
    folders = [make_trace(tmp_path / f"t{i}", program=f"/p/{i}.py", args=[str(i)]) for i in range(8)]
    procs = [subprocess.Popen(ct_cmd("index", "--import", str(f)), env=ct_env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for f in folders]
    for p in procs:
        _out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    rows = _list(ct_env)
    assert sorted(r["args"][0] for r in rows) == [str(i) for i in range(8)]
    assert len({r["id"] for r in rows}) == 8
    db = sqlite3.connect(Path(ct_env["CODETRACER_DATA_DIR"]) / "trace_index.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_migration_from_schema_1(ct_env, tmp_path):
    data = Path(ct_env["CODETRACER_DATA_DIR"])
    data.mkdir(parents=True)
    db = sqlite3.connect(data / "trace_index.db")
    db.executescript(MIGRATIONS[0])
    db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    db.execute("INSERT INTO schema_version VALUES (1)")
    db.execute("INSERT INTO traces (program, args, workdir, trace_dir, recorded_at, exit_status) "
               "VALUES ('/old/app.py', '[\"--x\"]', '/old', '/old/trace', '2025-01-01T00:00:00Z', 3)")
    db.commit()
    db.close()
    rows = _list(ct_env)
    assert len(rows) == 1
    assert rows[0]["program"] == "/old/app.py" and rows[0]["args"] == ["--x"] and rows[0]["exit_status"] == 3
    assert rows[0]["language"] == "python" and rows[0]["steps"] is None
    db = sqlite3.connect(data / "trace_index.db")
    assert db.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    cols = {r[1] for r in db.execute("PRAGMA table_info(traces)")}
    assert {"size_bytes", "interpreter", "partial"} <= cols
    idx = {r[1] for r in db.execute("PRAGMA index_list(traces)")}
    assert {"traces_program", "traces_recorded_at"} <= idx
    # New imports work on the migrated db.
    folder = make_trace(tmp_path / "new")
    assert run_ct(["index", "--import", str(folder)], env=ct_env).returncode == 0
    assert len(_list(ct_env)) == 2


def test_newer_schema_is_refused(ct_env):
    data = Path(ct_env["CODETRACER_DATA_DIR"])
    data.mkdir(parents=True)
    db = sqlite3.connect(data / "trace_index.db")
    db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    db.execute("INSERT INTO schema_version VALUES (99)")
    db.commit()
    db.close()
    r = run_ct(["list"], env=ct_env)
    assert r.returncode == 10 and "schema version 99" in r.stderr and "upgrade ct" in r.stderr


def test_corrupt_index_reports_and_rebuild_recovers(ct_env, tmp_path):
    data = Path(ct_env["CODETRACER_DATA_DIR"])
    traces = data / "traces"
    make_trace(traces / "20261123T000000Z-aaaa", program="/p/one.py", args=["1"])
    make_trace(traces / "20261123T000001Z-bbbb", program="/p/two.py", args=["2"])
    garbage = b"this is not an sqlite database" * 100
    (data / "trace_index.db").write_bytes(garbage)
    r = run_ct(["list"], env=ct_env)
    assert r.returncode == 10
    assert r.stderr.count("\n") == 1
    assert "corrupt" in r.stderr and "ct index --rebuild" in r.stderr
    assert (data / "trace_index.db").read_bytes() == garbage  # untouched
    r = run_ct(["index", "--rebuild"], env=ct_env)
    assert r.returncode == 0, r.stderr
    aside = list(data.glob("trace_index.db.broken-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == garbage  # kept, never deleted
    assert sorted(r["program"] for r in _list(ct_env)) == ["/p/one.py", "/p/two.py"]


def test_rebuild_keeps_folders_outside_the_data_dir(ct_env, tmp_path):
    outside = make_trace(tmp_path / "elsewhere", program="/p/out.py")
    assert run_ct(["index", "--import", str(outside)], env=ct_env).returncode == 0
    assert run_ct(["index", "--rebuild"], env=ct_env).returncode == 0
    assert [r["program"] for r in _list(ct_env)] == ["/p/out.py"]


def test_locked_index_is_reported_not_lost(ct_env, tmp_path):
    folder = make_trace(tmp_path / "t")
    assert run_ct(["list"], env=ct_env).returncode == 0  # create it
    db = sqlite3.connect(Path(ct_env["CODETRACER_DATA_DIR"]) / "trace_index.db", isolation_level=None)
    db.execute("BEGIN EXCLUSIVE")
    try:
        ct_env["CODETRACER_INDEX_TIMEOUT"] = "0.5"
        r = run_ct(["index", "--import", str(folder)], env=ct_env)
    finally:
        db.execute("ROLLBACK")
        db.close()
    assert r.returncode == 10 and "locked" in r.stderr and "retry" in r.stderr
    assert run_ct(["index", "--import", str(folder)], env=ct_env).returncode == 0
    assert len(_list(ct_env)) == 1


def test_summary_streams_large_traces(tmp_path):
    """Above the small-file threshold the line scanner is used; it must agree with json."""
    from ct import summary as summod

    folder = make_trace(tmp_path / "t", calls={"a": 3, "b": 9})
    whole = summod.summarize(folder)
    old = summod.SMALL_TRACE_BYTES
    summod.SMALL_TRACE_BYTES = 0
    try:
        streamed = summod.summarize(folder)
    finally:
        summod.SMALL_TRACE_BYTES = old
    assert streamed.stats() == whole.stats()
    assert streamed.top_functions(["p"]) == whole.top_functions(["p"])
    assert whole.top_functions(["p"])[0] == {"name": "b", "path": "p", "line": 2, "calls": 9}


def test_partial_traces_are_indexed_and_flagged(ct_env, tmp_path):
    folder = make_trace(tmp_path / "p", program="/p/partial.py", exit_status=1, partial=True)
    assert run_ct(["index", "--import", str(folder)], env=ct_env).returncode == 0
    row = _list(ct_env)[0]
    assert row["partial"] is True
    assert " 1*" in run_ct(["list"], env=ct_env).stdout
